"""Python as if TensorFlow were not installed (the GPU machine has JAX and PyTorch only):
``python tests/no_tensorflow.py [-m] MODULE ARGS...`` runs the module, ``... -c CODE`` the code.
Used by tests/test_without_tensorflow.py and tests/test_gpu_session.py; ``hide_tensorflow`` by
tests/conftest.py (the JAX stage) and tests/train/devices_worker.py."""
import runpy
import sys


class NoTensorFlow:
    """A meta-path finder that finds no tensorflow (nor tensorboard)."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tensorboard"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def hide_tensorflow():
    """From now on, this process finds no tensorflow or tensorboard, as on the GPU machine."""
    sys.meta_path.insert(0, NoTensorFlow())


if __name__ == "__main__":
    hide_tensorflow()
    args = sys.argv[1:]
    if args and args[0] == "-c":
        sys.argv = ["-c"] + args[2:]
        exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})
    else:
        if args and args[0] == "-m":
            args = args[1:]
        sys.argv = args
        runpy.run_module(args[0], run_name="__main__", alter_sys=True)
