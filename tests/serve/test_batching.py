"""Requests that arrive together share one invoke, and each gets exactly what it gets alone."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest

from fmnist.serve import batching
from fmnist.serve.app import create_app
from fmnist.serve.batching import Batcher
from fmnist.serve.served_model import load
from fmnist.serve.service import Service
from fmnist.serve.settings import ServeSettings

from .bodies import INFER, binary_request, json_request, outputs_of


class Counting:
    """A served model that records each invoke's batch (the real one does the work)."""

    def __init__(self, model) -> None:
        self.model, self.batches = model, []

    def run(self, images: np.ndarray, flag: bool) -> dict:
        self.batches.append((len(images), flag))
        return self.model.run(images, flag)


@pytest.fixture(scope="module")
def model(model_file):
    return load(model_file)


@pytest.fixture(scope="module")
def images(real_test) -> np.ndarray:
    return real_test.images[:40]


def test_requests_waiting_together_share_one_invoke_per_signature(model, images):
    """Started in one turn of the loop, 6 requests (sizes 1 to 5, two without the flag) make
    two invokes, one per signature, and each gets its own rows, equal to running it alone."""
    counting = Counting(model)
    sizes, flags = [1, 2, 3, 4, 5, 1], [True, True, False, True, False, True]
    starts = np.cumsum([0, *sizes])
    requests = [(images[a:b], flag) for a, b, flag in zip(starts, starts[1:], flags, strict=False)]

    async def all_at_once() -> list[dict]:
        batcher = Batcher()
        return await asyncio.gather(*(batcher.run(counting, x, f) for x, f in requests))

    answers = asyncio.run(all_at_once())
    assert sorted(counting.batches) == [(8, False), (8, True)]
    for (x, flag), answer in zip(requests, answers, strict=True):
        alone = model.run(x, flag)
        assert sorted(answer) == sorted(alone)
        for name in alone:
            assert np.array_equal(answer[name], alone[name]), name


def test_a_lone_request_runs_at_once_and_a_large_group_is_cut(model, images, monkeypatch):
    monkeypatch.setattr(batching, "MAX_IMAGES", 10)
    counting = Counting(model)

    async def run(batcher: Batcher, groups: list[int]) -> None:
        await asyncio.gather(*(batcher.run(counting, images[:n], True) for n in groups))

    asyncio.run(run(Batcher(), [3]))
    asyncio.run(run(Batcher(), [4, 4, 4, 12, 1]))
    assert counting.batches == [(3, True), (8, True), (4, True), (12, True), (1, True)]


def test_an_error_reaches_every_request_of_its_batch_and_no_other(model, images):
    class Failing(Counting):
        def run(self, images, flag):
            if not flag:
                raise ValueError("the model failed")
            return super().run(images, flag)

    failing = Failing(model)

    async def both() -> list:
        batcher = Batcher()
        runs = [batcher.run(failing, images[:2], flag) for flag in (False, False, True)]
        return await asyncio.gather(*runs, return_exceptions=True)

    first, second, third = asyncio.run(both())
    assert isinstance(first, ValueError) and isinstance(second, ValueError)
    assert sorted(third) == sorted(model.run(images[:2], True))


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_concurrent_http_requests_get_what_they_get_alone(model_file, images, binary, monkeypatch):
    """Through the app: 24 requests at once (1 to 3 images, every output or the logits alone)
    share invokes, and answer bit for bit what each answers on its own."""
    invokes = []
    run_batch = batching._run_batch
    monkeypatch.setattr(
        batching, "_run_batch", lambda batch: invokes.append(len(batch)) or run_batch(batch)
    )
    service = Service(ServeSettings(model=model_file, quiet=True), load(model_file))
    app = create_app(service)
    cases = [
        (images[i : i + 1 + i % 3], [{"name": "logits"}] if i % 2 else None) for i in range(24)
    ]

    def request(x, outputs):
        if binary:
            return binary_request(x, outputs)
        return json_request(x, outputs), {}

    async def send(client, x, outputs):
        body, headers = request(x, outputs)
        response = await client.post(INFER, content=body, headers=headers)
        assert response.status_code == 200, response.content
        return outputs_of(response.content, response.headers.get("inference-header-content-length"))

    async def everything():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            together = await asyncio.gather(*(send(client, x, o) for x, o in cases))
            shared = len(invokes)
            alone = [await send(client, x, o) for x, o in cases]
        return together, alone, shared

    together, alone, shared = asyncio.run(everything())
    assert shared <= 4 and len(invokes) == shared + len(cases)  # together: a few invokes
    for got, expected in zip(together, alone, strict=True):
        assert sorted(got) == sorted(expected)
        for name in expected:
            assert np.array_equal(got[name], expected[name]), name
