"""A model to serve (the session's one-epoch `trained` export), a second, valid version of it,
and the app over it in-process: Starlette's test client, with the app's lifespan running."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from fmnist.inference.classifier import seal_digest, seal_position
from fmnist.serve.app import create_app
from fmnist.serve.served_model import load
from fmnist.serve.service import Service
from fmnist.serve.settings import ServeSettings


def another_version(data: bytes) -> bytes:
    """The same model with one weight nudged and the file sealed again: a valid export whose
    version (its seal) and logits differ. The largest buffer, the first layer's weights, fills
    most of the file, so its middle is a weight; only the lowest mantissa byte changes."""
    middle = (len(data) // 2) & ~3
    changed = bytearray(data)
    changed[middle] ^= 0x40
    assert np.isfinite(np.frombuffer(bytes(changed[middle : middle + 4]), "<f4")).all()
    position = seal_position(bytes(changed))
    assert position is not None and not position <= middle < position + 32
    changed[position : position + 32] = seal_digest(bytes(changed), position)
    return bytes(changed)


@pytest.fixture(scope="session")
def model_file(trained) -> Path:
    """The model.tflite train exported (one epoch on the real data)."""
    return trained[1]


@pytest.fixture(scope="session")
def second_model(model_file, tmp_path_factory) -> Path:
    """Another valid, sealed version of the same model."""
    path = tmp_path_factory.mktemp("second") / "model.tflite"
    path.write_bytes(another_version(model_file.read_bytes()))
    return path


@pytest.fixture(scope="module")
def settings(model_file) -> ServeSettings:
    """The server's defaults, without access-log lines (a module may ask for other limits)."""
    return ServeSettings(model=model_file, quiet=True)


@pytest.fixture(scope="module")
def service(settings) -> Service:
    """What the handlers share, over the real model: one per test module."""
    return Service(settings, load(settings.model))


@pytest.fixture(scope="module")
def served(service) -> Iterator[TestClient]:
    """The app in this process, its lifespan (the model file's watcher) running."""
    with TestClient(create_app(service)) as client:
        yield client
