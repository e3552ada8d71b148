"""The protocol's parsing and encoding, as pure functions: every case without a server."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest

from fmnist.core.dataset import CLASS_NAMES
from fmnist.serve.protocol import (
    MAX_DEPTH,
    InferRequest,
    Output,
    ProtocolError,
    encode_infer,
    parse_infer,
)
from fmnist.serve.tensors import classification

IMAGES = np.random.default_rng(0).random((2, 28, 28), dtype=np.float32)
DEEP: list = [0.5]
for _ in range(70):  # NumPy builds arrays of 64 dimensions at most
    DEEP = [DEEP]


def request(**changes) -> dict:
    tensor = {"name": "images", "datatype": "FP32", "shape": [2, 28, 28]}
    tensor["data"] = IMAGES.tolist()
    tensor.update(changes.pop("tensor", {}))
    return {"inputs": [tensor], **changes}


def parse(document: dict | bytes, header_length: str | None = None, max_batch: int = 8):
    body = document if isinstance(document, bytes) else orjson.dumps(document)
    return parse_infer(body, header_length, max_batch)


def binary_body(images: np.ndarray, **parameters) -> tuple[bytes, str]:
    raw = images.astype("<f4").tobytes()
    tensor = {"name": "images", "datatype": "FP32", "shape": list(images.shape)}
    tensor["parameters"] = {"binary_data_size": len(raw)}
    header = orjson.dumps({"inputs": [tensor], **parameters})
    return header + raw, str(len(header))


def test_json_nested_flat_and_binary_give_the_same_images():
    nested = parse(request()).images
    flat = parse(request(tensor={"data": IMAGES.ravel().tolist()})).images
    body, length = binary_body(IMAGES)
    binary = parse(body, length).images
    assert nested.dtype == np.float32 and nested.shape == (2, 28, 28)
    assert np.array_equal(nested, IMAGES) and np.array_equal(flat, IMAGES)
    assert np.array_equal(binary, IMAGES)


def test_raw_binary_request_is_one_image_with_binary_outputs():
    parsed = parse(IMAGES[:1].astype("<f4").tobytes(), "0")
    assert np.array_equal(parsed.images, IMAGES[:1])
    assert [(o.name, o.binary) for o in parsed.outputs] == [
        ("logits", True),
        ("probabilities", True),
        ("ood_score", True),
    ]


def test_outputs_default_to_all_and_follow_binary_data_output():
    assert all(not o.binary for o in parse(request()).outputs)
    parsed = parse(request(parameters={"binary_data_output": True}))
    assert [o.binary for o in parsed.outputs] == [True, True, True]
    outputs = [{"name": "probabilities", "parameters": {"binary_data": False, "classification": 3}}]
    parsed = parse(request(parameters={"binary_data_output": True}, outputs=outputs))
    assert parsed.outputs == (Output("probabilities", False, 3),)


BAD = {
    "not json": (b"{nope", None, 400, "not valid JSON"),
    "a list": (b"[1, 2]", None, 400, "not a JSON object"),
    "too deep": (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), None, 400, "nests deeper"),
    "no inputs": ({}, None, 400, "exactly one input"),
    "two inputs": ({"inputs": [{}, {}]}, None, 400, "exactly one input"),
    "wrong name": (request(tensor={"name": "x"}), None, 400, "inputs[0].name 'x'"),
    "FP64": (request(tensor={"datatype": "FP64"}), None, 400, "datatype 'FP64'"),
    "one image without batch": (request(tensor={"shape": [28, 28]}), None, 400, "[N, 28, 28]"),
    "zero images": (request(tensor={"shape": [0, 28, 28], "data": []}), None, 400, "N >= 1"),
    "negative": (request(tensor={"shape": [-2, 28, 28]}), None, 400, "N >= 1"),
    "text shape": (request(tensor={"shape": ["2", 28, 28]}), None, 400, "not a list of integers"),
    "bool shape": (request(tensor={"shape": [True, 28, 28]}), None, 400, "not a list of integers"),
    "huge batch": (request(tensor={"shape": [2**63, 28, 28]}), None, 400, "8 at most"),
    "overflowing": (
        orjson.dumps(request(tensor={"shape": [7, 28, 28]})).replace(
            b"[7,", b"[18446744073709551618,"
        ),
        None,
        400,
        "not a list of integers",
    ),
    "too few values": (request(tensor={"data": [0.5] * 10}), None, 400, "has 10 values"),
    "ragged": (request(tensor={"data": [[0.5], [0.5, 0.5]]}), None, 400, "not nested as"),
    "data nested deeper": (request(tensor={"data": [[[[0.5]]]] * 1568}), None, 400, "nested as"),
    "beyond NumPy's dimensions": (request(tensor={"data": DEEP}), None, 400, "too deep"),
    "nested wrongly": (request(tensor={"data": [[0.5] * 784] * 2}), None, 400, "nested as"),
    "text values": (request(tensor={"data": ["0.5"] * 1568}), None, 400, "not all numbers"),
    "null values": (request(tensor={"data": [None] * 1568}), None, 400, "not all numbers"),
    "booleans": (request(tensor={"data": [True] * 1568}), None, 400, "not all numbers"),
    "beyond FP32": (request(tensor={"data": [1e39] * 1568}), None, 400, "beyond FP32"),
    "data not a list": (request(tensor={"data": 0.5}), None, 400, "not a list of numbers"),
    "no data": (
        {"inputs": [{"name": "images", "datatype": "FP32", "shape": [1, 28, 28]}]},
        None,
        400,
        "neither data",
    ),
    "id a number": (request(id=7), None, 400, "id: not a string"),
    "bad parameters": (request(parameters=[1]), None, 400, "request.parameters"),
    "nested parameter": (request(parameters={"a": {"b": 1}}), None, 400, "request.parameters"),
    "unknown output": (request(outputs=[{"name": "x"}]), None, 400, "outputs[0].name 'x'"),
    "twice": (request(outputs=[{"name": "logits"}] * 2), None, 400, "asked for twice"),
    "outputs empty": (request(outputs=[]), None, 400, "not a list of outputs"),
    "top 11": (
        request(outputs=[{"name": "logits", "parameters": {"classification": 11}}]),
        None,
        400,
        "classification 11",
    ),
    "binary flag text": (
        request(parameters={"binary_data_output": "yes"}),
        None,
        400,
        "not true or false",
    ),
    "header length text": (request(), "12a", 400, "not a number"),
    "header length negative": (request(), "-5", 400, "not a number"),
    "header length past body": (request(), "99999999999", 400, "past the body"),
    "raw binary wrong size": (b"\0" * 100, "0", 400, "binary_data_size 100"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_each_bad_request_is_one_line_with_its_status(case):
    document, header_length, status, fragment = BAD[case]
    with pytest.raises(ProtocolError) as caught:
        parse(document, header_length)
    assert caught.value.status == status
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_binary_sizes_must_agree_with_the_shape_and_the_body():
    body, length = binary_body(IMAGES)
    with pytest.raises(ProtocolError, match="bytes of binary data"):
        parse(body[:-4], length)
    header = orjson.dumps(request())
    with pytest.raises(ProtocolError, match="no input says binary_data_size"):
        parse(header + b"\0" * 8, str(len(header)))
    with pytest.raises(ProtocolError, match="NaN or infinity"):
        parse(*binary_body(np.full((1, 28, 28), np.nan, np.float32)))


def test_classification_is_top_k_value_index_label_best_first():
    values = np.array([[0.1, 0.5, 0.2, 0.5, 0, 0, 0, 0, 0, 0.9]], np.float32)
    assert classification(values, 3) == [["0.9:9:Ankle boot", "0.5:1:Trouser", "0.5:3:Dress"]]


def test_response_holds_json_and_binary_outputs_in_order():
    logits = np.arange(20, dtype=np.float32).reshape(2, 10)
    outputs = (Output("logits", True), Output("probabilities", False, 2))
    body, headers = encode_infer(
        InferRequest("7", IMAGES, outputs), "fmnist", "abc", {"logits": logits}, None
    )
    header_size = int(headers["inference-header-content-length"])
    header = orjson.loads(body[:header_size])
    assert header["model_name"] == "fmnist" and header["model_version"] == "abc"
    assert header["id"] == "7"
    raw_output, classes = header["outputs"]
    assert raw_output["parameters"] == {"binary_data_size": 80}
    assert np.array_equal(np.frombuffer(body[header_size:], "<f4").reshape(2, 10), logits)
    assert classes["datatype"] == "BYTES" and classes["shape"] == [2, 2]
    assert classes["data"][0].endswith(f":9:{CLASS_NAMES[9]}")


def test_bytes_outputs_are_length_prefixed_in_binary():
    logits = np.eye(10, dtype=np.float32)[:1]
    outputs = (Output("logits", True, 1),)
    body, headers = encode_infer(
        InferRequest(None, IMAGES[:1], outputs), "m", "v", {"logits": logits}, None
    )
    raw = body[int(headers["inference-header-content-length"]) :]
    (length,) = struct.unpack("<I", raw[:4])
    assert raw[4:] == b"1:0:T-shirt/top" and length == len(raw) - 4
    assert headers["content-type"] == "application/octet-stream"


def test_json_only_response_has_no_header_length():
    logits = np.zeros((1, 10), np.float32)
    body, headers = encode_infer(
        InferRequest(None, IMAGES[:1], (Output("logits", False),)),
        "m",
        "v",
        {"logits": logits},
        None,
    )
    assert headers == {"content-type": "application/json"}
    assert orjson.loads(body)["outputs"][0]["data"] == [0.0] * 10


def test_the_ood_score_comes_by_default_and_only_where_the_model_has_the_flag():
    logits, scores = np.zeros((2, 10), np.float32), np.array([0.5, 3.0])
    defaults = parse(request()).outputs
    body, _ = encode_infer(
        InferRequest(None, IMAGES, defaults), "m", "v", {"logits": logits}, scores
    )
    outputs = {o["name"]: o for o in orjson.loads(body)["outputs"]}
    assert outputs["ood_score"] == {
        "name": "ood_score",
        "datatype": "FP32",
        "shape": [2],
        "data": [0.5, 3.0],
    }
    body, _ = encode_infer(InferRequest(None, IMAGES, defaults), "m", "v", {"logits": logits}, None)
    assert [o["name"] for o in orjson.loads(body)["outputs"]] == ["logits", "probabilities"]
    asked = parse(request(outputs=[{"name": "ood_score"}])).outputs
    with pytest.raises(
        ProtocolError, match=r"^ood_score: this model was exported without the flag$"
    ):
        encode_infer(InferRequest(None, IMAGES, asked), "m", "v", {"logits": logits}, None)


def test_classification_of_the_ood_score_is_refused():
    outputs = [{"name": "ood_score", "parameters": {"classification": 2}}]
    with pytest.raises(ProtocolError, match="classification is for logits and probabilities"):
        parse(request(outputs=outputs))


def test_a_score_that_is_not_a_finite_fp32_is_sent_as_fp32s_largest():
    """JSON has no infinity or NaN, and a null would read as no verdict: such a score (pixels so
    large that the checks overflow) goes out as FP32's largest value, flagged."""
    logits, scores = np.zeros((3, 10), np.float32), np.array([np.inf, np.nan, 1e39])
    asked = parse(request(outputs=[{"name": "ood_score"}])).outputs
    body, _ = encode_infer(InferRequest(None, IMAGES, asked), "m", "v", {"logits": logits}, scores)
    sent = np.float32(orjson.loads(body)["outputs"][0]["data"])
    assert (sent == np.finfo(np.float32).max).all()


def test_probabilities_are_the_models_own_where_it_computes_them():
    """An export with a temperature computes its probabilities in the graph: those are sent, not
    a softmax of the logits; a model of logits alone gets their plain softmax."""
    logits = np.zeros((1, 10), np.float32)
    computed = np.eye(10, dtype=np.float32)[[4]]
    asked = (Output("probabilities", False),)
    request = InferRequest(None, IMAGES[:1], asked)
    body, _ = encode_infer(request, "m", "v", {"logits": logits, "probabilities": computed}, None)
    assert orjson.loads(body)["outputs"][0]["data"] == computed.ravel().tolist()
    body, _ = encode_infer(request, "m", "v", {"logits": logits}, None)
    assert orjson.loads(body)["outputs"][0]["data"] == pytest.approx([0.1] * 10)
