"""Training the tutorial's way (Adam, shuffled mini-batches, every image every epoch), run fast.

Keras' own fit pays a Python round trip per batch. Here each epoch is one XLA-compiled loop
over the epoch's shuffled batch indices, with the images passed in as an argument (captured
as a graph constant instead, they make it hundreds of times slower). The arithmetic is the
same: same batches, same loss, same updates. Without XLA (`jit_compile=False`, for the CNN:
XLA has no deterministic gradient of max pooling) the same loop runs as a TensorFlow graph
(one call per batch instead was no faster: 28 s an epoch of the [32, 64] CNN either way here).

Three training-only options, all off for the tutorial's dense model: horizontal flips (clothing
is left-right symmetric; a seeded half of the images is mirrored each epoch), random shifts
(each epoch every image moved by a seeded whole number of pixels up to `shift` each way, the
uncovered edge black) and label smoothing. Which images flip and how far each moves are drawn
in NumPy from seeded streams of their own, so no random op enters the graph; the pixels are
mirrored and moved in the graph, batch by batch, so no epoch copies the images.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fmnist.core.dataset import ALIGNMENT, Split
from fmnist.pipeline.training.backend import keras, tf


def make_deterministic(seed: int) -> None:
    """Start Keras afresh, seed Python, NumPy and TensorFlow, make TensorFlow's kernels
    deterministic. Afresh: Keras numbers layer names per process (dense, then dense_1), and the
    names are in the saved files, so a second run in one process would write other bytes."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _tensor(array: np.ndarray) -> tf.Tensor:
    """A tensor sharing an aligned array's memory (no copy), or else a copy of it."""
    if array.flags.c_contiguous and array.ctypes.data % ALIGNMENT == 0:
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.constant(array)


LossFunction = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def training_loss(model: keras.Model, label_smoothing: float) -> LossFunction:
    """The compiled loss, or cross-entropy against labels smoothed towards the uniform."""
    if not label_smoothing:
        return model.loss
    classes = model.output_shape[-1]

    def smoothed(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        targets = tf.one_hot(labels, classes)
        return tf.reduce_mean(
            keras.losses.categorical_crossentropy(
                targets, logits, from_logits=True, label_smoothing=label_smoothing
            )
        )

    return smoothed


def _step(model: keras.Model, loss_function: LossFunction, x: tf.Tensor, y: tf.Tensor):
    """One optimizer step on a batch; its summed loss and number correct."""
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = loss_function(y, logits)
    model.optimizer.apply(tape.gradient(loss, variables), variables)
    hits = tf.equal(tf.argmax(logits, axis=1, output_type=tf.int32), y)
    return loss * tf.cast(tf.shape(y)[0], tf.float32), tf.reduce_sum(tf.cast(hits, tf.int32))


def mirrored(images: tf.Tensor, flips: tf.Tensor) -> tf.Tensor:
    """Image i mirrored left to right where flips[i] is 1, as it is where 0."""
    return tf.where(flips[:, tf.newaxis, tf.newaxis] > 0, tf.reverse(images, [2]), images)


def shifted(images: tf.Tensor, moves: tf.Tensor, shift: int) -> tf.Tensor:
    """Image i moved down moves[i, 0] and right moves[i, 1] pixels (negative: up, left; each
    within -shift..shift), what moves in from outside black: two gathers from the images padded
    by `shift`, so nothing but copies (the same pixels, bit for bit, whatever the CPU)."""
    size = images.shape[1]
    padded = tf.pad(images, [[0, 0], [shift, shift], [shift, shift]])
    # Row j of the moved image is row j - r of the image, row j - r + shift of the padded one.
    rows = shift - moves[:, :1] + tf.range(size)[tf.newaxis, :]
    columns = shift - moves[:, 1:] + tf.range(size)[tf.newaxis, :]
    moved_rows = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(moved_rows, columns, axis=2, batch_dims=1)


def _epoch_function(
    model: keras.Model,
    loss_function: LossFunction,
    jit_compile: bool,
    flip: bool = False,
    shift: int = 0,
):
    model.optimizer.build(model.trainable_variables)

    # The loop is written as tf.while_loop, so no autograph: converting this function's source
    # cost about 0.07 s of the 0.24 s that tracing took.
    @tf.function(jit_compile=jit_compile, autograph=False)
    def run(
        images: tf.Tensor, labels: tf.Tensor, batches: tf.Tensor, flips: tf.Tensor, moves: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """One pass over `batches`, a (steps, batch_size) tensor of indices into the split;
        with flips, `flips` (steps, batch_size) says which of those images are mirrored, with
        shifts, `moves` (steps, batch_size, 2) how far each then moves."""

        def step(
            i: tf.Tensor, loss_sum: tf.Tensor, correct: tf.Tensor
        ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
            x, y = tf.gather(images, batches[i]), tf.gather(labels, batches[i])
            # Decided when the graph is made: without flips or shifts, the graph of before.
            if flip:
                x = mirrored(x, flips[i])
            if shift:
                x = shifted(x, moves[i], shift)
            batch_loss, batch_correct = _step(model, loss_function, x, y)
            return i + 1, loss_sum + batch_loss, correct + batch_correct

        steps = tf.shape(batches)[0]
        start = (tf.constant(0), tf.constant(0.0), tf.constant(0))
        _, loss_sum, correct = tf.while_loop(lambda i, *_: i < steps, step, start)
        return loss_sum, correct

    return run


def _score_function(model: keras.Model):
    # Ten calls on one whole split: XLA's compile time would cost more than it saves.
    @tf.function(autograph=False)
    def score(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Mean loss and number correct of the current weights on a split, changing nothing."""
        logits = model(images, training=False)
        hits = tf.equal(tf.argmax(logits, axis=1, output_type=tf.int32), labels)
        return model.loss(labels, logits), tf.reduce_sum(tf.cast(hits, tf.int32))

    return score


def _flips(seed: int, count: int, epochs: int):
    """Per epoch, for each image, 1 if it is mirrored, else 0: a seeded stream of its own, so
    that the shuffling is the same with flips as without."""
    rng = np.random.default_rng([seed, 1])
    for _ in range(epochs):
        yield (rng.random(count) < 0.5).astype(np.int32)


def _held_out_scorer(model: keras.Model, held_out: Split, score_batch: int):
    """A function scoring the current weights on `held_out` in calls of `score_batch` images
    (0: all at once): its "held_out_loss" and "held_out_accuracy"."""
    score = _score_function(model)
    size = score_batch or len(held_out.labels)
    labels = held_out.labels.astype(np.int32)
    parts = [
        (_tensor(held_out.images[at : at + size]), tf.constant(labels[at : at + size]))
        for at in range(0, len(labels), size)
    ]

    def scored() -> dict:
        found = [(score(*part), len(part[1])) for part in parts]
        if len(found) == 1:  # the mean as the one call gives it, to the last bit
            loss = float(found[0][0][0])
        else:
            loss = sum(float(part_loss) * n for (part_loss, _), n in found) / len(labels)
        hits = sum(int(part_hits) for (_, part_hits), _ in found)
        return {"held_out_loss": loss, "held_out_accuracy": hits / len(labels)}

    return scored


def _epoch_inputs(
    rng: np.random.Generator, shifts: np.random.Generator, flip_stream, count: int, shift: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The epoch's order of the images; whether the j-th of the epoch is mirrored (flips[j])
    and how far it then moves (moves[j]: rows, columns); zeros, and no moves, when off."""
    order = rng.permutation(count).astype(np.int32)
    flips = next(flip_stream)[order] if flip_stream is not None else np.zeros(count, np.int32)
    moves = (
        shifts.integers(-shift, shift + 1, (2, count)).T.astype(np.int32)
        if shift
        else np.zeros((count, 0), np.int32)
    )
    return order, flips, moves


def fit(
    model: keras.Model,
    train: Split,
    epochs: int,
    batch_size: int,
    seed: int,
    held_out: Split | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    jit_compile: bool = True,
    flip: bool = False,
    label_smoothing: float = 0.0,
    shift: int = 0,
    score_batch: int = 0,
) -> list[dict]:
    """Train `model` in place; return per-epoch mean loss and accuracy, as Keras reports them
    (the loss as trained: smoothed, where label smoothing is on).

    With `held_out`, each epoch also records its loss and accuracy there ("held_out_loss",
    "held_out_accuracy") for monitoring only: nothing is chosen by them and they use no
    randomness, so the weights are bit-identical with or without it. It is scored in calls of
    `score_batch` images (0: all at once), which bounds the memory its activations take.
    """
    run_epoch = _epoch_function(
        model, training_loss(model, label_smoothing), jit_compile, flip, shift
    )
    scored = _held_out_scorer(model, held_out, score_batch) if held_out is not None else None
    count = len(train.labels)
    flip_stream = _flips(seed, count, epochs) if flip else None
    # The split goes in once; each epoch only sends its shuffled batch indices (and flips, moves).
    images, labels = _tensor(train.images), tf.constant(train.labels.astype(np.int32))
    rng, shifts = np.random.default_rng(seed), np.random.default_rng([seed, 2])
    full = count // batch_size * batch_size
    history = []
    for epoch in range(1, epochs + 1):
        order, flips, moves = _epoch_inputs(rng, shifts, flip_stream, count, shift)
        # Full batches in one call; a last partial batch (Keras fit keeps it too) in a second.
        loss_sum, correct = 0.0, 0
        for start, stop, width in ((0, full, batch_size), (full, count, count - full)):
            if stop > start:
                batches = order[start:stop].reshape(-1, width)
                batch_loss, batch_correct = run_epoch(
                    images,
                    labels,
                    tf.constant(batches),
                    tf.constant(flips[start:stop].reshape(batches.shape)),
                    tf.constant(moves[start:stop].reshape(*batches.shape, -1)),
                )
                loss_sum += float(batch_loss)
                correct += int(batch_correct)
        row = {"epoch": epoch, "loss": loss_sum / count, "accuracy": correct / count}
        if scored is not None:
            row |= scored()
        history.append(row)
        if on_epoch is not None:
            on_epoch(row)
    return history
