"""`python -m enrolld.convert`: write the TFLite face-embedder models (needs TensorFlow)."""

import sys

from enrolld.convert.to_tflite import main

sys.exit(main())
