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
from fmnist.images import expand, load_input
from fmnist.inference import load_classifier, softmax

TOP = 3


def top_classes(probabilities: np.ndarray, count: int = TOP) -> list[dict]:
    """The `count` most probable classes, most probable first (ties by label)."""
    order = np.lexsort((np.arange(len(probabilities)), -probabilities))[:count]
    return [{"class": CLASS_NAMES[i], "probability": float(probabilities[i])} for i in order]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fmnist", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="classify images, folders or .npy arrays")
    predict.add_argument("inputs", nargs="+", type=Path, metavar="PATH")
    predict.add_argument(
        "--model",
        type=Path,
        default=paths.MODEL,
        help=f"a .tflite model exported by train (default {paths.MODEL})",
    )
    predict.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def predict(inputs: list[Path], model_path: Path, as_json: bool) -> int:
    """Predict every input it can; report the others; exit 1 if any failed."""
    loaded, errors = [], []
    for given in inputs:
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
        classifier = load_classifier(model_path)
        for path, images in loaded:
            probabilities = softmax(classifier.logits(images))
            for index, row in enumerate(probabilities):
                number = index if len(images) > 1 else None
                results.append({"input": str(path), "index": number, "top": top_classes(row)})
    if as_json:
        print(json.dumps({"predictions": results, "errors": errors}, indent=2))
    else:
        for result in results:
            where = result["input"] + ("" if result["index"] is None else f"[{result['index']}]")
            guesses = ", ".join(f"{t['class']} {t['probability']:.3f}" for t in result["top"])
            print(f"{where}: {guesses}")
    for error in errors:
        print(f"fmnist predict: error: {error['error']}", file=sys.stderr)
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `fmnist` console script."""
    args = _parser().parse_args(argv)
    try:
        return predict(args.inputs, args.model, args.json)
    except FmnistError as error:
        print(f"fmnist predict: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
