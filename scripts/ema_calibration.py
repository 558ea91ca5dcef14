"""Where do an EMA run's batch-norm statistics come from, and what does it cost? For each finished
run, PublicTest accuracy of its saved model (the averaged weights with the statistics its trainer
estimated), then of the same weights with the statistics re-estimated on training images as
centre crops (the trainer before 2026-12-02) and through the run's own augmentation (after).

    python scripts/ema_calibration.py RUN_DIR [RUN_DIR ...] --data data

One JSON line per run: {"run", "saved", "centre_crops", "augmented"}.
"""
import argparse
import json

import keras
import numpy as np

from keras_fer.augment import fit_to
from keras_fer.data import load
from keras_fer.io_utils import read_json
from keras_fer.train.ema import calibration_augment, calibration_images, recalibrate_batch_norm


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--data", default="data")
    args = p.parse_args()
    data = load(args.data)
    train = data.images[data.splits == "Training"]
    public = data.splits == "PublicTest"
    for run in args.runs:
        cfg = read_json(f"{run}/config.json")
        net = keras.saving.load_model(f"{run}/model.keras", compile=False)
        size = tuple(int(d) for d in net.input_shape[1:3])
        x = fit_to(data.images[public][..., None].astype("float32"), size)

        def accuracy():
            probs = net.predict(x, batch_size=512, verbose=0)
            return round(float(np.mean(probs.argmax(1) == data.labels[public])), 4)

        sample, seed = calibration_images(train, cfg.get("seed", 0)), cfg.get("seed", 0)
        line = {"run": run, "saved": accuracy()}
        recalibrate_batch_norm(net, sample)
        line["centre_crops"] = accuracy()
        recalibrate_batch_norm(net, sample, augment=calibration_augment(cfg.get("augment"), seed))
        line["augmented"] = accuracy()
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
