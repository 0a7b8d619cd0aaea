"""`python -m keras_ssd ...` runs the `keras-ssd` command line."""

import sys

from keras_ssd.cli import main

sys.exit(main())
