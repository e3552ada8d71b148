"""The gRPC API through the client others wrote: `tritonclient.grpc` with its default settings
against a real `fmnist serve` (one process and two workers), as Triton's own clients, KServe's
and perf_analyzer speak it: the same answers as the HTTP API and LiteRT alone, bit for bit,
and every refusal a gRPC code with one line."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from tritonclient.utils import InferenceServerException

from fmnist.core.dataset import CLASS_NAMES
from fmnist.inference.classifier import load_classifier

from ..litert_alone import litert_alone
from .running import serving

pytestmark = pytest.mark.slow
MAX_BATCH = 256


@pytest.fixture(scope="module", params=["1", "2"], ids=["one-process", "two-workers"])
def server(request, model_file, tmp_path_factory):
    options = ("--quiet", "--workers", request.param, "--max-batch", str(MAX_BATCH))
    with serving(model_file, tmp_path_factory.mktemp("grpc"), *options) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with triton_grpc.InferenceServerClient(server.grpc) as connected:
        yield connected


@pytest.fixture(scope="module")
def images(real_test) -> np.ndarray:
    return (real_test.images[:MAX_BATCH] / np.float32(255)).astype(np.float32)


def infer_input(images: np.ndarray, datatype: str = "FP32") -> triton_grpc.InferInput:
    tensor = triton_grpc.InferInput("images", list(images.shape), datatype)
    tensor.set_data_from_numpy(images)  # tritonclient's way: raw_input_contents
    return tensor


def refusal(client, tensors, code: grpc.StatusCode, fragment: str, **options) -> str:
    with pytest.raises(InferenceServerException) as caught:
        client.infer("fmnist", tensors, **options)
    assert caught.value.status() == f"StatusCode.{code.name}", caught.value
    message = caught.value.message()
    assert fragment in message and "\n" not in message and "Traceback" not in message
    return message


def test_health_and_metadata_as_over_http(client, server, model_file):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("fmnist") and not client.is_model_ready("another")
    metadata = client.get_server_metadata(as_json=True)
    assert metadata["name"] == "fmnist" and "classification" in metadata["extensions"]
    model = client.get_model_metadata("fmnist", as_json=True)
    http = triton_http.InferenceServerClient(f"127.0.0.1:{server.port}").get_model_metadata(
        "fmnist"
    )
    assert model["versions"] == http["versions"] == [load_classifier(model_file).seal.hex()[:12]]
    assert [output["name"] for output in model["outputs"]] == [
        "logits",
        "probabilities",
        "ood_score",
    ]
    assert model["inputs"] == [{"name": "images", "datatype": "FP32", "shape": ["-1", "28", "28"]}]


def test_every_output_equals_http_and_litert_alone_bit_for_bit(client, server, images, model_file):
    result = client.infer("fmnist", [infer_input(images)], request_id="a batch")
    alone = litert_alone(model_file, images)
    http = triton_http.InferenceServerClient(f"127.0.0.1:{server.port}")
    tensor = triton_http.InferInput("images", list(images.shape), "FP32")
    tensor.set_data_from_numpy(images)
    over_http = http.infer("fmnist", [tensor])
    for name in ("logits", "probabilities", "ood_score"):
        assert result.as_numpy(name).dtype == np.float32
        assert np.array_equal(result.as_numpy(name), alone[name]), name
        assert np.array_equal(result.as_numpy(name), over_http.as_numpy(name)), name
    response = result.get_response(as_json=True)
    assert response["id"] == "a batch" and response["model_name"] == "fmnist"


def test_one_image_and_classification(client, images, model_file):
    alone = litert_alone(model_file, images[:5])
    wanted = [triton_grpc.InferRequestedOutput("probabilities", class_count=3)]
    top = client.infer("fmnist", [infer_input(images[:5])], outputs=wanted).as_numpy(
        "probabilities"
    )
    assert top.shape == (5, 3)
    for row, probabilities in zip(top, alone["probabilities"], strict=True):
        value, index, label = row[0].decode().split(":")
        best = int(np.argmax(probabilities))
        assert (int(index), label) == (best, CLASS_NAMES[best])
        assert float(value) == pytest.approx(float(probabilities[best]), rel=1e-5)
    logits = [triton_grpc.InferRequestedOutput("logits")]
    one = client.infer("fmnist", [infer_input(images[:1])], outputs=logits)
    assert one.as_numpy("logits").shape == (1, 10)
    assert np.array_equal(one.as_numpy("logits"), litert_alone(model_file, images[:1])["logits"])


def test_refusals_are_grpc_codes_with_one_line(client, images):
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    refusal(client, [infer_input(images[:1, :27])], invalid, "the model takes [N, 28, 28]")
    refusal(client, [infer_input(images[:1].astype(np.float64), "FP64")], invalid, "FP32")
    too_many = np.zeros((MAX_BATCH + 1, 28, 28), np.float32)
    refusal(client, [infer_input(too_many)], invalid, f"takes {MAX_BATCH} at most")
    nan = images[:1].copy()
    nan[0, 0, 0] = np.nan
    refusal(client, [infer_input(nan)], invalid, "NaN or infinity")
    wrong = [triton_grpc.InferRequestedOutput("scores")]
    refusal(client, [infer_input(images[:1])], invalid, "the model gives", outputs=wrong)
    with pytest.raises(InferenceServerException) as caught:
        client.infer("another", [infer_input(images[:1])])
    assert caught.value.status() == "StatusCode.NOT_FOUND"
    assert "unknown model 'another'" in caught.value.message()
    with pytest.raises(InferenceServerException) as caught:
        client.infer("fmnist", [infer_input(images[:1])], model_version="0" * 12)
    assert caught.value.status() == "StatusCode.NOT_FOUND"


def test_a_message_past_the_limit_is_refused_by_size(client):
    # MAX_BATCH raw images plus a MiB is the limit: twice the batch in bytes is past it.
    huge = np.zeros((MAX_BATCH * 2 + 400, 28, 28), np.float32)
    with pytest.raises(InferenceServerException) as caught:
        client.infer("fmnist", [infer_input(huge)])
    assert caught.value.status() == "StatusCode.RESOURCE_EXHAUSTED"


def test_grpc_calls_are_in_the_metrics(client, server, images):
    def count() -> float:
        series = 'fmnist_grpc_requests_total{code="OK",method="ModelInfer"}'
        for line in server.request("GET", "/metrics")[2].decode().splitlines():
            if line.startswith(series + " "):
                return float(line.split()[1])
        return 0.0

    before = count()
    for _ in range(6):
        client.infer("fmnist", [infer_input(images[:2])])
    assert count() == before + 6
