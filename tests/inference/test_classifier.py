"""LiteRT inference on model.tflite: batching, and the refusal of every model file not ours."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fmnist.inference.classifier import CHUNK_SIZE, ModelError, load_classifier, softmax


def test_logits_do_not_depend_on_batching(trained, real_test):
    classifier = load_classifier(trained[1])
    images = real_test.images[: CHUNK_SIZE + 37]
    whole = classifier.logits(images)
    one_by_one = np.concatenate([classifier.logits(images[i : i + 1]) for i in range(0, 60)])
    np.testing.assert_array_equal(one_by_one, whole[:60])  # LiteRT: bit-identical
    np.testing.assert_array_equal(classifier.logits(images[CHUNK_SIZE:]), whole[CHUNK_SIZE:])
    assert classifier.logits(images[:0]).shape == (0, 10)
    np.testing.assert_allclose(softmax(whole).sum(axis=1), 1.0)
    assert (whole.argmax(1) == real_test.labels[: len(images)]).mean() > 0.8


def foreign_tflite(
    path: Path, shape: tuple[int, ...], classes: int, dtype: str = "float32", sealed: bool = True
) -> Path:
    """The .tflite of a dense Keras model that is not this project's; sealed as ours if `sealed`."""
    from fmnist.pipeline.training.backend import keras
    from fmnist.pipeline.training.export import convert, seal

    model = keras.Sequential(
        [keras.Input(shape, dtype=dtype), keras.layers.Flatten(), keras.layers.Dense(classes)]
    )
    path.write_bytes(seal(convert(model)) if sealed else convert(model))
    return path


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x10]) + data[at + 1 :]


BAD_MODELS = {
    "missing": (
        lambda good, p: p / "absent.tflite",
        "missing; `make repro` builds it, or `make pull`",
    ),
    "empty": (lambda good, p: write(p, b""), "empty file"),
    "directory": (lambda good, p: p.parent, "a directory, not a model file"),
    "garbage": (lambda good, p: write(p, b"\x00" * 100), "not a .tflite model"),
    "text": (lambda good, p: write(p, b"hello, model"), "not a .tflite model"),
    "truncated": (
        lambda good, p: write(p, good[: len(good) // 2]),
        "damaged (its checksum does not match)",
    ),
    "truncated-header": (lambda good, p: write(p, good[:6]), "not a .tflite model"),
    "bit-flipped-weight": (
        lambda good, p: write(p, flip(good, len(good) // 2)),
        "damaged (its checksum does not match)",
    ),
    "bit-flipped-header": (
        lambda good, p: write(p, flip(good, 5)),
        "not a .tflite model",
    ),
    "keras-archive": (
        lambda good, p: p.with_suffix(".keras"),  # the trained fixture's model.keras
        "a Keras archive; fmnist runs the LiteRT export",
    ),
    "foreign-tflite": (
        lambda good, p: foreign_tflite(p, (28, 28), 10, sealed=False),
        "not one exported by fmnist's train stage",
    ),
    "other-input-shape": (
        lambda good, p: foreign_tflite(p, (32, 32), 10),
        "input float32 [-1, 32, 32], expected one float32 [-1, 28, 28]",
    ),
    "other-input-dtype": (
        lambda good, p: foreign_tflite(p, (28, 28), 10, dtype="int32"),
        "input int32 [-1, 28, 28], expected one float32",
    ),
    "other-classes": (
        lambda good, p: foreign_tflite(p, (28, 28), 5),
        "output float32 [-1, 5], expected float32 [-1, 10]",
    ),
}


@pytest.mark.parametrize("damage", list(BAD_MODELS))
def test_bad_model_files_get_one_line_naming_them(trained, tmp_path, damage):
    make, reason = BAD_MODELS[damage]
    good = trained[1]
    (tmp_path / "model.keras").write_bytes(good.with_suffix(".keras").read_bytes())
    path = make(good.read_bytes(), tmp_path / "model.tflite")
    with pytest.raises(ModelError) as caught:
        load_classifier(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and reason in message and "\n" not in message, message


# Run apart from pytest, so that a crash of the runtime shows as a signal, not as a lost session.
# Each mutated file goes through the whole CLI, as a user's --model would.
_MUTANT_RUNNER = """
import contextlib, io, json, sys, traceback
from fmnist import cli
image, files = sys.argv[1], sys.argv[2:]
counts = {"refused": 0, "accepted": 0, "tracebacks": 0, "bad_messages": []}
for path in files:
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["predict", "--model", path, image])
    except BaseException:
        counts["tracebacks"] += 1
        counts["bad_messages"].append(traceback.format_exc(limit=1))
        continue
    if code == 0:
        counts["accepted"] += 1
    else:
        counts["refused"] += 1
        lines = err.getvalue().splitlines()
        if out.getvalue() or len(lines) != 1 or path not in lines[0]:
            counts["bad_messages"].append(err.getvalue())
print(json.dumps(counts))
"""


def mutants(good: bytes, count: int, seed: int) -> list[bytes]:
    """`count` byte-level mutations of `good`, each different from it: bit flips, random bytes,
    truncations, insertions, deletions and overwritten runs."""
    rng = np.random.default_rng(seed)
    result = []
    while len(result) < count:
        data, kind = bytearray(good), rng.integers(6)
        at = int(rng.integers(len(data)))
        if kind == 0:
            for spot in rng.integers(len(data), size=rng.integers(1, 9)):
                data[spot] ^= 1 << int(rng.integers(8))
        elif kind == 1:
            for spot in rng.integers(len(data), size=rng.integers(1, 9)):
                data[spot] = int(rng.integers(256))
        elif kind == 2:
            del data[at:]
        elif kind == 3:
            data[at:at] = rng.bytes(int(rng.integers(1, 64)))
        elif kind == 4:
            del data[at : at + int(rng.integers(1, 64))]
        else:
            run = rng.bytes(int(rng.integers(1, 256)))
            data[at : at + len(run)] = run
        if bytes(data) != good:
            result.append(bytes(data))
    return result


def test_random_mutations_of_the_real_model_are_all_refused_in_one_line(
    trained, real_test, tmp_path
):
    from PIL import Image

    good = trained[1].read_bytes()
    image = tmp_path / "shoe.png"
    Image.fromarray(np.rint(real_test.images[0] * 255).astype(np.uint8)).save(image)
    files = []
    for number, data in enumerate(mutants(good, 240, seed=12)):
        files.append(tmp_path / f"mutant-{number}.tflite")
        files[-1].write_bytes(data)
    run = subprocess.run(
        [sys.executable, "-c", _MUTANT_RUNNER, str(image), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"the runner died (signal {-run.returncode}): {run.stderr[-500:]}"
    counts = json.loads(run.stdout)
    assert counts == {"refused": 240, "accepted": 0, "tracebacks": 0, "bad_messages": []}, counts
