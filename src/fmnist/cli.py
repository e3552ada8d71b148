"""`fmnist predict PATH...`: the trained model on your own images, folders or .npy arrays;
`fmnist serve`: the same model over HTTP (fmnist.serve)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fmnist.core import paths
from fmnist.core.errors import FmnistError, run_stage
from fmnist.decoding import STDIN_NAME, expand, load_input, read_stdin
from fmnist.inference.classifier import load_classifier, probabilities_of, top_classes
from fmnist.ood.score import TRUST_PAGE, describe, from_outputs
from fmnist.serve import options


def _one_line(text: str) -> str:
    """A file name or message as given, or quoted with escapes when it holds a newline or other
    control character, so that one result or error stays one line."""
    return text if text.isprintable() else repr(text)


def default_model() -> Path:
    """The project's model.tflite: of the DVC project around the working directory, else of the
    checkout this package runs from, so that `fmnist predict` works from any folder."""
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "dvc.yaml").is_file():
            return folder / paths.MODEL
    checkout = Path(__file__).resolve().parents[2]
    return checkout / paths.MODEL if (checkout / "dvc.yaml").is_file() else paths.MODEL


PREDICT_EPILOG = f"""\
Every input still gets one of the ten classes. When it looks like nothing in Fashion-MNIST,
the line ends with [does not look like Fashion-MNIST: what was found; the check and its score]:
the score is above 1, and the larger it is, the stranger the input. What each check measures,
how often clothing is flagged (about 5 %) and what the flag misses: {TRUST_PAGE} in the project.

--json gives per image: input, index (its position in a .npy array of several images; null
for a single image), top (class, probability) and ood (score, flagged, check, reason; null for
a model exported without the flag)."""


def _warning(ood: dict | None) -> str:
    """The flag beside the classes, when raised."""
    if ood is None or not ood["flagged"]:
        return ""
    return (
        f"  [does not look like Fashion-MNIST: {ood['reason']}; {ood['check']} {ood['score']:.2f}]"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fmnist", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser(
        "predict",
        help="classify images, folders or .npy arrays",
        description="Classify images (PNG, JPEG, BMP, GIF), folders of them, or .npy arrays of "
        "28x28 images in [0, 1]: each gets its three likeliest classes.",
        epilog=PREDICT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict.add_argument(
        "inputs", nargs="+", type=Path, metavar="PATH", help="a file, a folder, or - for stdin"
    )
    model_help = f"a .tflite model exported by train (default: the project's {paths.MODEL})"
    predict.add_argument("--model", type=Path, help=model_help)
    predict.add_argument("--json", action="store_true", help="machine-readable output")
    options.add_parser(commands, model_help)
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
            for path, (images, kind) in loaded:
                outputs = classifier.run(images)
                probabilities = probabilities_of(outputs)
                verdict = from_outputs(outputs, kind)
                for index, row in enumerate(probabilities):
                    results.append(
                        {
                            "input": str(path),
                            "index": index if len(images) > 1 else None,
                            "top": top_classes(row),
                            "ood": describe(verdict, index) if verdict is not None else None,
                        }
                    )
        except FmnistError as error:
            results = []
            errors.append({"input": str(model_path), "error": str(error)})
    if as_json:
        print(json.dumps({"predictions": results, "errors": errors}, indent=2))
    else:
        for result in results:
            where = _one_line(result["input"])
            where += "" if result["index"] is None else f"[{result['index']}]"
            guesses = ", ".join(f"{t['class']} {t['probability']:.3f}" for t in result["top"])
            print(f"{where}: {guesses}{_warning(result['ood'])}")
    for error in errors:
        print(f"fmnist predict: error: {_one_line(error['error'])}", file=sys.stderr)
    return 1 if errors else 0


def _serve(args: argparse.Namespace) -> int:
    settings = options.settings_from(args, args.model or default_model())
    from fmnist.serve.server import serve  # the HTTP stack, for this command only

    return serve(settings)


def main(argv: list[str] | None = None) -> int:
    """The `fmnist` command (fmnist.__main__ runs it under fmnist.entry's Ctrl-C guard)."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return run_stage("serve", lambda: _serve(args))
    return run_stage(
        "predict", lambda: predict(args.inputs, args.model or default_model(), args.json)
    )
