import sys

from keras_fer.experiments.cli import main

sys.exit(main())
