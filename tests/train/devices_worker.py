"""Training on several devices, in a process of its own: the devices must exist before the
backend starts. ``python tests/train/devices_worker.py DATA_DIR OUT_DIR CONFIG_JSON`` under
KERAS_BACKEND=jax (2 virtual CPU devices, ``XLA_FLAGS``) or tensorflow (2 logical CPU
devices); with KERAS_DISTRIBUTION_PROCESS_ID set it is one of several processes (hosts), each
with 1 CPU device.

Scenarios, on the same data and config (tiny CNN, SGD, no dropout):
  - "1" and "2": the run on 1 device and on 2 devices, with each step's loss;
  - "whole" and "resumed": 2 devices for 3 epochs of one step without augmentation, and the
    same killed after epoch 2, then run again (the resume);
  - with several processes, only "hosts": "whole" on every device of every process;
  - "center_loss": a net with DACL's center loss on 1 and on 2 devices; "replica_draws"
    (TensorFlow): what 2 replicas draw from one augmentation generator.
Writes OUT_DIR/result.json: each scenario's run directory, step losses, epochs run (and where
it was killed), and how many replicas held the model.
"""
import json
import os
import sys

if os.environ["KERAS_BACKEND"] == "jax":
    # as on the GPU machine, which has no TensorFlow: keras.utils.set_random_seed would start it
    # (5 CPU-seconds a process) only to seed it
    import runpy
    from pathlib import Path

    runpy.run_path(str(Path(__file__).parents[1] / "no_tensorflow.py"))["hide_tensorflow"]()
if "KERAS_DISTRIBUTION_PROCESS_ID" in os.environ:
    os.environ["JAX_PLATFORMS"] = "cpu"
elif os.environ["KERAS_BACKEND"] == "jax":
    os.environ["XLA_FLAGS"] = " ".join(filter(None, (os.environ.get("XLA_FLAGS"),
                                                     "--xla_force_host_platform_device_count=2")))
    os.environ["JAX_PLATFORMS"] = "cpu"
else:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_fer.config import TrainConfig  # noqa: E402
from keras_fer.data import load  # noqa: E402
from keras_fer.train import run  # noqa: E402


class Steps(keras.callbacks.Callback):
    """Each step's loss (Keras logs the epoch's running mean: undone here), the epochs that
    began, and how many replicas hold the model's first weight."""

    def __init__(self, kill_at=None):
        super().__init__()
        self.kill_at, self.losses, self.epochs, self.replicas = kill_at, [], [], None

    def on_train_begin(self, logs=None):
        self.replicas = replicas(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.kill_at:
            raise KeyboardInterrupt("killed")
        self.epochs.append(epoch)
        self._mean, self._n = 0.0, 0

    def on_train_batch_end(self, batch, logs=None):
        mean, self._n = float(logs["loss"]), self._n + 1
        self.losses.append(mean * self._n - self._mean * (self._n - 1))
        self._mean = mean


def replicas(model) -> int:
    if keras.backend.backend() == "jax":
        return len(model.trainable_variables[0].value.sharding.device_set)
    return model.distribute_strategy.num_replicas_in_sync


def train(cfg, data, kill_at=None):
    steps = Steps(kill_at)
    try:
        out = run(cfg, data, callbacks=[steps])
    except KeyboardInterrupt:
        out = None
    return out, steps


def center_loss_runs():
    """A net with DACL's center loss trained 3 steps on 1 and on 2 devices: the losses, and the
    centers after."""
    from keras_fer.distribute import make_plan
    from keras_fer.layers import SparseCenterLoss
    from keras_fer.train import build_training_model

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (32, 48, 48, 1)).astype("uint8")
    y = rng.integers(0, 7, 32)
    found = {}
    for devices in (1, 2):
        with make_plan(devices).scope():
            keras.utils.set_random_seed(0)
            inputs = keras.Input((48, 48, 1))
            h = keras.layers.Conv2D(4, 3, strides=4, activation="relu")(inputs / 255.0)
            feats = keras.layers.GlobalAveragePooling2D()(h)
            attention = keras.layers.Dense(4, activation="sigmoid")(feats)
            feats = SparseCenterLoss(7, 4, lam=0.5, seed=1, name="center")([feats, attention])
            net = keras.Model(inputs, keras.layers.Dense(7)(feats))
            tm = build_training_model(net, TrainConfig(optimizer={"name": "sgd",
                                                                  "learning_rate": 0.05}))
            history = tm.fit((x, y), y, batch_size=32, epochs=3, shuffle=False, verbose=0)
            centers = keras.ops.convert_to_numpy(net.get_layer("center").centers)
            found[devices] = {"losses": history.history["loss"], "centers": centers.tolist()}
    return found


def replica_draws():
    """Under TensorFlow, what each of 2 replicas draws from one augmentation generator."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    from keras_fer.augment import ops as aug
    from keras_fer.distribute import make_plan

    strategy = make_plan(2).engine
    with strategy.scope():
        generator = keras.random.SeedGenerator(1)

    def draw():
        return aug.uniform(4, 0.0, 1.0, aug.Seeds(generator)())

    @tf.function
    def step():
        return strategy.run(draw)

    return [t.numpy().tolist() for t in strategy.experimental_local_results(step())]


def main():
    data_dir, out_dir, config = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    data = load(data_dir)
    base = TrainConfig.from_dict(config)
    # one step per epoch and no augmentation: the order of Keras' shuffle, which a resumed
    # process or another host draws anew, cannot matter (an image's random flip or mixup
    # partner depends on its place in the batch)
    long = base.replace(epochs=3, batch_size=len(data.split("Training")[1]), augment={})
    process = os.environ.get("KERAS_DISTRIBUTION_PROCESS_ID")
    if process is not None:
        plan = {"hosts": (long.replace(devices="all"), None)}
    else:
        plan = {"1": (base.replace(devices=1), None), "2": (base.replace(devices=2), None),
                "whole": (long.replace(devices=2), None), "resumed": (long.replace(devices=2), 2)}
    result = {}
    for name, (cfg, kill_at) in plan.items():
        cfg = cfg.replace(out=os.path.join(out_dir, name))
        out, steps = train(cfg, data, kill_at)
        record = {"killed_after": [len(steps.epochs)] if out is None else []}
        if out is None:  # the same command again: the resume
            out, steps = train(cfg, data)
        record.update(dir=str(out), losses=steps.losses, epochs=steps.epochs,
                      replicas=steps.replicas)
        result[name] = record
    if process is None:
        result["center_loss"], result["replica_draws"] = center_loss_runs(), replica_draws()
    name = "result.json" if process in (None, "0") else f"result.process{process}.json"
    with open(os.path.join(out_dir, name), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
