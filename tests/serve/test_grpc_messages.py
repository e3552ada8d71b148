"""gRPC's messages as pure functions: the vendored descriptors are the .proto's, a call parses
as the same call over HTTP does, and the answer's raw contents are the tensors' bytes."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources

import numpy as np
import pytest

from fmnist.serve import protocol
from fmnist.serve.grpc import messages
from fmnist.serve.tensors import output_tensors

PACKAGE = resources.files("fmnist.serve.grpc")


def test_the_vendored_descriptors_are_the_protos_compiled(tmp_path):
    made = tmp_path / "made.binpb"
    proto = PACKAGE.joinpath("open_inference.proto")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{proto.parent}",
            f"--descriptor_set_out={made}",
            proto.name,
        ],
        check=True,
        timeout=60,
    )
    assert made.read_bytes() == PACKAGE.joinpath(messages.DESCRIPTORS).read_bytes()


def test_the_messages_live_beside_tritonclients_own():
    from tritonclient.grpc import service_pb2  # the same names, in protobuf's default pool

    ours = messages.message("ModelInferRequest")(model_name="fmnist")
    theirs = service_pb2.ModelInferRequest.FromString(ours.SerializeToString())
    assert theirs.model_name == "fmnist"


def request(images: np.ndarray, raw: bool = True, **outputs: int):
    call = messages.message("ModelInferRequest")(model_name="fmnist", id="x")
    tensor = call.inputs.add(name="images", datatype="FP32", shape=list(images.shape))
    if raw:
        call.raw_input_contents.append(images.astype("<f4").tobytes())
    else:
        tensor.contents.fp32_contents.extend(images.ravel().tolist())
    for name, classes in outputs.items():
        wanted = call.outputs.add(name=name)
        if classes:
            wanted.parameters["classification"].int64_param = classes
    return call


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "fp32_contents"])
def test_a_call_parses_as_over_http(raw):
    images = np.random.default_rng(0).random((3, 28, 28), np.float32)
    parsed = messages.parse_infer(request(images, raw, logits=0, probabilities=2), 8)
    assert np.array_equal(parsed.images, images) and parsed.id == "x"
    assert [(o.name, o.classes) for o in parsed.outputs] == [("logits", 0), ("probabilities", 2)]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda call: call.raw_input_contents.__setitem__(0, b"\0" * 10), "10 bytes, shape"),
        (lambda call: call.inputs.add(name="more"), "exactly one input"),
        (lambda call: setattr(call.inputs[0], "datatype", "UINT8"), "the model takes FP32"),
        (lambda call: call.outputs.add(name="logits").parameters["k"].Clear(), "parameters"),
        (lambda call: call.raw_input_contents.append(b""), "one per input"),
    ],
)
def test_a_bad_call_is_one_line(change, fragment):
    call = request(np.zeros((1, 28, 28), np.float32))
    change(call)
    with pytest.raises(protocol.ProtocolError, match=fragment) as caught:
        messages.parse_infer(call, 8)
    assert "\n" not in str(caught.value) and caught.value.status == 400


def test_the_answer_carries_each_tensors_bytes_in_order():
    images = np.zeros((2, 28, 28), np.float32)
    parsed = messages.parse_infer(request(images, logits=0, probabilities=3), 8)
    logits = np.arange(20, dtype=np.float32).reshape(2, 10)
    computed = {"logits": logits, "probabilities": logits / 100}
    tensors = output_tensors(parsed, computed, None)
    answer = messages.infer_response(parsed, "fmnist", "v1", tensors)
    assert [(o.name, o.datatype, list(o.shape)) for o in answer.outputs] == [
        ("logits", "FP32", [2, 10]),
        ("probabilities", "BYTES", [2, 3]),
    ]
    assert answer.raw_output_contents[0] == logits.astype("<f4").tobytes()
    assert answer.raw_output_contents[1] == tensors[1].raw and answer.id == "x"
    assert messages.code(413).name == "RESOURCE_EXHAUSTED" and messages.code(418).name == (
        "INVALID_ARGUMENT"
    )
