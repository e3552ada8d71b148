"""`make bench-ood`: what the "not like Fashion-MNIST" flag costs, before and after, in one run.

The same commands from two checkouts, interleaved round by round (load on a 2-core machine
drifts): this one, and a worktree of BASE (default 124d086, the last commit before the flag).
The workspace's data and model are used by both; the older code ignores the profile in the
model. Measures, as a user meets them: `fmnist predict` on one PNG as a whole process, and the
evaluate stage as DVC runs it. Prints medians and the difference.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PYTHON = Path(sys.executable)
STAGES = "fmnist.pipeline.stages"


def timed(command: list[str], source: Path, cwd: Path) -> float:
    """Seconds for one run of `command` with the package imported from `source` (whose stages
    are `fmnist.stages` in checkouts older than the pipeline's own folder)."""
    if not (source / "fmnist" / "pipeline").is_dir():
        command = [{STAGES: "fmnist.stages"}.get(part, part) for part in command]
    environment = os.environ | {"PYTHONPATH": str(source)}
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=environment, check=True, capture_output=True)
    return time.perf_counter() - start


def workspace(folder: Path) -> Path:
    """A project root holding links to this workspace's data and model, for evaluate."""
    for name in ("data/prepared", "data/ood_sets.npz", "models/model.tflite"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).symlink_to(ROOT / name)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="124d086")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        base = scratch / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(base), args.base], cwd=ROOT, check=True
        )
        try:
            root = workspace(scratch / "root")
            test = np.load(ROOT / "data/prepared/test.npz")["images"][0]
            png = scratch / "boot.png"
            Image.fromarray(np.round(255 * (1 - test)).astype(np.uint8)).save(png)
            model = str(root / "models/model.tflite")
            commands = {
                "fmnist predict one PNG": [
                    str(PYTHON),
                    "-m",
                    "fmnist",
                    "predict",
                    str(png),
                    "--model",
                    model,
                ],
                "evaluate stage": [str(PYTHON), "-m", STAGES, "evaluate"],
            }
            sources = {"before": base / "src", "after": ROOT / "src"}
            times = {(c, s): [] for c in commands for s in sources}
            for round_ in range(args.rounds + 1):  # round 0 warms the file cache, untimed
                for command, argv in commands.items():
                    for name, source in sources.items():
                        seconds = timed(argv, source, root)
                        if round_:
                            times[command, name].append(seconds)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT)
            shutil.rmtree(base, ignore_errors=True)
    print(f"{'':24s} {'before':>9s} {'after':>9s} {'growth':>9s}   (medians of {args.rounds})")
    for command in commands:
        before = statistics.median(times[command, "before"])
        after = statistics.median(times[command, "after"])
        print(f"{command:24s} {before:8.3f}s {after:8.3f}s {after - before:+8.3f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
