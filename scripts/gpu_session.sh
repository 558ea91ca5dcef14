#!/bin/bash
# keras_fer on the device tool's GPU machine (JAX and PyTorch, no TensorFlow, no Keras; see
# ../shared/bench/H100.md), in calls of under 10 minutes each, results under $OUT.
#
# Here, once (both folders are ignored by git and travel with `carry`):
#   bash ../shared/bench/prepare-wheels.sh            # Keras + KerasTuner wheels -> .whl/
#   mkdir -p .gpu && cp ../shared/datasets/fer2013.zip ../shared/bench/*.py .gpu/
# Then each device call: carry [".whl", ".gpu"] and one of
#   bash scripts/gpu_session.sh bench vgg19            # its 4 cases + the PyTorch peer on vgg19 and baseline
#   bash scripts/gpu_session.sh bench baseline,resnet18
#   bash scripts/gpu_session.sh train [recipes/best.json]   # train, then evaluate with and without ten-crop
# $OUT takes at most 8 files of 16 MB: train returns train.log, run.tgz (the run directory
# without model.keras) and model.keras in 15 MB parts (cat model.keras.part-* > model.keras).
# Back here: put the run directory together under runs/, then `python -m keras_fer.release`.
# SMOKE=1 runs every step tiny and without the peer (tests/test_gpu_session.py, on a CPU);
# RUN_DIR= moves the run directory (default runs/gpu_run).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/keras_fer_gpu}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
if ! $PY -c "import keras" 2>/dev/null; then  # the GPU machine: install the carried wheels
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's keras_fer
DATA=${DATA:-.gpu/fer2013.zip}
case "$DATA" in  # where the peer's ferdata.py reads FER2013
  /*) export FER2013_SRC="$DATA" ;;
  *) export FER2013_SRC="$PWD/$DATA" ;;
esac
SMOKE=${SMOKE:-}
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv 2>/dev/null | tee "$OUT/gpu.txt" || true

case "${1:-}" in
  bench)
    models=${2:-baseline,vgg19,resnet18}
    if [ -n "$SMOKE" ]; then
      args=(--limit 512 --steps 2 --precision float32 --augment on)
    else
      args=(--peer .gpu/peer_torch.py)
    fi
    $PY -m keras_fer.bench --data "$DATA" --models "$models" --out "$OUT/bench.jsonl" "${args[@]}" \
      2>&1 | tee "$OUT/bench.log"
    ;;
  train)
    recipe=${2:-recipes/best.json}
    run=${RUN_DIR:-runs/gpu_run}
    args=()
    [ -n "$SMOKE" ] && args=(--limit 256 --epochs 1 --batch-size 64)
    start=$(date +%s)
    {
      $PY -m keras_fer.train --config "$recipe" --data "$DATA" --out "$run" "${args[@]}"
      echo "wall seconds, training: $(( $(date +%s) - start ))"
      for tta in none tencrop; do
        $PY -m keras_fer.evaluate "$run" --data "$DATA" --split PublicTest,PrivateTest --tta "$tta"
      done
    } 2>&1 | tee "$OUT/train.log"
    tar -czf "$OUT/run.tgz" --exclude=model.keras --exclude=ckpt --exclude=logs \
      -C "$(dirname "$run")" "$(basename "$run")"
    split -b 15m "$run/model.keras" "$OUT/model.keras.part-"
    ;;
  *)
    echo "usage: bash scripts/gpu_session.sh bench [MODELS] | train [RECIPE]" >&2
    exit 2
    ;;
esac
