"""Build hook: the wheel carries the packaged models and the recipes as package data.

``saved_models/fast``, ``saved_models/best`` and ``recipes/`` stay at the top of the checkout,
where the design card, the Makefile and the README use them; building copies them into
``keras_fer/assets/`` of the built package (``keras_fer.resources`` finds them there). A model
goes in once, in the format the default engine runs (the int8 TFLite, for LiteRT), with its
labels, reports and card; the other formats stay out (``keras_fer.resources.WHEEL_LEAVES_OUT``).
An editable install reads the checkout's own copies instead. Everything else is in pyproject.toml.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# checkout folder -> folder inside the built package (keras_fer.resources.PACKAGED; this file
# cannot import keras_fer, so tests/test_package.py checks that the two agree)
TREES = {"saved_models/fast": "keras_fer/assets/fast", "saved_models/best": "keras_fer/assets/best",
         "recipes": "keras_fer/assets/recipes"}
# keras_fer.resources.WHEEL_LEAVES_OUT (a model's other formats; what predict and visualize add
# to a release), and unfinished atomic writes
WHEEL_LEAVES_OUT = ("model.keras", "savedmodel", "model_float16.tflite", "model.onnx", "vis",
                    "predict")
SKIP = shutil.ignore_patterns(*WHEEL_LEAVES_OUT, ".*", "*.tmp", "*.tmp.*", "__pycache__")


class BuildPyWithAssets(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for src, dst in TREES.items():
            if not (HERE / src).is_dir():
                raise FileNotFoundError(f"{HERE / src}: missing, and the wheel must carry it")
            target = Path(self.build_lib) / dst
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(HERE / src, target, ignore=SKIP)


setup(cmdclass={"build_py": BuildPyWithAssets})
