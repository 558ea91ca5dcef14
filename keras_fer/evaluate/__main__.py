import sys

from keras_fer.evaluate.cli import main

sys.exit(main())
