"""``python -m keras_fer.visualize``: always on the TensorFlow backend (tf-keras-vis needs it).

Keras is not imported yet when this runs, so setting ``KERAS_BACKEND`` here is enough: a model
trained under JAX is read from its backend-neutral ``.keras`` file by TensorFlow.
"""
import os
import sys

if "keras" not in sys.modules and os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
    print(f"note: visualize runs on TensorFlow (tf-keras-vis), not KERAS_BACKEND="
          f"{os.environ['KERAS_BACKEND']}", file=sys.stderr)
    os.environ["KERAS_BACKEND"] = "tensorflow"

from keras_fer.visualize.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
