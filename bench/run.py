"""`make bench`: the tutorial's own training beside this pipeline's stages, in one run.

Every figure comes from this run on this machine, so the ratios compare like with like. Prints a
table and writes the same figures to reports/benchmark.json.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.pipeline import make_project, project_env  # noqa: E402

REPEATS = 3  # the short measurements are medians of this many runs


@dataclass(frozen=True)
class Measured:
    wall_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str


def measure(args: list[str], cwd: Path) -> Measured:
    """Run a command to completion; its wall time and its own peak resident memory."""
    env = project_env(cwd)
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        result = Measured(wall, usage.ru_maxrss / 1024, out.read(), err.read())
    if process.returncode != 0:
        raise SystemExit(f"bench: {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def median_wall(args: list[str], cwd: Path) -> float:
    return statistics.median(measure(args, cwd).wall_s for _ in range(REPEATS))


def dvc(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvc", *args]


def rerun_unchanged(project: Path, stage: str, outputs: list[str]) -> float:
    """Median wall time of `dvc repro -f -s stage`, checking its outputs stay byte-identical."""
    before = {name: (project / name).read_bytes() for name in outputs}
    seconds = median_wall(dvc("repro", "-f", "-s", stage), project)
    changed = [name for name in outputs if (project / name).read_bytes() != before[name]]
    if changed:
        raise SystemExit(f"bench: rerunning {stage} changed {changed}")
    return seconds


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}, no GPU"


def main() -> int:
    results: dict[str, float | str] = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="fmnist-bench-") as scratch:
        project = make_project(Path(scratch))

        print("bench: full dvc repro from a clean checkout ...", file=sys.stderr)
        results["full_repro_s"] = measure(dvc("repro"), project).wall_s
        accuracy = json.loads((project / "metrics/evaluate.json").read_text())["test_accuracy"]
        results["train_test_accuracy"] = accuracy

        print("bench: fixed start-up (dvc no-op, import tensorflow) ...", file=sys.stderr)
        results["dvc_noop_s"] = median_wall(dvc("repro"), project)
        results["tf_import_s"] = median_wall([sys.executable, "-c", "import tensorflow"], project)

        print("bench: light stages rerun alone ...", file=sys.stderr)
        results["evaluate_rerun_s"] = rerun_unchanged(
            project, "evaluate", ["metrics/evaluate.json"]
        )
        results["predict_rerun_s"] = rerun_unchanged(
            project, "predict", ["metrics/predict.json", "reports/predictions.json"]
        )

        print("bench: train stage ...", file=sys.stderr)
        model = (project / "models/model.keras").read_bytes()
        train = measure([sys.executable, "-m", "fmnist.train"], project)
        if (project / "models/model.keras").read_bytes() != model:
            raise SystemExit("bench: the train stage did not reproduce its model")
        results["train_fit_s"] = float(re.search(r"in ([\d.]+) s", train.stdout).group(1))
        results["train_stage_s"] = train.wall_s
        results["train_peak_rss_mb"] = train.peak_rss_mb

        print("bench: the tutorial's own code (about two minutes) ...", file=sys.stderr)
        tutorial = measure([sys.executable, str(ROOT / "bench/tutorial.py")], project)
        figures = json.loads(tutorial.stderr.strip().splitlines()[-1])
        results["tutorial_fit_s"] = figures["fit_s"]
        results["tutorial_script_s"] = tutorial.wall_s
        results["tutorial_test_accuracy"] = figures["test_accuracy"]
        results["tutorial_peak_rss_mb"] = tutorial.peak_rss_mb

    fixed = results["dvc_noop_s"] + results["tf_import_s"]
    results["train_speedup"] = results["tutorial_fit_s"] / results["train_fit_s"]
    results["accuracy_difference"] = accuracy - results["tutorial_test_accuracy"]
    results["evaluate_overhead_s"] = results["evaluate_rerun_s"] - fixed
    results["predict_overhead_s"] = results["predict_rerun_s"] - fixed
    results["full_repro_ratio"] = results["full_repro_s"] / results["tutorial_script_s"]
    report(results)
    out = ROOT / "reports/benchmark.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"bench: wrote {out.relative_to(ROOT)}", file=sys.stderr)
    return 0


def report(r: dict) -> None:
    def met(ok: bool) -> str:
        return "met" if ok else "MISSED"

    rows = [
        ("tutorial model.fit, 10 epochs", f"{r['tutorial_fit_s']:.1f} s", ""),
        ("our train stage's fit, 10 epochs", f"{r['train_fit_s']:.1f} s", ""),
        ("  speed-up (target >= 8x)", f"{r['train_speedup']:.1f}x", met(r["train_speedup"] >= 8)),
        ("tutorial test accuracy", f"{r['tutorial_test_accuracy']:.4f}", ""),
        ("our test accuracy", f"{r['train_test_accuracy']:.4f}", ""),
        (
            "  difference (target within 0.005)",
            f"{r['accuracy_difference']:+.4f}",
            met(abs(r["accuracy_difference"]) <= 0.005),
        ),
        ("dvc no-op repro", f"{r['dvc_noop_s']:.2f} s", ""),
        ("python -c 'import tensorflow'", f"{r['tf_import_s']:.2f} s", ""),
        ("dvc repro -f -s evaluate", f"{r['evaluate_rerun_s']:.2f} s", ""),
        (
            "  beyond fixed start-up (target <= 3 s)",
            f"{r['evaluate_overhead_s']:.2f} s",
            met(r["evaluate_overhead_s"] <= 3),
        ),
        ("dvc repro -f -s predict", f"{r['predict_rerun_s']:.2f} s", ""),
        (
            "  beyond fixed start-up (target <= 3 s)",
            f"{r['predict_overhead_s']:.2f} s",
            met(r["predict_overhead_s"] <= 3),
        ),
        ("tutorial script, whole", f"{r['tutorial_script_s']:.1f} s", ""),
        ("full dvc repro from clean", f"{r['full_repro_s']:.1f} s", ""),
        (
            "  ratio (target <= 0.4)",
            f"{r['full_repro_ratio']:.2f}",
            met(r["full_repro_ratio"] <= 0.4),
        ),
        (
            "train stage peak RSS (target <= 1500 MB)",
            f"{r['train_peak_rss_mb']:.0f} MB",
            met(r["train_peak_rss_mb"] <= 1500),
        ),
        ("tutorial script peak RSS", f"{r['tutorial_peak_rss_mb']:.0f} MB", ""),
    ]
    print(f"\n{r['machine']}\n")
    print(f"| {'measure':<42} | {'value':>9} | target |")
    print(f"|{'-' * 44}|{'-' * 11}|--------|")
    for name, value, mark in rows:
        print(f"| {name:<42} | {value:>9} | {mark:<6} |")


if __name__ == "__main__":
    raise SystemExit(main())
