"""The Service without a server: a changed model file swapped in, a damaged one refused and a
missing one ignored, each as /metrics counts it. The same twenty times under continuous
requests, in a real process, is test_lifecycle.py's."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from fmnist.serve.served_model import load
from fmnist.serve.service import Service
from fmnist.serve.settings import ServeSettings


def replace(target: Path, data: bytes) -> None:
    """A new file renamed over the target, as DVC writes its outputs."""
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, target)


@pytest.fixture
def watched(model_file, tmp_path) -> Service:
    """A Service over a copy of the model that the test may replace."""
    path = tmp_path / "model.tflite"
    path.write_bytes(model_file.read_bytes())
    return Service(ServeSettings(model=path, quiet=True), load(path))


def series(service: Service) -> list[str]:
    """The model's lines in /metrics: the version served and the reloads."""
    page = service.metrics.exposition().decode()
    return [line for line in page.splitlines() if line.startswith("fmnist_model_")]


def test_a_changed_file_is_swapped_in_and_a_damaged_or_missing_one_is_not(
    watched, model_file, second_model
):
    first, second = watched.model.version, load(second_model).version
    assert first != second
    replace(watched.settings.model, second_model.read_bytes())
    asyncio.run(watched.check_model())
    assert watched.model.version == second
    assert series(watched) == [
        f'fmnist_model_info{{name="fmnist",version="{second}"}} 1.0',
        'fmnist_model_reloads_total{result="loaded"} 1.0',
        'fmnist_model_reloads_total{result="refused"} 0.0',
    ]
    data = model_file.read_bytes()
    replace(watched.settings.model, data[: len(data) // 2])  # half-written
    asyncio.run(watched.check_model())
    assert watched.model.version == second and series(watched)[2].endswith(" 1.0")
    watched.settings.model.unlink()  # DVC removes outputs before a stage runs
    asyncio.run(watched.check_model())
    assert watched.model.version == second and series(watched)[1:] == [
        'fmnist_model_reloads_total{result="loaded"} 1.0',
        'fmnist_model_reloads_total{result="refused"} 1.0',
    ]
