"""`fmnist predict PATH...`: the trained model on your own images, folders or .npy arrays."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from fmnist import paths
from fmnist.dataset import CLASS_NAMES
from fmnist.errors import FmnistError
from fmnist.images import STDIN_NAME, expand, load_input, read_stdin
from fmnist.inference import load_classifier, softmax

TOP = 3


def top_classes(probabilities: np.ndarray, count: int = TOP) -> list[dict]:
    """The `count` most probable classes, most probable first (ties by label)."""
    order = np.lexsort((np.arange(len(probabilities)), -probabilities))[:count]
    return [{"class": CLASS_NAMES[i], "probability": float(probabilities[i])} for i in order]


def _printable(name: str) -> str:
    """A file name as given, or quoted with escapes when it holds a newline or other control
    character, so that one result stays one line."""
    return name if name.isprintable() else repr(name)


def _one_line(message: str) -> str:
    return message if "\n" not in message and "\r" not in message else repr(message)[1:-1]


def default_model() -> Path:
    """The project's model.tflite: of the DVC project around the working directory, else of the
    checkout this package runs from, so that `fmnist predict` works from any folder."""
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "dvc.yaml").is_file():
            return folder / paths.MODEL
    checkout = Path(__file__).resolve().parents[2]
    return checkout / paths.MODEL if (checkout / "dvc.yaml").is_file() else paths.MODEL


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fmnist", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="classify images, folders or .npy arrays")
    predict.add_argument(
        "inputs", nargs="+", type=Path, metavar="PATH", help="a file, a folder, or - for stdin"
    )
    predict.add_argument(
        "--model",
        type=Path,
        help=f"a .tflite model exported by train (default: the project's {paths.MODEL})",
    )
    predict.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def predict(inputs: list[Path], model_path: Path, as_json: bool) -> int:
    """Predict every input it can; report the others; exit 1 if any failed."""
    loaded, errors = [], []
    for given in inputs:
        if str(given) == "-":
            try:
                loaded.append((STDIN_NAME, read_stdin(sys.stdin.buffer)))
            except FmnistError as error:
                errors.append({"input": STDIN_NAME, "error": str(error)})
            continue
        files = expand([given])
        if not files:
            message = f"{given}: no images found (PNG, JPEG, BMP, GIF or .npy) in this folder"
            errors.append({"input": str(given), "error": message})
        for path in files:
            try:
                loaded.append((path, load_input(path)))
            except FmnistError as error:
                errors.append({"input": str(path), "error": str(error)})
    results = []
    if loaded:
        try:  # a model that fails fails every input: one error, in the same output as the rest
            classifier = load_classifier(model_path)
            for path, images in loaded:
                probabilities = softmax(classifier.logits(images))
                for index, row in enumerate(probabilities):
                    number = index if len(images) > 1 else None
                    results.append({"input": str(path), "index": number, "top": top_classes(row)})
        except FmnistError as error:
            results = []
            errors.append({"input": str(model_path), "error": str(error)})
    if as_json:
        print(json.dumps({"predictions": results, "errors": errors}, indent=2))
    else:
        for result in results:
            where = _printable(result["input"])
            where += "" if result["index"] is None else f"[{result['index']}]"
            guesses = ", ".join(f"{t['class']} {t['probability']:.3f}" for t in result["top"])
            print(f"{where}: {guesses}")
    for error in errors:
        print(f"fmnist predict: error: {_one_line(error['error'])}", file=sys.stderr)
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `fmnist` console script."""
    args = _parser().parse_args(argv)
    try:
        return predict(args.inputs, args.model or default_model(), args.json)
    except FmnistError as error:
        print(f"fmnist predict: error: {_one_line(str(error))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fmnist predict: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
