"""Data-parallel training on several devices (``TrainConfig.devices``, ``--devices N|all``), and
on several hosts, through the backends' own engines; nothing here schedules anything itself.

- JAX: ``keras.distribution.DataParallel`` over a mesh of the devices. The step is one SPMD
  program on the global batch: batch-norm statistics, the center loss, mixup and the metrics are
  those of the global batch, as on one device, and the random draws of the augmentation are the
  same as on one device.
- TensorFlow: ``tf.distribute.MirroredStrategy`` (Keras' distribution API does not serve the
  TensorFlow backend yet: its TensorFlow part is a prototype). One replica per device, each on
  its share of the batch; the gradients are summed, so each replica's loss is divided by their
  number (``per_replica_loss``). Batch-norm statistics are those of each replica's share.

``batch_size`` stays the global batch and must be a multiple of the number of devices (each
gets ``batch_size / devices`` images). Every batch must split evenly, the last one of an epoch
included (a JAX step cannot shard an odd batch over 2 devices; Keras' TensorFlow trainer builds
its model by averaging the replicas' first batches, which must then have one shape), so the
training images are cut to a multiple of the number of devices (a seeded choice leaves out at
most ``devices - 1`` of them) and the validation images are padded to one with copies of weight
0 (``val_arrays``: the metrics and the loss are those of the real images).

Several hosts (JAX only): every host runs the same command with the environment naming the
cluster (``KERAS_DISTRIBUTION_JOB_ADDRESSES``: the coordinator's ``host:port``,
``KERAS_DISTRIBUTION_NUM_PROCESSES``, ``KERAS_DISTRIBUTION_PROCESS_ID``); ``make_plan`` then calls
``keras.distribution.initialize()`` before JAX starts, and trains on every device of every host.
Each process feeds its own share of every global batch (``share``).

Example:
    >>> plan = make_plan(cfg.devices)
    >>> with plan.scope():
    ...     model = build_and_compile()
    ...     x, y = plan.share(*plan.trim(x, y, seed=0))
    ...     model.fit(x, y, batch_size=plan.process_batch(cfg.batch_size))
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

import numpy as np

from keras_fer.errors import UserError

JOB_ENV = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES",
           "KERAS_DISTRIBUTION_PROCESS_ID")
VAL_BATCH = 256  # validation images per step (in all), as on one device
ENGINES = {"jax": "keras.distribution.DataParallel", "tensorflow": "tf.distribute.MirroredStrategy"}
_joined = False  # keras.distribution.initialize() may run once per process
_engines = {}  # (backend, devices) -> its DataParallel or MirroredStrategy, made once


def check_setting(value, source="config") -> None:
    """UserError unless ``value`` is a number >= 1 or "all"."""
    if value == "all":
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{source}: devices must be a number >= 1 or \"all\", got {value!r}")


def parse_flag(text: str):
    """``--devices`` as given: "all" or a number >= 1."""
    if text == "all":
        return text
    try:
        value = int(text)
    except ValueError:
        value = text
    check_setting(value, "--devices")
    return value


def join_hosts() -> None:
    """``keras.distribution.initialize()`` once, when the environment names a cluster of hosts
    (``JOB_ENV``); it must come before JAX uses any device."""
    global _joined
    given = [v for v in JOB_ENV if os.environ.get(v)]
    if _joined or not given:
        return
    import keras

    if keras.backend.backend() != "jax":
        raise UserError(f"{given[0]} is set: training on several hosts needs KERAS_BACKEND=jax "
                        f"(the backend here is {keras.backend.backend()})")
    missing = [v for v in JOB_ENV if not os.environ.get(v)]
    if missing:
        raise UserError(f"{given[0]} is set but {missing[0]} is not (several hosts need all of "
                        f"{', '.join(JOB_ENV)})")
    for var in JOB_ENV[1:]:
        if not os.environ[var].isdigit():
            raise UserError(f"{var}: expected a whole number, got {os.environ[var]!r}")
    keras.distribution.initialize()
    _joined = True


@dataclass(frozen=True)
class Plan:
    """How one run uses the devices: ``kind`` "single" or "data_parallel".

    Args:
        kind: "single" (one device, no distribution) or "data_parallel".
        devices: model replicas in all (the devices of every process).
        processes: processes (hosts) taking part; ``process_id``: this one's index.
        engine: the ``keras.distribution.DataParallel`` or ``tf.distribute.MirroredStrategy``.
    """

    kind: str = "single"
    devices: int = 1
    processes: int = 1
    process_id: int = 0
    engine: object = field(default=None, compare=False, repr=False)

    @property
    def is_chief(self) -> bool:
        return self.process_id == 0

    @property
    def split_evenly(self) -> bool:
        """Whether every batch must split evenly across the devices."""
        return self.kind == "data_parallel"

    def scope(self):
        """Where the model, its optimizer and ``fit`` must live."""
        return self.engine.scope() if self.engine is not None else contextlib.nullcontext()

    def meta(self) -> dict:
        """What ``meta.json`` records: kind, engine, devices, processes."""
        return {"kind": self.kind, "engine": ENGINES.get(_backend()) if self.engine else None,
                "devices": self.devices, "processes": self.processes}

    def describe(self) -> str:
        if self.kind == "single":
            return "1 device"
        hosts = f" on {self.processes} hosts" if self.processes > 1 else ""
        return f"data-parallel over {self.devices} devices{hosts} ({self.meta()['engine']})"

    def check_batch(self, batch_size: int) -> None:
        if batch_size % self.devices:
            raise UserError(f"batch_size {batch_size} does not split across {self.devices} "
                            f"devices: use a multiple of {self.devices}")

    def process_batch(self, batch_size: int) -> int:
        """The images of a global batch that this process feeds."""
        return batch_size // self.processes

    def trim(self, x, y, seed=0):
        """The run's training images and labels: a multiple of ``devices`` of them (a seeded
        choice leaves out at most ``devices - 1``, the same on every host); on one device all."""
        if not self.split_evenly or len(y) % self.devices == 0:
            return x, y
        drop = np.random.default_rng(seed).choice(len(y), len(y) % self.devices, replace=False)
        keep = np.setdiff1d(np.arange(len(y)), drop)
        return x[keep], y[keep]

    def share(self, *arrays):
        """This process's rows (``process_id::processes``) of each array; all of them on one
        host."""
        if self.processes == 1:
            return arrays
        return tuple(a[self.process_id::self.processes] for a in arrays)

    def val_arrays(self, x, y):
        """``(x, y, sample_weight or None, batch_size)`` of this process's validation.

        On several devices the images are padded to a multiple of ``devices`` with copies of the
        first one of weight 0; the real ones weigh ``padded / real``: Keras averages the loss
        over every row, padding included, so this keeps the loss, and every metric (each a
        ratio of weighted counts), those of the real images (DACL's center loss aside: it sees
        the copies)."""
        batch = VAL_BATCH
        if not self.split_evenly:
            return x, y, None, batch
        batch = self.devices * max(1, round(VAL_BATCH / self.devices))
        pad = -len(y) % self.devices
        weights = None
        if pad:
            idx = np.concatenate([np.arange(len(y)), np.zeros(pad, dtype=np.int64)])
            weights = np.full(len(idx), (len(y) + pad) / len(y), dtype="float32")
            weights[len(y):] = 0.0
            x, y = x[idx], y[idx]
        x, y = self.share(x, y)
        weights = None if weights is None else self.share(weights)[0]
        return x, y, weights, self.process_batch(batch)


def _backend() -> str:
    import keras

    return keras.backend.backend()


def make_plan(devices=1) -> Plan:
    """The ``Plan`` of ``devices`` (a number or "all") on this backend; UserError when there
    are not that many devices, or when the backend cannot spread a step over several."""
    check_setting(devices, "devices")
    join_hosts()
    from keras_fer.devices import backend_devices

    backend = _backend()
    names = backend_devices()
    processes, process_id = _processes()
    n = len(names) if devices == "all" else int(devices)
    if n > len(names):
        raise UserError(f"devices {n}: the {backend} backend sees {len(names)} device(s) here "
                        f"({', '.join(names)})")
    if processes > 1 and n != len(names):
        raise UserError(f"devices {n}: on several hosts every device takes part (devices \"all\": "
                        f"{len(names)} over {processes} processes)")
    if n == 1:
        return Plan()
    if backend not in ENGINES:
        raise UserError(f"devices {n}: data-parallel training needs the jax or tensorflow "
                        f"backend, not {backend}")
    key = (backend, tuple(names[:n]))
    if key not in _engines:  # one per process: TensorFlow's strategies would share collective
        _engines[key] = _engine(backend, names[:n])  # keys and mix up their all-reduces
    return Plan("data_parallel", n, processes, process_id, _engines[key])


def _engine(backend, names):
    if backend == "jax":
        import keras

        # each process feeds its own share of every batch (Plan.share)
        return keras.distribution.DataParallel(devices=names, auto_shard_dataset=False)
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(devices=names)


def _processes():
    """``(processes, this process's index)``: JAX's after ``join_hosts``, else (1, 0)."""
    if _backend() == "jax" and _joined:
        import jax

        return jax.process_count(), jax.process_index()
    return 1, 0


def per_replica_loss(loss):
    """The loss one replica contributes: TensorFlow's MirroredStrategy sums the replicas'
    gradients, so each replica's loss is divided by their number, as Keras' own losses do
    (our training model computes its loss itself). Elsewhere: as is."""
    if _backend() != "tensorflow":
        return loss
    import tensorflow as tf

    n = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if n == 1 else loss * (1.0 / n)


def replica_index():
    """This replica's index (a tensor) inside a TensorFlow MirroredStrategy step over several
    devices, else None. There every replica reads the same random-generator state, so the
    augmentation offsets its seeds by it (``keras_fer.augment.ops.Seeds``); JAX draws once for
    the global batch."""
    if _backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context.replica_id_in_sync_group


def sum_over_replicas(*tensors):
    """The tensors summed over the replicas of a TensorFlow MirroredStrategy step (each replica
    sees only its share of the batch); elsewhere as they are (a JAX step sees the global batch)."""
    if replica_index() is None:
        return tensors
    import tensorflow as tf

    return tuple(tf.distribute.get_replica_context().all_reduce("sum", t) for t in tensors)
