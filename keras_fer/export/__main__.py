import sys

from keras_fer.export.cli import main

sys.exit(main())
