"""The temperature the shipped probabilities are divided by, fitted where the network's own
training cannot bias it.

The network trains on all 60,000 training images (the tutorial's way), so no training image is
unseen by it, and a temperature fitted on seen images learns the training fit, not the test
set's: measured on the committed dense model (AMD EPYC Zen 4, commit 986810f), fitting on its
own last 6,000 training images gave T = 0.953 and a test ECE of 0.024, worse than none (0.020).
So a twin is trained: the same network, params and seed, on all but the held-out training
images (the last 6,000, which the flag's bank and class models leave out too), and the
temperature is fitted on the twin's logits for those (cross-fitting, one fold). The twin costs
a second fit of 90 % of the images; it is discarded, and the shipped network is trained
afterwards from a fresh, identically seeded session, so its bytes do not depend on the twin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fmnist.core.dataset import Split
from fmnist.inference.classifier import LOGITS
from fmnist.pipeline.calibration import fit_temperature
from fmnist.pipeline.ood.fit_profile import held_out_count
from fmnist.pipeline.params import TrainParams
from fmnist.pipeline.training.backend import keras
from fmnist.pipeline.training.export import shipped_model
from fmnist.pipeline.training.network import train_network


@dataclass(frozen=True)
class Temperature:
    """The fitted temperature and what it was fitted on."""

    value: float
    held_out: int  # images
    twin_accuracy: float  # the twin's accuracy on them


def held_out_split(train: Split) -> tuple[Split, Split]:
    """The twin's training images and the held-out ones: all but the last few thousand
    (held_out_count, as the flag's profile holds out), and those."""
    held = held_out_count(len(train.labels))
    if held < 1:
        raise ValueError(f"{len(train.labels)} training images leave none to fit a temperature on")
    cut = len(train.labels) - held
    return Split(train.images[:cut], train.labels[:cut]), Split(
        train.images[cut:], train.labels[cut:]
    )


def twin_logits(params: TrainParams, fitted_on: Split, scored: Split) -> np.ndarray:
    """The logits a twin of the shipped network (trained on `fitted_on` alone, mirror-averaged
    as the shipped one is) gives `scored`."""
    twin, _ = train_network(params, fitted_on)
    network = shipped_model(twin, None, params.test_time_flip, temperature=1.0)
    logits = network.predict(scored.images, batch_size=1024, verbose=0)[LOGITS]
    keras.backend.clear_session()  # the twin's layers leave no trace in the shipped model's names
    return np.asarray(logits, np.float32)


def twin_temperature(params: TrainParams, train: Split) -> Temperature:
    """The temperature fitted on a twin's logits for the held-out training images."""
    fitted_on, held_out = held_out_split(train)
    logits = twin_logits(params, fitted_on, held_out)
    accuracy = float(np.mean(logits.argmax(axis=1) == held_out.labels))
    return Temperature(fit_temperature(logits, held_out.labels), len(held_out.labels), accuracy)
