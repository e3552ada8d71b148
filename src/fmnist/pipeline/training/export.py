"""The shipped artifact: a Keras model converted to LiteRT's .tflite, sealed and checked.

Float32 throughout, no quantization or other optimisation: the logits stay within 1e-4 of
Keras' own. The converter gives the same bytes for the same weights, and the seal (a SHA-256
in a metadata buffer, `fmnist.inference.classifier`) is a function of those bytes, so the
file's hash, and dvc.lock, are stable.
"""

from __future__ import annotations

import contextlib
import io
import tempfile

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from fmnist.core.errors import FmnistError
from fmnist.inference.classifier import (
    DIGEST_SIZE,
    EVERYTHING,
    LOGITS,
    LOGITS_ONLY,
    PROBABILITIES,
    SEAL_MARKER,
    SEAL_NAME,
    Classifier,
    classifier_from_bytes,
    seal_digest,
    seal_position,
)
from fmnist.pipeline.ood.semantic import Flag
from fmnist.pipeline.training.backend import keras, tf
from fmnist.pipeline.training.flag_graph import FlagScore

# The largest logit difference from Keras that train accepts in an export. Float32 rounding gave
# up to 5e-5 on the 10-epoch dense model's logits (tests hold every architecture to 1e-4); a
# conversion that computed something else would be off by orders of magnitude more.
AGREEMENT_TOLERANCE = 1e-3
# How many test images train compares the export on: 0.1 s for the CNN.
AGREEMENT_IMAGES = 1000


class ExportError(FmnistError):
    """The .tflite export does not compute what the Keras model computes."""


def _endpoint(network: keras.Model):
    """`network` as a function of the images alone (the export traces each argument)."""
    return lambda images: network(images)


def convert(model: keras.Model, plain: keras.Model | None = None) -> bytes:
    """The model as .tflite bytes, float32, unsealed; with `plain` (the same network without the
    flag), as a second signature, LOGITS_ONLY."""
    # The converter and the export print their SavedModel's endpoints; training's output stays
    # ours.
    with contextlib.redirect_stdout(io.StringIO()):
        if plain is None:
            return tf.lite.TFLiteConverter.from_keras_model(model).convert()
        # Keras' own export tracks both models' variables (the weights, once): a plain tf.Module
        # around them was converted without the weights, and gave NaN logits.
        archive = keras.export.ExportArchive()
        spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32, name="images")
        for name, network in ((EVERYTHING, model), (LOGITS_ONLY, plain)):
            archive.track(network)
            archive.add_endpoint(name, _endpoint(network), [spec])
        with tempfile.TemporaryDirectory() as folder:
            archive.write_out(folder, verbose=False)
            keys = [EVERYTHING, LOGITS_ONLY]
            return tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=keys).convert()


def seal(data: bytes) -> bytes:
    """Add the metadata buffer fmnist_sha256 to a .tflite and fill in the file's digest, which
    covers every byte."""
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(SEAL_MARKER + bytes(DIGEST_SIZE), np.uint8)
    model.buffers.append(buffer)
    metadata = schema.MetadataT()
    metadata.name, metadata.buffer = SEAL_NAME, len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), metadata]
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    sealed = bytearray(builder.Output())
    position = seal_position(bytes(sealed))
    if position is None or sealed.count(SEAL_MARKER) != 1:
        raise ExportError("the weights happen to hold the seal's marker; export cannot seal")
    sealed[position : position + DIGEST_SIZE] = seal_digest(bytes(sealed), position)
    return bytes(sealed)


def max_difference(model: keras.Model, classifier: Classifier, images: np.ndarray) -> float:
    """The largest absolute difference between Keras' outputs and LiteRT's on `images`, over the
    logits and the flag's scores (relative to 1 + the score: a score is a ratio)."""
    expected = model(images, training=False)
    if not isinstance(expected, dict):
        expected = {LOGITS: expected}
    found = classifier.run(images)
    worst = 0.0
    for name, tensor in expected.items():
        value = keras.ops.convert_to_numpy(tensor)
        if value.dtype.kind != "f":
            continue  # the checks' indices: argmax over near-equal values may differ, harmlessly
        scale = 1.0 if name == LOGITS else 1.0 + np.abs(value)
        worst = max(worst, float(np.max(np.abs(found[name] - value) / scale, initial=0.0)))
    return worst


def features_of(model: keras.Model) -> keras.Model:
    """The network up to its last layer: the penultimate features the semantic check reads."""
    return keras.Model(model.inputs, model.layers[-1].input, name="features")


def shipped_model(
    model: keras.Model, flag: Flag | None, test_time_flip: bool, temperature: float
) -> keras.Model:
    """What ships: the logits (with test_time_flip, averaged over each image and its mirror
    image, so every caller gets it), the probabilities softmax(logits / temperature), and with a
    flag its outputs beside them, computed from the image and the features of the unmirrored
    pass."""
    # Named, not numbered per process: the names are in the .tflite's bytes.
    images = keras.Input(shape=model.input_shape[1:], name="images")
    features = features_of(model)(images)
    logits = model.layers[-1](features)
    if test_time_flip:
        mirrored = keras.ops.flip(images, axis=2)  # (N, height, width): width is axis 2
        logits = keras.layers.Average(name="flip_average")([logits, model(mirrored)])
    # A positive divisor keeps the order of the logits, so the argmax: the class never changes.
    scaled = keras.ops.divide(logits, np.float32(temperature))
    outputs = {LOGITS: logits, PROBABILITIES: keras.layers.Softmax(name=PROBABILITIES)(scaled)}
    if flag is not None:
        outputs |= FlagScore(flag)(images, features)
    return keras.Model(images, outputs, name=f"{model.name}_shipped")


def export(model: keras.Model, images: np.ndarray, plain: keras.Model | None = None) -> bytes:
    """The sealed .tflite of `model` (shipped_model's; with `plain`, the network without the flag,
    as a second signature), refused unless it agrees with Keras on `images`."""
    sealed = seal(convert(model, plain))
    classifier = classifier_from_bytes(model.name, sealed)
    difference = max_difference(model, classifier, images)
    if plain is not None:
        alone = classifier.logits(images) - keras.ops.convert_to_numpy(plain(images)[LOGITS])
        difference = max(difference, float(np.max(np.abs(alone))))
    if not difference <= AGREEMENT_TOLERANCE:
        raise ExportError(
            f"the .tflite export's outputs differ from Keras' by {difference:.2e} "
            f"(tolerance {AGREEMENT_TOLERANCE:.0e})"
        )
    return sealed
