"""``keras_fer.devices``' bfloat16 check: mixed precision is a speed setting, so a training that
asks for it on a machine that would emulate bfloat16 runs in float32 and says so."""
import json

import pytest

from keras_fer import devices
from keras_fer.config import TrainConfig

X86 = """processor\t: 0
vendor_id\t: AuthenticAMD
flags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16 avx512_vnni
processor\t: 1
flags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16 avx512_vnni
"""
ARM = "processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\nCPU implementer\t: 0x41\n"


def test_cpu_flags_are_read_from_x86_and_arm_cpuinfo(tmp_path):
    (tmp_path / "x86").write_text(X86)
    (tmp_path / "arm").write_text(ARM)
    assert devices.cpu_flags(tmp_path / "x86") == {"fpu", "sse2", "avx2", "fma", "avx512f",
                                                   "avx512_bf16", "avx512_vnni"}
    assert devices.cpu_flags(tmp_path / "arm") == {"fp", "asimd", "bf16", "i8mm"}
    assert devices.cpu_flags(tmp_path / "missing") == frozenset()


@pytest.mark.parametrize("flags, nodes, native", [
    ({"avx2", "fma"}, [], False),            # Zen 2, most laptops: emulated
    ({"avx2", "avx512_bf16"}, [], True),     # Zen 4, Cooper Lake
    ({"avx2", "amx_bf16"}, [], True),        # Sapphire Rapids
    ({"asimd", "bf16"}, [], True),           # Arm v8.6
    ({"avx2"}, ["/dev/nvidia0"], True),      # a GPU beside a CPU without it
    (set(), [], False),                      # no /proc/cpuinfo (macOS)
])
def test_bfloat16_is_native_on_those_cpus_and_gpus_only(monkeypatch, flags, nodes, native):
    monkeypatch.setattr(devices, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setattr(devices.glob, "glob", lambda pattern: [n for n in nodes
                                                                 if n.startswith(pattern[:11])])
    assert devices.bfloat16_native() is native


def test_mixed_precision_is_dropped_with_a_note_where_bfloat16_is_emulated(monkeypatch):
    asked = TrainConfig(mixed_precision=True, epochs=3)
    monkeypatch.setattr(devices, "bfloat16_native", lambda: False)
    cfg, note = devices.native_precision(asked)
    assert cfg == asked.replace(mixed_precision=False)
    assert note.startswith("note: training in float32, not mixed bfloat16: this CPU has no "
                           "bfloat16 instructions (AVX512_BF16, AMX)")
    assert devices.native_precision(cfg) == (cfg, None)
    monkeypatch.setattr(devices, "bfloat16_native", lambda: True)
    assert devices.native_precision(asked) == (asked, None)


def test_a_run_asking_for_mixed_precision_trains_and_records_float32(monkeypatch, tiny_data,
                                                                     tmp_path, capsys):
    from keras_fer import rundir
    from keras_fer.train import run

    monkeypatch.setattr(devices, "bfloat16_native", lambda: False)
    cfg = TrainConfig(model="baseline", epochs=1, batch_size=32, mixed_precision=True,
                      tensorboard=False, verbose=0, out=str(tmp_path / "run"))
    out = run(cfg, tiny_data)
    assert "note: training in float32, not mixed bfloat16" in capsys.readouterr().out
    assert json.loads((out / rundir.CONFIG_FILE).read_text())["mixed_precision"] is False
    model = rundir.load_model(out, float32=False)
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
