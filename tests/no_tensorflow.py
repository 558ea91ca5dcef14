"""Run ``python -m MODULE ARGS`` as if TensorFlow were not installed (the GPU machine has JAX
and PyTorch only): ``python tests/no_tensorflow.py MODULE ARGS...``. Used by
tests/test_without_tensorflow.py."""
import runpy, sys
class NoTF:  # as on the GPU machine: no TensorFlow at all
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow.") or name.startswith("tensorboard"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, NoTF())
mod = sys.argv[1]; sys.argv = [mod] + sys.argv[2:]
runpy.run_module(mod, run_name="__main__")
