"""The server's life: start-up refusals in one line, reloads under load without a failed
request, and SIGTERM or Ctrl-C draining what is in flight. Every wait is for an event the server
shows (a version, a counter, a refused connection), never a sleep."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from fmnist.inference.classifier import load_classifier

from .running import serving, start

pytestmark = pytest.mark.slow

INFER = "/v2/models/fmnist/infer"
DEADLINE = 60.0


def until(condition, what: str, deadline: float = DEADLINE):
    """Poll `condition` until it returns something true; fail naming `what` after `deadline`."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if result := condition():
            return result
        time.sleep(0.01)
    raise AssertionError(f"not within {deadline} s: {what}")


def fmnist_serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fmnist", "serve", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line_error(run: subprocess.CompletedProcess, fragment: str) -> None:
    assert run.returncode != 0 and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fmnist serve: error: "), run.stderr
    assert fragment in lines[0]


def test_a_damaged_model_is_refused_before_anything_is_served(model_file, tmp_path):
    damaged = tmp_path / "model.tflite"
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 1
    damaged.write_bytes(bytes(data))
    one_line_error(fmnist_serve("--model", str(damaged), "--port", "0"), "damaged")
    one_line_error(fmnist_serve("--model", str(tmp_path / "none.tflite")), "missing")


def test_a_port_in_use_and_bad_options_are_one_line(model_file):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        run = fmnist_serve("--model", str(model_file), "--port", port)
        one_line_error(run, f"127.0.0.1:{port}: cannot listen there")
    one_line_error(fmnist_serve("--model", str(model_file), "--max-batch", "0"), "--max-batch 0")
    one_line_error(fmnist_serve("--model", str(model_file), "--port", "70000"), "not a port")


def single_image_body() -> bytes:
    tensor = {"name": "images", "datatype": "FP32", "shape": [1, 28, 28], "data": [0.5] * 784}
    return orjson.dumps({"inputs": [tensor], "outputs": [{"name": "logits"}]})


class Load(threading.Thread):
    """A client sending one request after another, keeping every status and version seen."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.stop, self.seen, self.failures = port, threading.Event(), [], []

    def run(self) -> None:
        body, connection = single_image_body(), None
        while not self.stop.is_set():
            try:
                connection = connection or http.client.HTTPConnection("127.0.0.1", self.port, 30)
                connection.request("POST", INFER, body)
                response = connection.getresponse()
                answer = response.read()
                if response.status != 200:
                    self.failures.append((response.status, answer))
                else:
                    self.seen.append(json.loads(answer)["model_version"])
            except (OSError, http.client.HTTPException) as problem:
                self.failures.append(repr(problem))
                connection = None


def served_versions(server) -> set[str]:
    """The versions served: one process's, or with workers every worker's (one when they agree)."""
    if workers := server.workers():
        return set(workers.values())
    return {json.loads(server.request("GET", "/v2/models/fmnist")[2])["versions"][0]}


def metric(server, series: str) -> float:
    """A series' value in /metrics; 0 while it is not there."""
    for line in server.request("GET", "/metrics")[2].decode().splitlines():
        if line.startswith(series + " "):
            return float(line.split()[1])
    return 0.0


def reloads(server, result: str) -> float:
    return metric(server, f'fmnist_model_reloads_total{{result="{result}"}}')


def replace_as_dvc_does(target: Path, data: bytes) -> None:
    """A new file beside the target, then renamed over it (DVC's checkout and outputs)."""
    temporary = target.with_name(f".{target.name}.{time.monotonic_ns()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, target)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_twenty_replacements_under_load_fail_no_request(
    model_file, second_model, tmp_path, workers
):
    serving_path = tmp_path / "models" / "model.tflite"
    serving_path.parent.mkdir()
    good = [model_file.read_bytes(), second_model.read_bytes()]
    versions = [load_classifier(path).seal.hex()[:12] for path in (model_file, second_model)]
    serving_path.write_bytes(good[0])
    corrupt = [good[1][: len(good[1]) // 2], bytes(reversed(good[0])), b"", good[1][:-1] + b"?"]
    options = ("--quiet", "--poll", "0.02", "--workers", workers)
    with serving(serving_path, tmp_path / "log", *options) as server:
        load = Load(server.port)
        load.start()
        until(lambda: load.seen, "a first answer")
        current = 0
        for step in range(20):
            if step % 2 == 0:  # a good file, the other version
                current = 1 - current
                replace_as_dvc_does(serving_path, good[current])
                want = versions[current]
                until(lambda v=want: served_versions(server) == {v}, "the new version everywhere")
            else:  # a damaged or half-written file: refused, the old one keeps serving
                refused = reloads(server, "refused")
                replace_as_dvc_does(serving_path, corrupt[step // 2 % len(corrupt)])
                until(lambda r=refused: reloads(server, "refused") > r, "the refusal")
                assert served_versions(server) == {versions[current]}
            count = len(load.seen)
            until(lambda c=count: len(load.seen) > c + 2, "answers after the change")
        load.stop.set()
        load.join(30)
        assert server.request("GET", "/v2/health/ready")[0] == 200
        reloads_seen = reloads(server, "refused")
        log = server.output()
    assert load.failures == []
    assert set(load.seen) == set(versions) and load.seen[-1] == versions[current]
    switches = sum(1 for a, b in zip(load.seen, load.seen[1:], strict=False) if a != b)
    assert switches == 10  # each good file was seen, in order, once swapped in
    assert log.count("now serving version") == 10 and log.count("kept version") >= 10
    if workers == "2":  # checked once by the supervisor, not once per worker
        assert reloads_seen == 10
    assert "Traceback" not in log


def half_sent(port: int, images: np.ndarray) -> tuple[socket.socket, bytes]:
    """A binary infer request whose headers and first half of the body are sent: in flight."""
    raw = images.astype("<f4").tobytes()
    tensor = {"name": "images", "datatype": "FP32", "shape": list(images.shape)}
    tensor["parameters"] = {"binary_data_size": len(raw)}
    header = orjson.dumps({"inputs": [tensor], "outputs": [{"name": "logits"}]})
    body = header + raw
    head = (
        f"POST {INFER} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
        f"Inference-Header-Content-Length: {len(header)}\r\n\r\n"
    )
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    connection.sendall(head.encode() + body[: len(body) // 2])
    return connection, body[len(body) // 2 :]


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_shutdown_finishes_requests_in_flight_and_exits_0(
    model_file, real_test, tmp_path, how, workers
):
    images = real_test.images[:64]
    expected = load_classifier(model_file).logits(images)
    server = start(model_file, tmp_path, "--quiet", "--workers", workers)
    in_flight = [half_sent(server.port, images) for _ in range(4)]
    # In flight once the server has read their headers: a connection it has not read yet is
    # closed at shutdown, as it should be. Five: the four and the /metrics request asking.
    in_progress = "fmnist_http_requests_in_progress"
    until(lambda: metric(server, in_progress) == 5, "the four requests in flight")
    load = Load(server.port)
    load.start()
    until(lambda: load.seen, "a first answer")
    server.process.send_signal(how)
    until(lambda: refuses_connections(server.port), "the listening socket closed")
    load.stop.set()
    for connection, rest in in_flight:
        connection.sendall(rest)
        response = http.client.HTTPResponse(connection)
        response.begin()
        answer = response.read()
        assert response.status == 200, answer
        logits = np.float32(json.loads(answer)["outputs"][0]["data"]).reshape(64, 10)
        assert np.array_equal(logits, expected)
        connection.close()
    assert server.process.wait(DEADLINE) == 0
    load.join(30)  # its requests after the signal may be refused: they were not in flight
    lines = server.output().strip().splitlines()
    assert lines[-1].startswith("fmnist serve: stopped after "), lines
    assert "Traceback" not in server.output()
