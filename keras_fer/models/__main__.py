import sys

from keras_fer.models.cli import main

sys.exit(main())
