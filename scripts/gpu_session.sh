#!/bin/bash
# keras_fer on the device tool's GPU machine (JAX and PyTorch, no TensorFlow, no Keras; see
# ../shared/bench/H100.md), results under $OUT. A task that is lent the machine has 15 minutes of
# device time in all, its start (a minute or more) included, and one command may run 10 minutes:
# plan ONE call of `all`, which fits the command's limit by itself.
#
# Here, once (both folders are ignored by git and travel with `carry`):
#   bash ../shared/bench/prepare-wheels.sh            # Keras + KerasTuner wheels -> .whl/
#   mkdir -p .gpu && cp ../shared/datasets/fer2013.zip ../shared/bench/*.py .gpu/
# Then the device call: carry [".whl", ".gpu"], timeout_s 600, and one of
#   bash scripts/gpu_session.sh all [RECIPE]    # train + evaluate (all but BENCH_SECONDS=150 of
#                                               # BUDGET=570 s), then bench BENCH_MODELS=vgg19
#                                               # in mixed precision on what is left
#   bash scripts/gpu_session.sh train [RECIPE]  # default recipes/best.json: train, then evaluate
#                                               # with and without ten-crop
#   bash scripts/gpu_session.sh bench [MODELS]  # float32 and mixed, augmentation off and on, and
#                                               # the PyTorch peer on vgg19 / baseline
#   bash scripts/gpu_session.sh experiment experiments/NAME.json...   # each study in BUDGET;
#                                               # NAME.log and NAME.tgz (its results folder)
# $OUT takes at most 8 files of 16 MB: train returns train.log, run.tgz (the run directory
# without model.keras) and model.keras in 15 MB parts (cat model.keras.part-* > model.keras);
# bench returns bench.log and bench.jsonl (its JSON lines). That is 7 files for a model.keras
# of up to 60 MB (VGG13: 38 MB). A step cut off by the budget still returns its log
# and what its run directory holds (history.csv: how far it got).
# Back here: put the run directory together under runs/, then `python -m keras_fer.release`.
# DEVICES= (default all) trains data-parallel over that many GPUs (keras_fer.distribute: the
# recipe's batch is the global batch) and benches each case on 1 and on DEVICES GPUs, with the
# img/s per device and the scaling efficiency; on a one-GPU loan both are the single-device
# recipe and benchmark. train.log says the device count ("data-parallel over N devices" or
# "1 device"), meta.json (in run.tgz) and every bench line ("devices") record it.
# SMOKE=1 runs every step tiny and without the peer (tests/test_gpu_session.py, on a CPU);
# RUN_DIR= moves the run directory (default runs/gpu_run), RESULTS= the studies' results
# (default runs/gpu_results; back here they unpack into experiments/results/).
set -uo pipefail
cd "$(dirname "$0")/.."
USAGE="usage: bash scripts/gpu_session.sh all [RECIPE] | train [RECIPE] | bench [MODELS] | experiment FILE.json..."
case "${1:-}" in  # a wrong step is told before anything is installed or imported
  all|train|bench|experiment) ;;
  *) echo "$USAGE" >&2; exit 2 ;;
esac
START=$(date +%s)
BUDGET=${BUDGET:-570}
OUT=${OUT:-/tmp/keras_fer_gpu}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
# the GPU machine: install the carried wheels (found, not imported: an import costs seconds)
if ! $PY -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('keras') is None)"; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's keras_fer
DATA=${DATA:-.gpu/fer2013.zip}
case "$DATA" in  # where the peer's ferdata.py reads FER2013
  /*) export FER2013_SRC="$DATA" ;;
  *) export FER2013_SRC="$PWD/$DATA" ;;
esac
SMOKE=${SMOKE:-}
RESULTS=${RESULTS:-runs/gpu_results}
DEVICES=${DEVICES:-all}
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv 2>/dev/null
echo "DEVICES=$DEVICES"

left() {  # seconds of BUDGET left less $1, at least 1 (`timeout 0` would mean no limit)
  local s=$(( BUDGET - ($(date +%s) - START) - ${1:-0} ))
  echo $(( s > 1 ? s : 1 ))
}

bench() {  # bench MODELS [ARGS...]: within what is left of BUDGET
  local models=$1 args
  shift
  if [ -n "$SMOKE" ]; then
    args=(--limit 512 --steps 2 --precision float32 --augment on)
  else
    args=(--peer .gpu/peer_torch.py "$@")
  fi
  timeout "$(left 5)" $PY -m keras_fer.bench --data "$DATA" --models "$models" \
    --devices "1,$DEVICES" "${args[@]}" 2>&1 | tee "$OUT/bench.log"
  local rc=$?
  grep '^{' "$OUT/bench.log" > "$OUT/bench.jsonl"  # every case, the augmentation ratios, the peer
  return $rc
}

train() {  # train RECIPE RESERVE: training and both evaluations end RESERVE seconds before BUDGET
  local recipe=$1 run=${RUN_DIR:-runs/gpu_run} args=() rc
  [ -n "$SMOKE" ] && args=(--limit 256 --epochs 1 --batch-size 64)
  {
    local t0=$(date +%s)
    timeout "$(left "$2")" $PY -m keras_fer.train --config "$recipe" --data "$DATA" --out "$run" \
      --devices "$DEVICES" "${args[@]}"
    rc=$?
    echo "wall seconds, training: $(( $(date +%s) - t0 )) (exit $rc)"
    if [ $rc -eq 0 ]; then  # both reports in one process: one start-up and data load
      timeout "$(left "$2")" $PY -m keras_fer.evaluate "$run" --data "$DATA" \
        --split PublicTest,PrivateTest --tta none,tencrop || rc=$?
    fi
    exit $rc
  } 2>&1 | tee "$OUT/train.log"
  rc=$?
  [ -d "$run" ] && tar -czf "$OUT/run.tgz" --exclude=model.keras --exclude=ckpt --exclude=logs \
    -C "$(dirname "$run")" "$(basename "$run")"
  [ -f "$run/model.keras" ] && split -b 15m "$run/model.keras" "$OUT/model.keras.part-"
  return $rc
}

experiment() {  # experiment FILE...: each study in turn within BUDGET; its results (no runs/) as NAME.tgz
  local file name rc=0 args=()
  [ -n "$SMOKE" ] && args=(--limit 14 --epochs 1)
  for file in "$@"; do
    name=$(basename "$file" .json)
    timeout "$(left 5)" $PY -m keras_fer.experiments run "$file" --data "$DATA" \
      --out "$RESULTS/$name" --devices "$DEVICES" "${args[@]}" 2>&1 | tee "$OUT/$name.log" || rc=$?
    [ -d "$RESULTS/$name" ] && tar -czf "$OUT/$name.tgz" --exclude=runs -C "$RESULTS" "$name"
  done
  return $rc
}

case "${1:-}" in
  bench)
    BUDGET=100000 bench "${2:-baseline,vgg19,resnet18}"   # float32 and mixed, augmentation off and on
    ;;
  train)
    BUDGET=100000 train "${2:-recipes/best.json}" 0
    ;;
  all)  # the training first (it is the longer and matters most), then the benchmark on what is left
    train "${2:-recipes/best.json}" "${BENCH_SECONDS:-150}"
    rc=$?
    bench "${BENCH_MODELS:-vgg19}" --precision mixed || rc=$?
    exit $rc
    ;;
  experiment)
    shift
    [ $# -gt 0 ] || { echo "usage: bash scripts/gpu_session.sh experiment FILE.json..." >&2; exit 2; }
    experiment "$@"
    ;;
  *)
    echo "$USAGE" >&2
    exit 2
    ;;
esac
