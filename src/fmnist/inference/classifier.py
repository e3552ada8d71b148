"""The shipped model.tflite, run by LiteRT's interpreter: evaluate, predict and the CLI alike.

LiteRT (`ai_edge_litert`) runs the very file train exports, without TensorFlow (0.08 s to
import, against about 4 s). A model file is checked before the C++ runtime sees it: train seals
every export with a SHA-256 of its own bytes (`seal_position`), so a truncated, bit-flipped or
foreign file is refused here in Python, and the interpreter only ever parses bytes we wrote.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from fmnist.core.dataset import CLASS_NAMES, IMAGE_SHAPE
from fmnist.core.errors import RESTORE_HINT, FmnistError
from fmnist.inference.native_stderr import EVERYTHING as EVERYTHING_ON_STDERR
from fmnist.inference.native_stderr import stderr_without
from fmnist.memory import memory_budget, size_text
from fmnist.ood.score import KIND_OUTPUTS, Assessment, from_outputs

# Images per interpreter call. The CNN over 70,000 images, side by side on this machine's AMD
# EPYC: 3.8-4.4 s in chunks of 128, 4.3-5.0 s in chunks of 1000 (the dense model: 0.1 s either
# way); all 70,000 at once was 3-5x slower and needed about 10 GB.
CHUNK_SIZE = 128
# The seal: a TFLite metadata buffer holding this marker and then the SHA-256 of the whole file
# with those 32 bytes zeroed. Runtimes elsewhere ignore metadata they do not know.
SEAL_NAME = "fmnist_sha256"
SEAL_MARKER = b"fmnist-sha256:"
DIGEST_SIZE = 32
_TFLITE_ID = b"TFL3"  # the flatbuffer file identifier, at bytes 4-8
_ZIP_MAGIC = b"PK\x03\x04"


class ModelError(FmnistError):
    """The model file is missing, damaged, or not a model this project exported."""


def seal_position(data: bytes) -> int | None:
    """Where the seal's digest starts in `data`, or None if there is no seal."""
    found = data.rfind(SEAL_MARKER)
    if found < 0 or found + len(SEAL_MARKER) + DIGEST_SIZE > len(data):
        return None
    return found + len(SEAL_MARKER)


def seal_digest(data: bytes, position: int) -> bytes:
    """The SHA-256 of `data` with the digest at `position` zeroed."""
    digest = hashlib.sha256(data[:position])
    digest.update(bytes(DIGEST_SIZE))
    digest.update(data[position + DIGEST_SIZE :])
    return digest.digest()


def _check_bytes(path: Path, data: bytes) -> bytes:
    """The seal's digest; before LiteRT parses anything, every file that is not an intact export
    of ours is refused."""
    if not data:
        raise ModelError(f"{path}: empty file; {RESTORE_HINT}")
    if data.startswith(_ZIP_MAGIC):
        raise ModelError(
            f"{path}: a Keras archive; fmnist runs the LiteRT export train writes beside it: "
            f"pass {path.with_suffix('.tflite')}"
        )
    if data[4:8] != _TFLITE_ID:
        raise ModelError(f"{path}: not a .tflite model (no TFL3 identifier)")
    position = seal_position(data)
    if position is None:
        raise ModelError(f"{path}: a .tflite model, but not one exported by fmnist's train stage")
    if (digest := data[position : position + DIGEST_SIZE]) != seal_digest(data, position):
        raise ModelError(f"{path}: damaged (its checksum does not match); {RESTORE_HINT}")
    return digest


def _threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# The outputs of an export with the flag (fmnist.ood.score), beside the logits.
FLAG_OUTPUTS = tuple(name for names in KIND_OUTPUTS.values() for name in names)
LOGITS = "logits"
# softmax(logits / T), T fitted on held-out images at training (fmnist.pipeline.calibration).
PROBABILITIES = "probabilities"
# An export with the flag has two signatures on the same weights: every output, and the logits
# alone (a request that wants no flag does not pay for it).
EVERYTHING, LOGITS_ONLY = "serving_default", "logits"


@dataclass
class Signature:
    """One signature's subgraph: its input, its outputs by name, the batch it is sized for."""

    subgraph: int
    input_index: int
    outputs: dict[str, int]
    batch: int = 0


@dataclass
class Classifier:
    """A LiteRT interpreter over model.tflite: images (N, 28, 28) to logits (N, 10) and, in the
    same invoke, the flag's scores and checks when the export has them."""

    source: str  # the file, for messages
    interpreter: Interpreter
    signatures: dict[str, Signature]  # EVERYTHING always; LOGITS_ONLY in an export with the flag
    seal: bytes = b""  # the SHA-256 the file was sealed with: which export this is

    @property
    def has_flag(self) -> bool:
        return FLAG_OUTPUTS[0] in self.signatures[EVERYTHING].outputs

    def _run(self, chunk: np.ndarray, signature: Signature) -> dict[str, np.ndarray]:
        # The interpreter's own calls, by subgraph: its SignatureRunner resizes and reallocates
        # on every call, 30 us more than the model itself here.
        wrapper, subgraph = self.interpreter._interpreter, signature.subgraph
        try:
            if len(chunk) != signature.batch:
                # LiteRT's "Created TensorFlow Lite XNNPACK delegate" line, off the terminal.
                with stderr_without(EVERYTHING_ON_STDERR):
                    shape = np.array(chunk.shape, np.int32)
                    wrapper.ResizeInputTensor(signature.input_index, shape, False, subgraph)
                    wrapper.AllocateTensors(subgraph)
                signature.batch = len(chunk)
            wrapper.SetTensor(signature.input_index, chunk, subgraph)
            wrapper.Invoke(subgraph)
        except (RuntimeError, ValueError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ModelError(f"{self.source}: LiteRT cannot run it ({reason})") from None
        found = {n: wrapper.GetTensor(i, subgraph) for n, i in signature.outputs.items()}
        if found[LOGITS].shape != (len(chunk), len(CLASS_NAMES)):
            raise ModelError(f"{self.source}: gave logits of shape {found[LOGITS].shape}")
        return {name: array.copy() for name, array in found.items()}

    def run(self, images: np.ndarray, flag: bool = True) -> dict[str, np.ndarray]:
        """Every output by name (without the flag's: the logits alone, by the cheaper
        signature), computed CHUNK_SIZE images at a time."""
        signature = self.signatures[EVERYTHING if flag else LOGITS_ONLY]
        if 0 < len(images) <= CHUNK_SIZE:  # one call: a served request's usual case
            return self._run(np.ascontiguousarray(images, np.float32), signature)
        chunks = [
            self._run(
                np.ascontiguousarray(images[start : start + CHUNK_SIZE], np.float32), signature
            )
            for start in range(0, len(images), CHUNK_SIZE)
        ]
        if not chunks:
            empty = self._run(np.zeros((1, *IMAGE_SHAPE), np.float32), signature)
            return {name: array[:0] for name, array in empty.items()}
        return {name: np.concatenate([c[name] for c in chunks]) for name in chunks[0]}

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Logits in float32."""
        return self.run(images, flag=False)[LOGITS]

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """The calibrated class probabilities (probabilities_of), in float64 for measuring."""
        return probabilities_of(self.run(images, flag=False)).astype(np.float64)

    def assess(self, images: np.ndarray, kind: str) -> Assessment | None:
        """The flag's verdict on images of `kind`, or None for an export without the flag."""
        return from_outputs(self.run(images), kind)


def _describe(detail: dict) -> str:
    shape = [int(size) for size in detail["shape_signature"]]
    return f"{np.dtype(detail['dtype']).name} {shape}"


def _signature(runner) -> tuple[Signature, dict[str, str]]:
    """A signature runner's subgraph, input and outputs, and its outputs described."""
    (given,) = runner.get_input_details().values()
    details = runner.get_output_details()
    outputs = {name: detail["index"] for name, detail in details.items()}
    described = {name: _describe(detail) for name, detail in details.items()}
    return Signature(runner._subgraph_index, given["index"], outputs), described


def _signatures(path: str | Path, interpreter: Interpreter) -> dict[str, Signature]:
    """The signatures, checked: one with the logits alone (whatever its name), one with the
    logits and probabilities (an export without the flag), or ours: every output (those two and
    the flag's four) and those two alone."""
    want_in = f"float32 [-1, {IMAGE_SHAPE[0]}, {IMAGE_SHAPE[1]}]"
    want_logits = "float32 [-1, 10]"
    inputs = interpreter.get_input_details()
    if len(inputs) != 1 or _describe(inputs[0]) != want_in:
        got = ", ".join(map(_describe, inputs)) or "none"
        raise ModelError(f"{path}: input {got}, expected one {want_in}")
    keys = list(interpreter.get_signature_list())
    details = {d["index"]: d for d in interpreter.get_output_details()}
    if len(details) <= 1 and len(keys) <= 1:
        got = ", ".join(map(_describe, details.values())) or "none"
        if got != want_logits:
            raise ModelError(f"{path}: output {got}, expected {want_logits} (logits of 10 classes)")
        index = next(iter(details))
        signature = Signature(0, inputs[0]["index"], {LOGITS: index})
        return {EVERYTHING: signature, LOGITS_ONLY: signature}
    plain = {LOGITS: want_logits, PROBABILITIES: want_logits}
    flagged = plain | {
        name: f"{'float32' if 'score' in name else 'int32'} [-1]" for name in FLAG_OUTPUTS
    }
    found = {key: _signature(interpreter.get_signature_runner(key)) for key in keys}
    if len(keys) == 1 and found[keys[0]][1] == plain:
        return {EVERYTHING: found[keys[0]][0], LOGITS_ONLY: found[keys[0]][0]}
    ours = sorted(keys) == sorted((EVERYTHING, LOGITS_ONLY))
    if ours and found[EVERYTHING][1] == flagged and found[LOGITS_ONLY][1] == plain:
        return {key: signature for key, (signature, _) in found.items()}
    listed = ", ".join(keys) or "none"
    raise ModelError(
        f"{path}: signatures {listed}; expected logits of 10 classes alone, or "
        f"{EVERYTHING} (logits, probabilities, {', '.join(FLAG_OUTPUTS)}) and {LOGITS_ONLY} "
        "(logits, probabilities)"
    )


def classifier_from_bytes(path: str | Path, data: bytes, threads: int = 0) -> Classifier:
    """The interpreter over sealed bytes, with its input and output checked against ours;
    `threads` for LiteRT's kernels (0: every core this process may use)."""
    try:
        with stderr_without(EVERYTHING_ON_STDERR):  # LiteRT's start-up lines, off the terminal
            interpreter = Interpreter(model_content=data, num_threads=threads or _threads())
    except (ValueError, RuntimeError) as error:
        raise ModelError(f"{path}: LiteRT cannot load it ({str(error).splitlines()[0]})") from None
    classifier = Classifier(str(path), interpreter, _signatures(path, interpreter))
    # One image through each signature now: a file that cannot run fails here, in one line.
    black = np.zeros((1, *IMAGE_SHAPE), np.float32)
    for flag in (True, False):
        if not np.isfinite(classifier.run(black, flag)[LOGITS]).all():
            raise ModelError(f"{path}: gives non-finite logits for a black image")
    return classifier


def load_classifier(path: Path, threads: int = 0) -> Classifier:
    """The LiteRT classifier of a model.tflite that train exported and sealed (`threads` as in
    classifier_from_bytes)."""
    return checked_classifier(path, read_model(path), threads)


def read_model(path: Path) -> bytes:
    """The bytes of the model file at `path`, or ModelError saying in one line why not."""
    if path.is_dir():
        raise ModelError(f"{path}: a directory, not a model file")
    if path.exists() and not path.is_file():  # /dev/zero would be read forever
        raise ModelError(f"{path}: not a regular file")
    try:
        if (size := path.stat().st_size) > memory_budget():
            raise ModelError(f"{path}: {size_text(size)}, more than this machine can spare")
        return path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: missing; {RESTORE_HINT}") from None
    except OSError as error:
        raise ModelError(f"{path}: cannot read ({error.strerror})") from None


def checked_classifier(path: Path, data: bytes, threads: int = 0) -> Classifier:
    """The classifier of `data`, read from `path` (the name its errors give): the seal, the
    contract and the probe checked."""
    seal = _check_bytes(path, data)
    classifier = classifier_from_bytes(path, data, threads)
    classifier.seal = seal
    return classifier


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities from logits, row by row, in float64."""
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def probabilities_of(outputs: dict[str, np.ndarray]) -> np.ndarray:
    """The probabilities an export computes (softmax of its logits over the temperature fitted
    at training), or for a model of logits alone their plain softmax; float32, as computed."""
    if PROBABILITIES in outputs:
        return outputs[PROBABILITIES]
    return softmax(outputs[LOGITS]).astype(np.float32)


def top_classes(probabilities: np.ndarray, count: int = 3) -> list[dict]:
    """The `count` most probable classes, most probable first (ties by label)."""
    order = np.lexsort((np.arange(len(probabilities)), -probabilities))[:count]
    return [{"class": CLASS_NAMES[i], "probability": float(probabilities[i])} for i in order]
