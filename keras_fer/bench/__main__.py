import sys

from keras_fer.bench.cli import main

sys.exit(main())
