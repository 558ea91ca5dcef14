from keras_fer.release.cli import main

raise SystemExit(main())
