"""The TensorFlow tutorial's training code, as the tutorial writes it, timed.

From https://www.tensorflow.org/tutorials/keras/classification. The only change is where the
data comes from: the same verified local files the pipeline reads, in place of
`keras.datasets.fashion_mnist.load_data()`, which downloads them. Prints one JSON line of timings.
"""

import json
import sys
import time

start = time.perf_counter()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from fmnist.core.dataset import TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS  # noqa: E402
from fmnist.core.idx import parse_idx  # noqa: E402
from fmnist.pipeline.params import load_params  # noqa: E402
from fmnist.pipeline.sources import default_sources  # noqa: E402
from fmnist.pipeline.stages.prepare import fetch_all  # noqa: E402


def load_data():
    """The uint8 arrays `keras.datasets.fashion_mnist.load_data()` returns, from local files."""
    params = load_params().prepare
    sources = default_sources(params.mirrors)
    content = fetch_all(params, sources)
    return (
        (parse_idx(content[TRAIN_IMAGES.name]), parse_idx(content[TRAIN_LABELS.name])),
        (parse_idx(content[TEST_IMAGES.name]), parse_idx(content[TEST_LABELS.name])),
    )


fashion_mnist_load_data = load_data
(train_images, train_labels), (test_images, test_labels) = fashion_mnist_load_data()

train_images = train_images / 255.0
test_images = test_images / 255.0

model = tf.keras.Sequential(
    [
        tf.keras.layers.Flatten(input_shape=(28, 28)),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dense(10),
    ]
)

model.compile(
    optimizer="adam",
    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)

fit_start = time.perf_counter()
history = model.fit(train_images, train_labels, epochs=10)
fit_s = time.perf_counter() - fit_start

test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=2)

probability_model = tf.keras.Sequential([model, tf.keras.layers.Softmax()])
predictions = probability_model.predict(test_images)
first_guess = int(np.argmax(predictions[0]))

print(
    json.dumps(
        {
            "fit_s": fit_s,
            "test_accuracy": float(test_acc),
            "train_accuracy": float(history.history["accuracy"][-1]),
            "first_test_prediction": first_guess,
            "script_s": time.perf_counter() - start,
        }
    ),
    file=sys.stderr,
)
