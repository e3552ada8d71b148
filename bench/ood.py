"""`make bench-ood`: what the "not like Fashion-MNIST" flag costs, before and after, in one run.

The same commands from two checkouts, interleaved round by round (load on a 2-core machine
drifts): this one, and a worktree of BASE (default 124d086, the last commit before the flag).
Both use the workspace's data; the older code runs the workspace's network exported without the
flag (logits alone), this one the shipped model.tflite. Measures, as a user meets them:
`fmnist predict` on one PNG as a whole process, and the evaluate stage as DVC runs it. Then
`fmnist serve` under wrk (8 connections, one image in JSON): a request naming no outputs (every
output, the flag included) against one asking for the logits alone, interleaved. Prints medians,
the difference and the ratio.
"""

from __future__ import annotations

import argparse
import json
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


def workspace(folder: Path, model: bytes | None = None) -> Path:
    """A project root holding links to this workspace's data and model (or `model`'s bytes)."""
    for name in ("data/prepared", "data/ood_sets.npz", "models/model.tflite"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        if name == "models/model.tflite" and model is not None:
            (folder / name).write_bytes(model)
        else:
            (folder / name).symlink_to(ROOT / name)
    return folder


def without_flag() -> bytes:
    """The workspace's network exported with its logits alone, as before the flag."""
    from fmnist.pipeline.training.backend import keras
    from fmnist.pipeline.training.export import convert, seal

    return seal(convert(keras.saving.load_model(ROOT / "models/model.keras")))


def serving(rounds: int, seconds: int, scratch: Path) -> dict[str, list[float]]:
    """Requests per second of `fmnist serve` for both requests, interleaved round by round."""
    sys.path.insert(0, str(ROOT / "bench"))
    import serve as bench  # bench/serve.py: the server's start, wrk and its script

    image = np.load(ROOT / "data/prepared/test.npz")["images"][:1]
    tensor = {"name": "images", "shape": [1, 28, 28], "datatype": "FP32"}
    tensor["data"] = image.ravel().tolist()
    bodies = {
        "every output": {"inputs": [tensor]},
        "logits only": {"inputs": [tensor], "outputs": [{"name": "logits"}]},
    }
    loads = {
        name: bench.Load(name, "ours", bench.INFER, bench.Body(json.dumps(body).encode()), 8, 1)
        for name, body in bodies.items()
    }
    script = scratch / "wrk.lua"
    script.write_text(bench.WRK_SCRIPT)
    server = bench.start_ours(scratch / "server")
    rates: dict[str, list[float]] = {name: [] for name in loads}
    try:
        for round_ in range(rounds + 1):  # round 0 warms up, unrecorded
            for name, load in loads.items():
                found = bench.wrk(load, server.port, 2 if round_ == 0 else seconds, script, scratch)
                if found["failed"]:
                    raise SystemExit(f"bench: {found['failed']:.0f} failed requests ({name})")
                if round_:
                    rates[name].append(found["req_s"])
    finally:
        bench.stop(server, "fmnist serve")
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="124d086")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5, help="per wrk run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        base = scratch / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(base), args.base], cwd=ROOT, check=True
        )
        try:
            root = workspace(scratch / "root")
            root_before = workspace(scratch / "root-before", without_flag())
            test = np.load(ROOT / "data/prepared/test.npz")["images"][0]
            png = scratch / "boot.png"
            Image.fromarray(np.round(255 * (1 - test)).astype(np.uint8)).save(png)
            commands = {
                "fmnist predict one PNG": [
                    str(PYTHON),
                    "-m",
                    "fmnist",
                    "predict",
                    str(png),
                    "--model",
                    "models/model.tflite",
                ],
                "evaluate stage": [str(PYTHON), "-m", STAGES, "evaluate"],
            }
            sources = {"before": (base / "src", root_before), "after": (ROOT / "src", root)}
            times = {(c, s): [] for c in commands for s in sources}
            for round_ in range(args.rounds + 1):  # round 0 warms the file cache, untimed
                for command, argv in commands.items():
                    for name, (source, cwd) in sources.items():
                        seconds = timed(argv, source, cwd)
                        if round_:
                            times[command, name].append(seconds)
            rates = serving(args.rounds, args.seconds, scratch)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT)
            shutil.rmtree(base, ignore_errors=True)
    print(f"{'':24s} {'before':>9s} {'after':>9s} {'growth':>9s}   (medians of {args.rounds})")
    for command in commands:
        before = statistics.median(times[command, "before"])
        after = statistics.median(times[command, "after"])
        print(f"{command:24s} {before:8.3f}s {after:8.3f}s {after - before:+8.3f}s")
    every, logits = (statistics.median(rates[n]) for n in ("every output", "logits only"))
    print(
        f"fmnist serve, one image in JSON at 8 connections (medians of {args.rounds}): every "
        f"output {every:,.0f} req/s, logits only {logits:,.0f} req/s, ratio {every / logits:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
