"""The server through a client others wrote: Triton's `tritonclient[http]` against a real
`fmnist serve`, with its defaults (binary tensors) and in JSON mode. The protocol in plain HTTP,
as curl or KServe send it, is test_app.py's, in-process."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from fmnist.core.dataset import CLASS_NAMES
from fmnist.inference.classifier import load_classifier

from ..litert_alone import litert_alone
from .running import serving

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(model_file, tmp_path_factory):
    with serving(model_file, tmp_path_factory.mktemp("api"), "--quiet") as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with triton.InferenceServerClient(f"127.0.0.1:{server.port}") as connected:
        yield connected


@pytest.fixture(scope="module")
def images(real_test) -> np.ndarray:
    return (real_test.images[:1000] / np.float32(255)).astype(np.float32)


@pytest.fixture(scope="module")
def expected(model_file, images) -> np.ndarray:
    """What evaluate and predict compute: the same loader, the same interpreter."""
    return load_classifier(model_file).logits(images)


def version(client) -> str:
    return client.get_model_metadata("fmnist")["versions"][0]


def test_health_metadata_and_readiness(client, model_file):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("fmnist")
    assert not client.is_model_ready("another")
    server = client.get_server_metadata()
    assert server["name"] == "fmnist"
    assert {"binary_tensor_data", "classification"} <= set(server["extensions"])
    model = client.get_model_metadata("fmnist")
    assert model["inputs"] == [{"name": "images", "datatype": "FP32", "shape": [-1, 28, 28]}]
    assert [o["name"] for o in model["outputs"]] == ["logits", "probabilities", "ood_score"]
    assert model["outputs"][2] == {"name": "ood_score", "datatype": "FP32", "shape": [-1]}
    seal = load_classifier(model_file).seal.hex()
    assert seal.startswith(model["versions"][0]) and len(model["versions"][0]) == 12


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_a_batch_of_1000_equals_evaluates_logits(client, images, expected, binary):
    tensor = triton.InferInput("images", list(images.shape), "FP32")
    tensor.set_data_from_numpy(images, binary_data=binary)
    outputs = [triton.InferRequestedOutput(name, binary_data=binary) for name in ("logits",)]
    result = client.infer("fmnist", [tensor], outputs=outputs, request_id="batch")
    assert np.array_equal(result.as_numpy("logits"), expected)
    response = result.get_response()
    assert response["id"] == "batch" and response["model_version"] == version(client)


def test_default_infer_is_binary_both_ways_and_gives_every_output(
    client, images, expected, model_file
):
    tensor = triton.InferInput("images", [8, 28, 28], "FP32")
    tensor.set_data_from_numpy(images[:8])  # tritonclient's default: binary
    result = client.infer("fmnist", [tensor])
    assert np.array_equal(result.as_numpy("logits"), expected[:8])
    assert all("binary_data_size" in o["parameters"] for o in result.get_response()["outputs"])
    # tritonclient gets the probabilities and the score LiteRT alone computes, bit for bit:
    # both are the graph's.
    alone = litert_alone(model_file, images[:8])
    for name in ("probabilities", "ood_score"):
        assert np.array_equal(result.as_numpy(name), alone[name])


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_the_ood_score_flags_noise_and_a_blank_frame_and_not_clothing(client, real_test, binary):
    batch = np.concatenate(
        [
            real_test.images[:2],
            np.random.default_rng(0).random((1, 28, 28), np.float32),
            np.zeros((1, 28, 28), np.float32),
        ]
    )
    tensor = triton.InferInput("images", list(batch.shape), "FP32")
    tensor.set_data_from_numpy(batch, binary_data=binary)
    wanted = [triton.InferRequestedOutput("ood_score", binary_data=binary)]
    scores = client.infer("fmnist", [tensor], outputs=wanted).as_numpy("ood_score")
    assert scores.shape == (4,) and scores.dtype == np.float32
    assert (scores > 1.0).tolist() == [False, False, True, True]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_classification_gives_top_k_labels(client, images, expected, real_test, binary):
    tensor = triton.InferInput("images", [20, 28, 28], "FP32")
    tensor.set_data_from_numpy(images[:20], binary_data=binary)
    wanted = triton.InferRequestedOutput("probabilities", binary_data=binary, class_count=3)
    top = client.infer("fmnist", [tensor], outputs=[wanted]).as_numpy("probabilities")
    assert top.shape == (20, 3)
    for row, logits in zip(top, expected[:20], strict=True):
        fields = [(entry.decode() if binary else entry).split(":") for entry in row]
        best = int(np.argmax(logits))
        assert fields[0][1:] == [str(best), CLASS_NAMES[best]]
        values = [float(value) for value, _, _ in fields]
        assert values == sorted(values, reverse=True) and 0 < values[0] <= 1


def test_an_error_reaches_the_client_as_its_message(client):
    tensor = triton.InferInput("images", [1, 28, 28], "FP64")
    tensor.set_data_from_numpy(np.zeros((1, 28, 28)))
    with pytest.raises(InferenceServerException, match="the model takes FP32") as caught:
        client.infer("fmnist", [tensor])
    assert caught.value.status() == "400"
