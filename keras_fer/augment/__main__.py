import sys

from keras_fer.augment.cli import main

sys.exit(main())
