"""``python -m keras_fer SUBCOMMAND ...``: the ``keras-fer`` command (``keras_fer.cli``)."""
import sys

from keras_fer.cli import main

sys.exit(main())
