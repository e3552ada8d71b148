"""Fashion-MNIST classification with TensorFlow/Keras as a reproducible DVC pipeline."""

import os

# TensorFlow's C++ start-up chatter (CPU features, a failed CUDA probe on machines without a GPU)
# buries stage output; real failures still surface as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
