"""`fmnist serve --workers 2`: what holds for one process holds for the two, and the supervisor
keeps them: /metrics is the sum over workers whichever answers, a worker killed under load is
replaced while the other keeps answering, and the workers go when the supervisor does.
(Reloads and shutdown with workers: test_lifecycle.py, parametrized; gRPC: test_grpc.py.)"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import time

import psutil
import pytest

from .running import serving
from .test_lifecycle import INFER, Load, metric, single_image_body, until

pytestmark = pytest.mark.slow
SERIES = 'fmnist_http_requests_total{endpoint="infer",status="200"}'


def owner(connection: http.client.HTTPConnection, workers: list[int]) -> int:
    """The worker process holding the server's end of `connection`."""
    port = connection.sock.getsockname()[1]
    for pid in workers:
        for found in psutil.Process(pid).net_connections(kind="tcp"):
            if found.raddr and found.raddr.port == port:
                return pid
    raise AssertionError(f"no worker holds the connection from port {port}")


def one_per_worker(server, workers: list[int]) -> dict[int, http.client.HTTPConnection]:
    """A kept-alive connection to each worker: new ones are opened until each has one."""
    held: dict[int, http.client.HTTPConnection] = {}
    spare = []
    for _ in range(200):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("GET", "/v2/health/live")
        connection.getresponse().read()
        pid = owner(connection, workers)
        if pid in held:
            spare.append(connection)
        else:
            held[pid] = connection
        if len(held) == len(workers):
            break
    for connection in spare:
        connection.close()
    assert len(held) == len(workers), "the kernel gave every connection to one worker"
    return held


def infer(connection: http.client.HTTPConnection) -> int:
    connection.request("POST", INFER, single_image_body())
    response = connection.getresponse()
    response.read()
    return response.status


def test_metrics_are_the_sum_over_workers(model_file, tmp_path):
    with serving(model_file, tmp_path, "--quiet", "--workers", "2") as server:
        workers = [int(pid) for pid in server.workers()]
        assert len(workers) == 2
        held = one_per_worker(server, workers)
        first, second = held.values()
        assert [infer(first) for _ in range(5)] == [200] * 5
        assert [infer(second) for _ in range(7)] == [200] * 7
        for connection in held.values():  # each worker's own view would say 5 or 7
            until(lambda c=connection: f"{SERIES} 12.0" in scrape(c), "12 on this worker's page")
            assert 'fmnist_model_info{name="fmnist",version=' in scrape(connection)
            assert re.search(
                r'fmnist_model_info\{name="fmnist",version="\w+"\} 2\.0', scrape(connection)
            )
            connection.close()


def scrape(connection: http.client.HTTPConnection) -> str:
    """/metrics on this connection (so from the worker holding it)."""
    connection.request("GET", "/metrics")
    return connection.getresponse().read().decode()


def test_a_worker_killed_under_load_is_replaced_while_the_other_answers(model_file, tmp_path):
    with serving(model_file, tmp_path, "--quiet", "--workers", "2") as server:
        workers = [int(pid) for pid in server.workers()]
        loads = [Load(server.port) for _ in range(4)]
        for load in loads:
            load.start()
        until(lambda: all(load.seen for load in loads), "answers on every connection")
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        until(
            lambda: len(now := server.workers()) == 2 and str(victim) not in now,
            "a new worker in its place",
        )
        counts = [len(load.seen) for load in loads]
        until(
            lambda: all(
                len(load.seen) > count + 20 for load, count in zip(loads, counts, strict=True)
            ),
            "answers on every connection after the kill",
        )
        for load in loads:
            load.stop.set()
            load.join(30)
        lost = sum(len(load.failures) for load in loads)
        # At most the requests in flight on the killed worker's connections: one per client.
        assert lost <= len(loads), [load.failures for load in loads]
        failures = [failure for load in loads for failure in load.failures]
        assert all(isinstance(failure, str) for failure in failures), failures  # none refused
        # Counted as each answer goes out: the killed worker's last answers may go uncounted.
        assert metric(server, SERIES) >= sum(len(load.seen) for load in loads) - len(loads)
        log = server.output()
        assert f"worker {victim} ended (signal 9); starting another" in log
        assert server.stop() == 0
    print(f"kill -9 of one of 2 workers under 4 clients: {lost} requests lost")


def test_the_workers_go_with_their_supervisor(model_file, tmp_path):
    with serving(model_file, tmp_path, "--quiet", "--workers", "2") as server:
        workers = [psutil.Process(int(pid)) for pid in server.workers()]
        server.process.kill()  # no chance to stop them: the kernel tells them (PDEATHSIG)
        server.process.wait(30)
        gone, alive = psutil.wait_procs(workers, timeout=30)
        assert not alive and len(gone) == 2


def test_bad_worker_counts_are_one_line(model_file):
    from .test_lifecycle import fmnist_serve, one_line_error

    one_line_error(fmnist_serve("--model", str(model_file), "--workers", "0"), "--workers 0")
    one_line_error(fmnist_serve("--model", str(model_file), "--workers", "65"), "1 to 64")
    start = time.monotonic()
    run = fmnist_serve("--model", str(model_file), "--grpc-port", "8080", "--port", "8080")
    one_line_error(run, "the HTTP port already")
    with socket.socket() as taken:  # gRPC's port held by another program: refused, not shared
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        run = fmnist_serve("--model", str(model_file), "--port", "0", "--grpc-port", port)
        one_line_error(run, f"127.0.0.1:{port}: cannot listen there")
        assert "--grpc-port picks another" in run.stderr
    assert time.monotonic() - start < 60
