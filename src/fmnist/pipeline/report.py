"""`make report`: the workspace against a base revision, in Markdown, as a pull-request comment.

The params and metrics diffs are DVC's own (`--md`); the per-class table and the pictures come
from evaluate's outputs. CI posts the file with the gh CLI; locally it is a preview.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from fmnist.core import paths
from fmnist.core.atomic import write_bytes
from fmnist.core.dataset import CLASS_NAMES
from fmnist.core.errors import FmnistError, run_stage

REPORT = Path("build/report.md")


class ReportError(FmnistError):
    """A revision or an output the report needs is missing."""


def _dvc(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["failed"])[-1]
        raise ReportError(f"dvc {' '.join(args)}: {last}")
    return result.stdout.strip()


def _committed(revision: str, path: Path) -> dict | None:
    """A JSON file as committed at `revision`, or None where it has none."""
    shown = subprocess.run(
        ["git", "show", f"{revision}:{path.as_posix()}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return json.loads(shown.stdout) if shown.returncode == 0 else None


# evaluate.json's per-class report, under its name now and its name before it sorted last.
_PER_CLASS_KEYS = (paths.PER_CLASS_KEY, "report")


def _class_report_at(revision: str) -> dict | None:
    """evaluate's per-class report at `revision`, or None where it has none."""
    committed = _committed(revision, paths.EVALUATE_METRICS) or {}
    return next((committed[key] for key in _PER_CLASS_KEYS if key in committed), None)


def per_class_table(workspace: dict, base: dict | None) -> str:
    """F1 by class, the workspace's beside the base's, as a Markdown table."""
    rows = [
        "| class | precision | recall | F1 | F1 at base | change |",
        "|---|---|---|---|---|---|",
    ]
    for name in CLASS_NAMES:
        ours = workspace[name]
        theirs = base[name]["f1-score"] if base else None
        change = f"{ours['f1-score'] - theirs:+.4f}" if theirs is not None else ""
        rows.append(
            f"| {name} | {ours['precision']:.4f} | {ours['recall']:.4f} | "
            f"{ours['f1-score']:.4f} | {'' if theirs is None else f'{theirs:.4f}'} | {change} |"
        )
    return "\n".join(rows)


def build_report(base: str, params_md: str, metrics_md: str, metrics: dict, base_classes) -> str:
    """The report's Markdown from its parts."""
    pictures = "\n".join(
        f"![{name}]({(paths.FIGURES_DIR / f'{name}.png').as_posix()})"
        for name in ("confusion", "mistakes", "samples")
    )
    return "\n\n".join(
        [
            f"## fmnist: workspace against `{base}`",
            f"Test accuracy **{metrics['test_accuracy']:.4f}**, "
            f"gap (train - test) {metrics['accuracy_gap']:.4f}.",
            "### Params\n\n" + (params_md or "No params changed."),
            "### Metrics\n\n" + (metrics_md or "No metrics changed."),
            "### Per class (test set)\n\n"
            + per_class_table(metrics[paths.PER_CLASS_KEY], base_classes),
            "### Pictures\n\n" + pictures,
        ]
    )


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        raise ReportError(f"{path}: missing or unreadable; run `make repro`") from None


def _run(base: str) -> None:
    metrics = _read_json(paths.EVALUATE_METRICS)
    metrics_md = _dvc("metrics", "diff", base, "--md")
    # The per-class figures have their own table below, against any base.
    rows = [r for r in metrics_md.splitlines() if not any(f" {k}." in r for k in _PER_CLASS_KEYS)]
    headline = "\n".join(rows) if len(rows) > 2 else ""  # more than the table's two header lines
    params_md = _dvc("params", "diff", base, "--md")
    text = build_report(base, params_md, headline, metrics, _class_report_at(base))
    write_bytes(REPORT, (text + "\n").encode())
    print(f"report: wrote {REPORT}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m fmnist.pipeline.report [BASE]`."""
    parser = argparse.ArgumentParser(prog="python -m fmnist.pipeline.report", description=__doc__)
    parser.add_argument("base", nargs="?", default="main", help="git revision (default: main)")
    args = parser.parse_args(argv)
    return run_stage("report", lambda: _run(args.base))


if __name__ == "__main__":
    raise SystemExit(main())
