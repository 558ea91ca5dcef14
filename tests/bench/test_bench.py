"""python -m keras_fer.bench on the CPU with random data (in-process main())."""
import json

import pytest

from keras_fer.bench import KEYS, full_augment, overheads
from keras_fer.bench.cli import main


def test_bench_prints_one_json_line_per_case(capsys, tmp_path):
    out = tmp_path / "bench.jsonl"
    code = main(["--synthetic", "256", "--models", "baseline", "--epochs", "2",
                 "--precision", "float32", "--augment", "off,on", "--out", str(out)])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    cases, ratio = lines[:2], lines[2:]
    assert [(c["model"], c["augment"], c["precision"]) for c in cases] == [
        ("baseline", "off", "float32"), ("baseline", "on", "float32")]
    for c in cases:
        assert tuple(c) == KEYS
        assert c["batch_size"] == 128 and c["images"] == 256  # epoch 2 only: 256 images
        assert c["seconds"] > 0 and c["img_per_s"] == pytest.approx(256 / c["seconds"], rel=0.01)
    assert ratio == [{"model": "baseline", "precision": "float32",
                      "augment_ratio": round(cases[1]["img_per_s"] / cases[0]["img_per_s"], 3)}]
    assert [json.loads(line) for line in out.read_text().splitlines()] == cases
    assert out.with_suffix(".png").stat().st_size > 1000
    assert "baseline" in out.with_suffix(".html").read_text()


def test_full_augment_crops_to_the_model_input():
    assert full_augment((44, 44))["crop"] == 44 and full_augment((44, 44))["pad"] == 0
    assert full_augment((48, 48))["pad"] == 4
    assert full_augment((224, 224))["crop"] is None
    rows = [{"model": "m", "precision": "float32", "augment": a, "img_per_s": v}
            for a, v in (("off", 200.0), ("on", 150.0))]
    assert overheads(rows) == [{"model": "m", "precision": "float32", "augment_ratio": 0.75}]


@pytest.mark.parametrize("argv, message", [
    (["--synthetic", "8", "--models", "nonet"], "unknown model 'nonet'"),
    (["--synthetic", "8", "--epochs", "1", "--models", "baseline"], "--epochs must be >= 2"),
    (["--precision", "float8"], "float8"),
    (["--synthetic", "0"], "--synthetic must be >= 1"),
])
def test_user_errors_exit_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_peer_line_and_ratio(tmp_path):
    from keras_fer.bench.core import peer_ratio, run_peer
    from keras_fer.errors import UserError

    script = tmp_path / "peer.py"
    script.write_text("import json, sys\nargs = sys.argv[1:]\n"
                      "print('loading'); print(json.dumps({'peer': 'torch-' + args[3], "
                      "'model': args[1], 'bs': int(args[5]), 'img_per_s': 100}))\n")
    peer = run_peer(script, "vgg19", batch_size=64)
    assert peer == {"peer": "torch-typical", "model": "vgg19", "bs": 64, "img_per_s": 100}
    results = [{"model": "vgg19", "augment": a, "img_per_s": v} for a, v in
               (("on", 250.0), ("on", 310.0), ("off", 900.0))]
    assert peer_ratio(peer, results) == {"peer": "torch-typical", "model": "vgg19",
                                         "peer_img_per_s": 100, "keras_img_per_s": 310.0,
                                         "keras_over_peer": 3.1}
    script.write_text("import sys\nsys.exit('no CUDA')\n")
    with pytest.raises(UserError, match="exit 1.*no CUDA"):
        run_peer(script, "vgg19")


def test_scaling_efficiency_is_img_per_s_on_n_over_n_times_on_one():
    from keras_fer.bench import scaling

    rows = [{"model": "m", "augment": "on", "precision": "mixed", "devices": n, "img_per_s": v,
             "img_per_s_per_device": v / n} for n, v in ((1, 100.0), (2, 180.0), (4, 300.0))]
    rows.append({**rows[1], "augment": "off"})  # no 1-device measurement of it: no line
    assert [(r["devices"], r["scaling_efficiency"], r["img_per_s_1_device"]) for r in
            scaling(rows)] == [(2, 0.9, 100.0), (4, 0.75, 100.0)]
