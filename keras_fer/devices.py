"""What the Keras backend runs on: one place that asks the backend for its accelerator, and
whether TensorFlow is here for what needs it (export, release)."""
import glob
import math
import os
import platform
import subprocess
import sys


def accelerator_name():
    """The name of the backend's first GPU (e.g. "NVIDIA H100 80GB HBM3"), or None on a CPU.

    A broken driver counts as no accelerator.
    """
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            gpus = [d for d in jax.devices() if d.platform == "gpu"]
            return gpus[0].device_kind if gpus else None
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if not gpus:
                return None
            return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
        if backend == "torch":
            import torch

            return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:
        return None
    return None


def backend_devices() -> list:
    """The devices the backend trains on: its GPUs (or TPUs), else its CPUs, each as a name.

    Under JAX these are every process's devices once ``keras.distribution.initialize()`` has
    joined several hosts (``jax.devices()``); under TensorFlow the logical devices of this process
    (``tf.config.list_logical_devices``). Other backends: one device.
    """
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return [f"{d.platform}:{d.id}" for d in jax.devices()]
    if backend == "tensorflow":
        import tensorflow as tf

        found = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return [d.name for d in found]
    return [backend]


# CPU flags (Linux's names) of bfloat16 arithmetic in hardware: x86's AVX512_BF16 and AMX, Arm's BF16
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_flags(path="/proc/cpuinfo") -> frozenset:
    """The CPU's feature flags as Linux lists them ("flags" on x86, "Features" on Arm); empty
    where there is no such file (macOS, Windows)."""
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def bfloat16_native() -> bool:
    """Whether this machine computes bfloat16 in hardware: a CPU with one of ``BF16_FLAGS``, or
    an NVIDIA GPU or TPU device node (checked without importing a backend). Elsewhere bfloat16 is
    emulated in software on the CPU, which trains several times slower than float32."""
    return bool(cpu_flags() & BF16_FLAGS) or bool(glob.glob("/dev/nvidia[0-9]*")
                                                  or glob.glob("/dev/accel[0-9]*"))


def native_precision(cfg):
    """``(cfg, note)``: a TrainConfig asking for ``mixed_precision`` on a machine that would
    emulate bfloat16 (``bfloat16_native``) comes back with it off and a line saying why;
    otherwise ``(cfg, None)``. Mixed precision is a speed setting: where it is slower, float32
    is what it asked for. Measured on a 2-core AMD EPYC (Zen 2, AVX2 only; ``python -m
    keras_fer.bench --models vgg13 --precision float32,mixed``): bfloat16 trained 7.8x slower."""
    if not cfg.mixed_precision or bfloat16_native():
        return cfg, None
    return cfg.replace(mixed_precision=False), (
        "note: training in float32, not mixed bfloat16: this CPU has no bfloat16 instructions "
        "(AVX512_BF16, AMX) and no GPU was found, and emulated bfloat16 trains several times "
        "slower")


def device_name() -> str:
    """The accelerator's name, or a description of the CPU."""
    return accelerator_name() or f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def on_device(array):
    """Under JAX, put ``array`` on the accelerator once, so that ``fit`` slices batches there
    instead of copying each batch from the host (FER2013 as uint8 is 83 MB). Elsewhere: as is."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.device_put(array)
    return array


def tf_batches(arrays, batch_size, *, seed=None, epochs=None):
    """``arrays`` (a nest of arrays of one length) as a ``tf.data`` pipeline of batches, with
    tf.data's autotuning off.

    Why not Keras' own pipeline of arrays: it autotunes, and an autotuned iterator runs a model
    thread that the iterator's destructor waits for, up to 60 s, with every core idle; Keras
    makes and drops one iterator per epoch for training and one for validation. Measured on
    the 2-core machine (recipes/cpu_long_150.json): 54 s of compute per epoch took 80 to 115 s.

    seed None: one pass in order (validation). Otherwise ``epochs=(first, last)``: epoch ``e``
    in the order of a permutation drawn from ``(seed, e)``, all epochs from one iterator (give
    ``fit`` ``steps_per_epoch``), so a resumed run sees the same batches as an uninterrupted one.
    """
    import tensorflow as tf

    tensors = tf.nest.map_structure(tf.convert_to_tensor, arrays)
    n = int(tf.nest.flatten(tensors)[0].shape[0])
    if seed is None:
        indices = tf.data.Dataset.range(n).batch(batch_size)
    else:
        def epoch(e):
            key = tf.stack([tf.constant(int(seed), tf.int64), e])
            order = tf.argsort(tf.random.stateless_uniform([n], seed=key))
            return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

        first, last = epochs
        indices = tf.data.Dataset.range(first, last).flat_map(epoch)
    batches = indices.map(lambda idx: tf.nest.map_structure(lambda t: tf.gather(t, idx), tensors))
    options = tf.data.Options()
    options.autotune.enabled = False
    return batches.with_options(options).prefetch(1)


def tf_fit_args(x, y, batch_size, seed, epochs, validation_data=None,
                validation_batch_size=None) -> dict:
    """``fit``'s data arguments on TensorFlow for in-memory arrays: ``(x, y)`` as ``tf_batches``
    over ``epochs=(first, last)`` with ``steps_per_epoch``, ``validation_data`` (a tuple as
    ``fit`` takes it) as one pass in order."""
    args = {"x": tf_batches((x, y), batch_size, seed=seed, epochs=epochs),
            "steps_per_epoch": math.ceil(len(y) / batch_size), "shuffle": False}
    if validation_data is not None:
        args["validation_data"] = tf_batches(tuple(validation_data),
                                             validation_batch_size or batch_size)
    return args


def tensorflow_installed() -> bool:
    """Whether TensorFlow can be imported here, without importing it (the GPU machine has JAX
    only; export and release need TensorFlow)."""
    import importlib.util

    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


def under_tensorflow(module, argv) -> int:
    """Run ``python -m module argv`` again under the TensorFlow backend (export needs it; a
    model.keras is backend-independent) and return its exit code."""
    from keras_fer.errors import UserError

    if not tensorflow_installed():
        raise UserError(f"{module} needs TensorFlow, which is not installed here (the run "
                        "directory is backend-independent: run it on a machine with TensorFlow)")
    print(f"keras backend is not tensorflow: running {module} under TensorFlow in a subprocess "
          "(model.keras is backend-independent)", flush=True)
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    return subprocess.run([sys.executable, "-m", module, *argv], env=env).returncode
