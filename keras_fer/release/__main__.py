import sys

from keras_fer.release.cli import main

sys.exit(main())
