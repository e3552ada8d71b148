"""The serving image (`make image`, scripts/build-image.sh) run by podman as a user runs it:
Triton's client gets from it what LiteRT alone computes from the same model file, bit for bit;
gRPC answers the same; the server runs as uid 10001 without TensorFlow; `podman stop` drains
it and it exits 0. Built from the session's trained model under a tag of its own, so it runs on
a fresh clone too (make test installs the Debian packages); skipped only where not root."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton

from fmnist.inference.classifier import load_classifier

from ..litert_alone import litert_alone
from .running import Server
from .test_lifecycle import half_sent, metric, refuses_connections, until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "localhost/fmnist-serve-test:latest"
USER_ID = "10001"
# Debian's podman 4.3 on these machines: crun, its default runtime, refuses their hybrid cgroups
# and rlimits; runc with cgroupfs runs the image. Storage: podman's default, overlay, works.
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
LIMITS = ["--ulimit", "nofile=10000:10000", "--ulimit", "nproc=4096:4096"]
# Past the server's --drain-timeout (30 s), so that podman waits for the drain before a SIGKILL.
STOP_TIMEOUT = 35
BUILD_TIMEOUT = 15 * 60  # from scratch under a minute here; the rest is for a slow mirror
DEADLINE = 60.0


# Run inside the container: every other process's command line, real, effective, saved and file
# uids and gids (the image has no ps, which podman top needs).
PROCESSES = """import json, os
found = {}
for pid in filter(str.isdigit, os.listdir("/proc")):
    if int(pid) != os.getpid():
        status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
        command = open(f"/proc/{pid}/cmdline").read().replace("\\0", " ")
        found[pid] = {"command": command, **{k: status[k].split() for k in ("Uid", "Gid")}}
print(json.dumps(found))"""


def podman(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=DEADLINE)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def image(model_file) -> str:
    """The image of the session's model, built by the script unless it is up to date."""
    if os.geteuid() != 0:
        pytest.skip("builds the image as root (mmdebstrap, podman)")
    started = time.monotonic()
    built = subprocess.run(
        ["bash", "scripts/build-image.sh"],
        cwd=ROOT,
        env={
            **os.environ,
            "FMNIST_IMAGE": IMAGE.rsplit(":", 1)[0],
            "FMNIST_MODEL": str(model_file),
        },
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert built.returncode == 0, built.stderr
    print(f"{built.stdout.strip()} ({time.monotonic() - started:.1f} s)")
    return IMAGE


@pytest.fixture(scope="module")
def container(image, tmp_path_factory) -> Iterator[tuple[str, Server]]:
    """The image running as `podman run` starts it, attached: the podman process's exit code is
    the container's. Removed at the end, whatever happened."""
    name = f"fmnist-test-image-{uuid.uuid4().hex[:12]}"
    port, grpc_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("image") / "container.log"
    published = ["-p", f"127.0.0.1:{port}:8080", "-p", f"127.0.0.1:{grpc_port}:8081"]
    run = ["run", "--rm", "--name", name, "--stop-timeout", str(STOP_TIMEOUT), *LIMITS]
    started = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*PODMAN, *run, *published, image],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Server(process, port, log)
    try:
        until(lambda: ready(server), "the container ready")
        print(f"ready {time.monotonic() - started:.2f} s after podman run")
        server.grpc_port = grpc_port
        yield name, server
    finally:
        podman("rm", "--force", "--ignore", "--time", "0", name)
        if process.poll() is None:
            process.kill()
        process.wait(DEADLINE)


def ready(server: Server) -> bool:
    """200 from /v2/health/ready; a container that ended fails the test with its output."""
    if server.process.poll() is not None:
        raise AssertionError(f"the container exited {server.process.returncode}: {server.output()}")
    try:
        return server.request("GET", "/v2/health/ready")[0] == 200
    except (OSError, http.client.HTTPException):
        return False


@pytest.fixture(scope="module")
def images(real_test) -> np.ndarray:
    return (real_test.images[:64] / np.float32(255)).astype(np.float32)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_the_image_answers_as_litert_alone_bit_for_bit(container, images, binary, model_file):
    _, server = container
    tensor = triton.InferInput("images", [8, 28, 28], "FP32")
    tensor.set_data_from_numpy(images[:8], binary_data=binary)
    with triton.InferenceServerClient(f"127.0.0.1:{server.port}") as client:
        result = client.infer("fmnist", [tensor])
    response = result.get_response()
    alone = litert_alone(model_file, images[:8])
    names = [output["name"] for output in response["outputs"]]
    assert "logits" in names and "probabilities" in names
    for name in names:
        assert np.array_equal(result.as_numpy(name), alone[name]), name
    seal = load_classifier(model_file).seal.hex()
    assert seal.startswith(response["model_version"]) and len(response["model_version"]) == 12


def test_grpc_from_the_image_answers_as_litert_alone(container, images, model_file):
    _, server = container
    tensor = triton_grpc.InferInput("images", [8, 28, 28], "FP32")
    tensor.set_data_from_numpy(images[:8])
    with triton_grpc.InferenceServerClient(f"127.0.0.1:{server.grpc_port}") as client:
        assert client.is_server_ready()
        result = client.infer("fmnist", [tensor])
    alone = litert_alone(model_file, images[:8])
    for name in ("logits", "probabilities", "ood_score"):
        assert np.array_equal(result.as_numpy(name), alone[name]), name


def test_the_image_is_labelled_with_its_model_and_runs_as_10001(container, model_file):
    name, _ = container
    config = json.loads(podman("image", "inspect", IMAGE).stdout)[0]["Config"]
    version = load_classifier(model_file).seal.hex()[:12]
    assert config["Labels"]["fmnist.model.version"] == version
    assert podman("image", "exists", f"{IMAGE.rsplit(':', 1)[0]}:{version}").returncode == 0
    assert config["User"] == f"{USER_ID}:{USER_ID}"
    assert set(config["ExposedPorts"]) == {"8080/tcp", "8081/tcp"}
    # The server's own processes (PID 1 by the entrypoint's exec form, and any workers), not only
    # a command exec'd beside them.
    found = json.loads(podman("exec", name, "python", "-c", PROCESSES).stdout)
    assert "fmnist serve" in found["1"]["command"], found
    for process in found.values():
        assert process["Uid"] == process["Gid"] == [USER_ID] * 4, found
    assert podman("exec", name, "id", "-u").stdout.strip() == USER_ID
    slim = podman("exec", name, "python", "-c", "import tensorflow")
    assert slim.returncode != 0 and "ModuleNotFoundError" in slim.stderr


def test_podman_stop_drains_and_the_container_exits_0(container, images, model_file):
    name, server = container
    connection, rest = half_sent(server.port, images)
    # In flight once the server has read its headers: two, with the /metrics request asking.
    until(lambda: metric(server, "fmnist_http_requests_in_progress") == 2, "the request in flight")
    started = time.monotonic()
    stop = subprocess.Popen([*PODMAN, "stop", name], stdout=subprocess.DEVNULL)
    try:
        until(lambda: refuses_connections(server.port), "the listening socket closed")
        connection.sendall(rest)
        response = http.client.HTTPResponse(connection)
        response.begin()
        answer = response.read()
        assert response.status == 200, answer
        logits = np.float32(json.loads(answer)["outputs"][0]["data"]).reshape(-1, 10)
        assert np.array_equal(logits, litert_alone(model_file, images)["logits"])
        assert server.process.wait(DEADLINE) == 0, server.output()
        assert stop.wait(DEADLINE) == 0
    finally:
        connection.close()
        if stop.poll() is None:
            stop.kill()
    print(f"podman stop: exit 0 after {time.monotonic() - started:.2f} s")
    lines = server.output().strip().splitlines()
    assert lines[-1].startswith("fmnist serve: stopped after "), lines
    assert "Traceback" not in server.output()
