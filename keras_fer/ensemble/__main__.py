import sys

from keras_fer.ensemble.cli import main

sys.exit(main())
