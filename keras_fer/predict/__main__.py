import sys

from keras_fer.predict.cli import main

sys.exit(main())
