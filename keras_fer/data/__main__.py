import sys

from keras_fer.data.cli import main

sys.exit(main())
