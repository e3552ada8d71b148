"""Fashion-MNIST classification with TensorFlow/Keras as a reproducible DVC pipeline."""

import os

# TensorFlow's C++ start-up chatter (CPU features, a failed CUDA probe on machines without a GPU)
# buries stage output; real failures still surface as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# NumPy's own kernels and its OpenBLAS pick code by the CPU: on an AVX-512 AMD EPYC, eigh, exp,
# log and float32 matrix products gave other last bits than on the AVX2 path (checked side by
# side on one machine), and so other profile bytes in model.tflite and other metrics. Capped at
# AVX2 here, before NumPy loads, every x86-64 CPU with AVX2 runs the same code. A user's own
# setting wins.
os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")
os.environ.setdefault("NPY_DISABLE_CPU_FEATURES", "X86_V4 AVX512_ICL AVX512_SPR")
