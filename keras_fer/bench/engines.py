"""Each engine of ``keras_fer.load()`` as an app calls it (``predict_faces`` on 48x48 FER2013
faces): accuracy on a split, median ms per face at batch 1 and img/s at batch 64.

    python -m keras_fer.bench.engines --data data [--model accurate] [--engines litert,savedmodel,keras]
        [--split PrivateTest] [--single 300]

One JSON line per engine: {"engine", "split", "images", "accuracy", "ms_per_face_batch1",
"img_per_s_batch64", "load_s"}. The batch-1 median is over the first ``--single`` faces of the
split, after one warm-up call; img/s is over the whole split in batches of 64 (the accuracy's
predictions). The engines run in turn in one process; the CPU's other work moves the timings.
"""
import argparse
import json
import time

import numpy as np


def bench(engine, model, images, labels, single):
    import keras_fer

    start = time.perf_counter()
    rec = keras_fer.load(model, detector=None, engine=engine)
    load_s = time.perf_counter() - start
    rec.predict_faces(images[:64])  # warm-up: graph tracing, interpreter allocation
    rec.predict_faces(images[:1])
    times = []
    for face in images[:single]:
        start = time.perf_counter()
        rec.predict_faces(face[None])
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    probs = np.concatenate([rec.predict_faces(images[i:i + 64]) for i in range(0, len(images), 64)])
    seconds = time.perf_counter() - start
    return {"engine": rec.engine, "images": int(len(images)),
            "accuracy": round(float(np.mean(probs.argmax(axis=1) == labels)), 4),
            "ms_per_face_batch1": round(1000 * float(np.median(times)), 3),
            "img_per_s_batch64": round(len(images) / seconds, 1), "load_s": round(load_s, 2)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="data")
    p.add_argument("--model", default=None, help="a packaged model's name or a model path "
                   "(default: keras_fer.load()'s)")
    p.add_argument("--engines", default="litert,savedmodel,keras")
    p.add_argument("--split", default="PrivateTest")
    p.add_argument("--single", type=int, default=300, help="faces timed one at a time")
    args = p.parse_args()
    from keras_fer.data import load

    images, labels = load(args.data).split(args.split)
    for engine in args.engines.split(","):
        print(json.dumps({**bench(engine, args.model, images, labels, args.single),
                          "split": args.split}), flush=True)


if __name__ == "__main__":
    main()
