import sys

from keras_fer.train.cli import main

sys.exit(main())
