"""The serving install: the built wheel in a fresh environment without TensorFlow or DVC."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest

from fmnist.core.dataset import CLASS_NAMES

from .running import serving

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv") or str(Path.home() / ".local/bin/uv")


def run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def slim(tmp_path_factory) -> Path:
    """A new virtual environment holding the wheel and the pinned packages it asks for."""
    if not Path(UV).exists():
        pytest.skip("needs uv (make setup installs it)")
    folder = tmp_path_factory.mktemp("slim")
    run(UV, "build", "--wheel", "--out-dir", str(folder / "dist"), "--quiet")
    (wheel,) = (folder / "dist").glob("fmnist-*.whl")
    pins = folder / "requirements.txt"
    run(
        UV,
        "export",
        "--frozen",
        "--no-default-groups",
        "--no-hashes",
        "--no-emit-project",
        "--quiet",
        "-o",
        str(pins),
    )
    run(UV, "venv", "--quiet", "--python", sys.executable, str(folder / "venv"))
    python = folder / "venv" / "bin" / "python"
    run(UV, "pip", "install", "--quiet", "--python", str(python), "-r", str(pins), str(wheel))
    return python


def test_the_wheel_leaves_the_pipeline_out(slim):
    for module in ("tensorflow", "keras", "dvc", "sklearn", "matplotlib", "fmnist.pipeline"):
        found = subprocess.run([str(slim), "-c", f"import {module}"], capture_output=True)
        assert found.returncode != 0, f"{module} is installed in the serving environment"


def test_the_wheel_serves_and_predicts(slim, model_file, real_test, tmp_path):
    image = real_test.images[:1]
    tensor = {"name": "images", "datatype": "FP32", "shape": [1, 28, 28]}
    body = orjson.dumps({"inputs": [{**tensor, "data": image.ravel().tolist()}]})
    with serving(model_file, tmp_path, "--quiet", python=str(slim)) as server:
        status, _, answer = server.request("POST", "/v2/models/fmnist/infer", body)
        status_page, _, page = server.request("GET", "/")
    assert status == 200 and status_page == 200 and b"<canvas" in page
    outputs = {o["name"]: o["data"] for o in json.loads(answer)["outputs"]}
    served = int(np.argmax(outputs["logits"]))
    npy = tmp_path / "one.npy"
    np.save(npy, image)
    fmnist = slim.parent / "fmnist"
    printed = run(str(fmnist), "predict", "--json", "--model", str(model_file), str(npy)).stdout
    top = json.loads(printed)["predictions"][0]["top"][0]["class"]
    assert top == CLASS_NAMES[served]
