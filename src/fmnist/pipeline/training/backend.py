"""TensorFlow and Keras, loaded as training wants them: import them from here, not directly.

Both settings below must be in place before TensorFlow loads or compiles anything, so every
module of ours that needs Keras or TensorFlow (fit, model) takes them from this one.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys

from fmnist.inference.native_stderr import stderr_without

# XLA's CPU backend sends a dot to YNNPACK when it can: here the two forward products. Eigen
# runs the large one, the first layer's, faster (an epoch took 0.41-0.44 s with Eigen for every
# dot, 0.44-0.50 s with YNNPACK's). XLA reads its flags once, at its first compilation; a
# user's own setting wins, flag by flag.
YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type"
# The same bytes on every x86-64 CPU with AVX2, not only on one kind: XLA generates code for the
# CPU it runs on, and oneDNN picks its kernels by it too, so the summation order, and so the
# weights, followed the instruction set. The dense model trained on an AVX-512 machine and on
# this AVX2 AMD EPYC to other bytes (test accuracy 0.8830 there, 0.8860 here); capped at AVX2,
# both compile the same code. Capping this machine at AVX instead changed the bytes again, which
# is how the cap was seen to reach the code.
ISA_FLAG = "--xla_cpu_max_isa"
_flags = os.environ.get("XLA_FLAGS", "")
for _flag, _value in ((YNN_FLAG, "-individual_dot"), (ISA_FLAG, "AVX2")):
    if _flag not in _flags:
        _flags = f"{_flags} {_flag}={_value}".lstrip()
os.environ["XLA_FLAGS"] = _flags
# The CNN trains outside XLA, in TensorFlow's own kernels. oneDNN's are 1.5x faster here per
# training step (67 ms against 99 ms, batch 128), but TensorFlow turns them on by itself only
# on some Intel CPUs: on, always, so every machine runs the same kernels, capped like XLA's.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

# `import tensorflow` loads Keras, whose scikit-learn wrappers import scikit-learn: 0.8 s of the
# train stage's start-up here, for wrappers that training never uses. Keras takes a missing
# scikit-learn in its stride, so it is hidden while they load; the wrappers stay off in this
# process, and an import of sklearn afterwards works as usual.
_hide_sklearn = "sklearn" not in sys.modules

# TensorFlow's native libraries log at start-up through absl, twice (two copies of it load), and
# TF_CPP_MIN_LOG_LEVEL (fmnist/__init__.py sets 3) does not reach these lines: "All log messages
# before absl::InitializeLog() ...", "oneDNN custom operations are on", "Could not find cuda
# drivers": dropped, every other line (warnings, errors, Python's own output) kept.
_ABSL_CHATTER = re.compile(rb"WARNING: All log messages before absl::InitializeLog|I\d{4} [\d:. ]+")


# A user who sets TF_CPP_MIN_LOG_LEVEL below 3 sees them all.
_hide_log = os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "3"
with stderr_without(_ABSL_CHATTER) if _hide_log else contextlib.nullcontext():
    if _hide_sklearn:
        sys.modules["sklearn"] = None  # type: ignore[assignment]
    import keras
    import tensorflow as tf

    if _hide_sklearn:
        del sys.modules["sklearn"]

__all__ = ["ISA_FLAG", "YNN_FLAG", "keras", "tf"]
