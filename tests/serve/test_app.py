"""The app in-process through Starlette's test client, over the real model: health, metadata and
readiness (503 while draining), infer in JSON and binary with the classification extension and
the ood score, /metrics after requests, the page and /classify, and CORS."""

from __future__ import annotations

import dataclasses
import json
from importlib import metadata

import numpy as np
import pytest
from starlette.testclient import TestClient

from fmnist.core.dataset import CLASS_NAMES
from fmnist.inference.classifier import load_classifier
from fmnist.serve.app import create_app
from fmnist.serve.served_model import load
from fmnist.serve.service import Service

from ..litert_alone import litert_alone
from .bodies import INFER, binary_request, json_request, outputs_of
from .uploads import NOTES, a_photo_classified_right, dropped_png, noise_png


@pytest.fixture(scope="module")
def classifier(model_file):
    """What evaluate and predict load: the same loader, the same interpreter."""
    return load_classifier(model_file)


@pytest.fixture(scope="module")
def images(real_test) -> np.ndarray:
    return real_test.images[:20]


@pytest.fixture(scope="module")
def version(service) -> str:
    return service.model.version


def infer(served, images: np.ndarray, binary: bool, outputs: list | None = None, path=INFER):
    """The outputs the app answers for these images, by name."""
    if binary:
        body, headers = binary_request(images, outputs)
    else:
        body, headers = json_request(images, outputs), {}
    response = served.post(path, content=body, headers=headers)
    assert response.status_code == 200, response.content
    header_length = response.headers.get("inference-header-content-length")
    return outputs_of(response.content, header_length)


def test_health_and_readiness_answer_json(served):
    for path, body in [
        ("/v2/health/live", {"live": True}),
        ("/v2/health/ready", {"ready": True}),
        ("/v2/models/fmnist/ready", {"name": "fmnist", "ready": True}),
    ]:
        response = served.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "application/json"
        assert response.json() == body
    assert served.get("/v2/models/fmnist/versions/x/ready").status_code == 404
    assert served.get("/v2/models/another/ready").status_code == 404


def test_readiness_turns_503_while_draining_and_liveness_stays(served, service):
    service.draining = True
    try:
        for path in ("/v2/health/ready", "/v2/models/fmnist/ready"):
            response = served.get(path)
            assert response.status_code == 503 and response.json() == {"error": "shutting down"}
        assert served.get("/v2/health/live").status_code == 200
    finally:
        service.draining = False
    assert served.get("/v2/health/ready").status_code == 200


def test_server_and_model_metadata(served, classifier, version):
    server = served.get("/v2").json()
    assert server == {
        "name": "fmnist",
        "version": metadata.version("fmnist"),
        "extensions": ["binary_tensor_data", "classification"],
    }
    model = served.get("/v2/models/fmnist").json()
    assert model["name"] == "fmnist" and model["platform"] == "tflite"
    assert model["inputs"] == [{"name": "images", "datatype": "FP32", "shape": [-1, 28, 28]}]
    assert [o["name"] for o in model["outputs"]] == ["logits", "probabilities", "ood_score"]
    assert model["outputs"][2] == {"name": "ood_score", "datatype": "FP32", "shape": [-1]}
    assert model["versions"] == [version] and len(version) == 12
    assert classifier.seal.hex().startswith(version)
    assert served.get(f"/v2/models/fmnist/versions/{version}").json() == model
    assert served.get("/v2/models/fmnist/versions/0").status_code == 404


def test_plain_json_without_content_type_and_a_version_in_the_url(
    served, classifier, images, version
):
    body = {"inputs": [{"name": "images", "shape": [2, 28, 28], "datatype": "FP32"}]}
    body["inputs"][0]["data"] = images[:2].tolist()
    path = f"/v2/models/fmnist/versions/{version}/infer"
    response = served.post(path, content=json.dumps(body).encode())
    assert "content-type" not in response.request.headers
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    outputs = {o["name"]: o for o in response.json()["outputs"]}
    assert outputs["logits"]["shape"] == [2, 10]
    expected = classifier.logits(images[:2]).ravel()
    assert np.array_equal(np.float32(outputs["logits"]["data"]), expected)
    response = served.post("/v2/models/fmnist/versions/0/infer", content=b"{}")
    assert response.status_code == 404
    assert response.json() == {"error": f"version '0' is not loaded; serving {version}"}


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_every_output_by_default_equals_evaluates(served, classifier, images, binary, model_file):
    outputs = infer(served, images, binary)
    assert list(outputs) == ["logits", "probabilities", "ood_score"]
    expected = classifier.logits(images)
    assert np.array_equal(outputs["logits"], expected)
    # The probabilities and the score LiteRT alone gives for the same batch, bit for bit: both
    # are the graph's (the probabilities at the temperature fitted in train).
    alone = litert_alone(model_file, images)
    for name in ("probabilities", "ood_score"):
        assert np.array_equal(outputs[name], alone[name])
    assert np.array_equal(outputs["probabilities"].argmax(1), expected.argmax(1))


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_the_ood_score_flags_noise_and_a_blank_frame_and_not_clothing(served, images, binary):
    noise = np.random.default_rng(0).random((1, 28, 28), np.float32)
    batch = np.concatenate([images[:2], noise, np.zeros((1, 28, 28), np.float32)])
    scores = infer(served, batch, binary, [{"name": "ood_score"}])["ood_score"]
    assert scores.shape == (4,) and scores.dtype == np.float32
    assert (scores > 1.0).tolist() == [False, False, True, True]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_pixels_far_out_of_range_get_a_number_and_the_flag_not_null(served, binary):
    """Finite logits from pixels of 1e30, whose squares overflow FP32 inside the checks: the
    score is still a number (FP32's largest at most), and flagged."""
    huge = np.full((1, 28, 28), 1e30, np.float32)
    outputs = infer(served, huge, binary, [{"name": "logits"}, {"name": "ood_score"}])
    assert np.isfinite(outputs["logits"]).all()
    assert np.isfinite(outputs["ood_score"]).all() and outputs["ood_score"][0] > 1


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_classification_gives_top_k_labels(served, classifier, images, binary):
    wanted = [{"name": "probabilities", "parameters": {"classification": 3}}]
    top = infer(served, images, binary, wanted)["probabilities"]
    assert top.shape == (20, 3)
    for row, logits in zip(top, classifier.logits(images), strict=True):
        fields = [entry.split(":") for entry in row]
        best = int(np.argmax(logits))
        assert fields[0][1:] == [str(best), CLASS_NAMES[best]]
        values = [float(value) for value, _, _ in fields]
        assert values == sorted(values, reverse=True) and 0 < values[0] <= 1


def metric(served, name: str) -> float:
    for line in served.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_metrics_count_requests_images_and_name_the_version(served, images, version):
    before = metric(served, "fmnist_images_inferred_total")
    infer(served, images[:5], binary=True, outputs=[{"name": "logits"}])
    assert served.get("/no/such/path").status_code == 404
    assert metric(served, "fmnist_images_inferred_total") == before + 5
    response = served.get("/metrics")
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    page = response.text
    assert f'fmnist_model_info{{name="fmnist",version="{version}"}} 1.0' in page
    assert 'fmnist_http_requests_total{endpoint="infer",status="200"}' in page
    assert 'fmnist_http_requests_total{endpoint="none",status="404"}' in page  # not the path
    assert "/no/such/path" not in page
    assert 'fmnist_http_request_duration_seconds_bucket{endpoint="infer",le="0.005"}' in page
    assert 'fmnist_model_reloads_total{result="refused"} 0.0' in page


def test_the_page_is_served_at_the_root(served):
    response = served.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert b"<canvas" in response.content and b'fetch("classify"' in response.content


def classify(served, data: bytes) -> tuple[int, dict]:
    """What POST /classify answers for these bytes: what the page is shown."""
    response = served.post("/classify", content=data)
    return response.status_code, response.json()


def test_a_photo_is_decoded_as_predict_decodes_it_and_classified(
    served, classifier, real_test, version, tmp_path
):
    photo, decoded, expected = a_photo_classified_right(classifier, real_test, tmp_path)
    status, answer = classify(served, photo.read_bytes())
    assert status == 200, answer
    assert answer["model_name"] == "fmnist" and answer["model_version"] == version
    assert answer["images"] == 1 and answer["top"][0]["class"] == expected
    pixels = np.array(answer["pixels"]).reshape(28, 28)
    assert (pixels == np.round(decoded[0] * 255)).all()  # the server decodes as predict does
    assert pixels.max() >= 200 and (pixels > 25).sum() >= 50  # an object, not a blank frame
    assert set(answer["ood"]) == {"score", "flagged", "check", "reason"}


def test_noise_is_classified_and_flagged_as_not_like_fashion_mnist(served, tmp_path):
    status, answer = classify(served, noise_png(tmp_path / "noise.png").read_bytes())
    assert status == 200 and answer["ood"]["flagged"] and answer["ood"]["score"] > 1
    assert answer["top"][0]["class"] in CLASS_NAMES  # still a class


def test_a_png_gives_the_top_three(served, real_test):
    status, answer = classify(served, dropped_png(real_test.images[1]))
    assert status == 200, answer
    assert len(answer["top"]) == 3 and len(answer["pixels"]) == 784


def test_a_file_that_is_no_image_is_one_line(served):
    status, answer = classify(served, NOTES)
    assert status == 400 and set(answer) == {"error"}
    assert answer["error"].startswith("upload: ") and "\n" not in answer["error"]


def test_cors_is_off_unless_an_origin_is_named(served, settings):
    asked = {"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST"}
    response = served.options(INFER, headers=asked)
    assert "access-control-allow-origin" not in response.headers and response.status_code == 405
    allowing = dataclasses.replace(settings, cors_origins=("http://app.example",))
    with TestClient(create_app(Service(allowing, load(allowing.model)))) as other:
        asked["Origin"] = "http://app.example"
        response = other.options(INFER, headers=asked)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "http://app.example"
        response = other.get("/v2", headers={"Origin": "http://x.example"})
        assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
