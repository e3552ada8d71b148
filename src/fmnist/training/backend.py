"""TensorFlow and Keras, loaded as training wants them: import them from here, not directly.

Both settings below must be in place before TensorFlow loads or compiles anything, so every
module of ours that needs Keras or TensorFlow (fit, model) takes them from this one.
"""

from __future__ import annotations

import os
import sys

# XLA's CPU backend sends a dot to YNNPACK when it can: here the two forward products. Eigen
# runs the large one, the first layer's, faster (an epoch took 0.41-0.44 s with Eigen for every
# dot, 0.44-0.50 s with YNNPACK's). XLA reads its flags once, at its first compilation; a
# user's own setting wins.
YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type"
_flags = os.environ.get("XLA_FLAGS", "")
if YNN_FLAG not in _flags:
    os.environ["XLA_FLAGS"] = f"{_flags} {YNN_FLAG}=-individual_dot".lstrip()

# `import tensorflow` loads Keras, whose scikit-learn wrappers import scikit-learn: 0.8 s of the
# train stage's start-up here, for wrappers that training never uses. Keras takes a missing
# scikit-learn in its stride, so it is hidden while they load; the wrappers stay off in this
# process, and an import of sklearn afterwards works as usual.
_hide_sklearn = "sklearn" not in sys.modules
if _hide_sklearn:
    sys.modules["sklearn"] = None  # type: ignore[assignment]
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

if _hide_sklearn:
    del sys.modules["sklearn"]

__all__ = ["YNN_FLAG", "keras", "tf"]
