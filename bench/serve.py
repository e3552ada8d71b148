"""`make bench-serve`: `fmnist serve` beside MLServer 1.7.0 over the same model.tflite, in one run.

Both servers load the same file with the same LiteRT version and thread count and take the same
JSON bodies, so the figures compare the serving stacks. Load comes from wrk over loopback, a fixed
time per measurement after a warm-up; rounds run every configuration in turn, since load on this
2-core machine drifts over minutes, and the table shows medians. MLServer runs from its own
virtual environment (build/mlserver-venv, made here if missing) with bench/mlserver_runtime.py,
so nothing of it enters the project's. Prints a table and writes the same figures to
reports/serve-benchmark.json.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from fmnist.core.dataset import load_split

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models/model.tflite"
TEST_SPLIT = ROOT / "data/prepared/test.npz"
VENV = ROOT / "build/mlserver-venv"
ROOT_VENV = str(ROOT / ".venv")
REPORT = ROOT / "reports/serve-benchmark.json"
# uvloop < 0.22: MLServer 1.7.0's parallel workers (its default, parallel_workers 1) die at start
# with "no current event loop" under uvloop 0.22 (SeldonIO/MLServer#2286); the benchmark runs it
# with parallel_workers 0, but the pin keeps its default working too. ai-edge-litert at the
# project's own version, so both servers run the same LiteRT.
MLSERVER_PACKAGES = (
    "mlserver==1.7.0",
    f"ai-edge-litert=={metadata.version('ai-edge-litert')}",
    "numpy",
    "uvloop<0.22",
)
NAME = "fmnist"
INFER = f"/v2/models/{NAME}/infer"
BATCH = 64
CONNECTIONS = (1, 8, 64)
BATCH_CONNECTIONS = 8
START_TIMEOUT = 60.0
CHECK_IMAGES = 8
TOLERANCE = 1e-6
WORKERS = len(os.sched_getaffinity(0))  # fmnist serve's default: the cores it may use
_OUR_PORT = re.compile(r"at http://127\.0\.0\.1:(\d+)/")
# wrk's request from environment variables, and its summary as one JSON line (latencies in µs).
WRK_SCRIPT = """
local body = os.getenv("BENCH_BODY")
wrk.method = os.getenv("BENCH_METHOD")
if body ~= "" then
  local file = assert(io.open(body, "rb"))
  wrk.body = file:read("*a")
  file:close()
  wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE")
  if os.getenv("BENCH_HEADER_LENGTH") ~= "" then
    wrk.headers["Inference-Header-Content-Length"] = os.getenv("BENCH_HEADER_LENGTH")
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, '
    .. '"p99_us": %d, "socket_errors": %d, "http_errors": %d}\\n', summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


@dataclass(frozen=True)
class Body:
    """A V2 infer request body asking for logits only; header_length is set for binary ones."""

    data: bytes
    header_length: str = ""

    @property
    def headers(self) -> dict[str, str]:
        if not self.header_length:
            return {"Content-Type": "application/json"}
        return {
            "Content-Type": "application/octet-stream",
            "Inference-Header-Content-Length": self.header_length,
        }


@dataclass(frozen=True)
class Load:
    """One measurement: a request to one server at a number of connections."""

    key: str
    server: str  # "ours" or "mlserver"
    path: str
    body: Body | None  # None: GET
    connections: int
    images: int  # per request


@dataclass
class Running:
    """A server answering ready: its process, port, time to ready and resident memory then."""

    process: subprocess.Popen
    port: int
    start_s: float
    rss_mb: float


def infer_body(images: np.ndarray, binary: bool, every_output: bool = False) -> Body:
    """The images as JSON data, or as JSON then the raw tensor (Triton's binary extension); the
    logits asked for, or (`every_output`) no output named: the protocol's default request, which
    gets every output (ours: logits, probabilities and ood_score; MLServer's runtime: logits)."""
    tensor: dict = {"name": "images", "shape": list(images.shape), "datatype": "FP32"}
    output: dict = {"name": "logits"}
    if not binary:
        tensor["data"] = images.ravel().tolist()
        asked = {} if every_output else {"outputs": [output]}
        return Body(json.dumps({"inputs": [tensor], **asked}).encode())
    raw = np.ascontiguousarray(images, "<f4").tobytes()
    tensor["parameters"] = {"binary_data_size": len(raw)}
    output["parameters"] = {"binary_data": True}
    header = json.dumps({"inputs": [tensor], "outputs": [output]}).encode()
    return Body(header + raw, str(len(header)))


def round_loads(images: np.ndarray) -> list[Load]:
    """Every measurement of a round, ours then MLServer's."""
    single, batch = images[:1], images[:BATCH]
    json_one, binary_one = infer_body(single, False), infer_body(single, True)
    json_batch, binary_batch = infer_body(batch, False), infer_body(batch, True)
    ours = [
        Load(f"ours_{kind}_c{count}", "ours", INFER, body, count, 1)
        for kind, body in (("json", json_one), ("binary", binary_one))
        for count in CONNECTIONS
    ]
    theirs = [Load(f"mlserver_json_c{n}", "mlserver", INFER, json_one, n, 1) for n in CONNECTIONS]
    default_one = infer_body(single, False, every_output=True)
    workers = [
        Load(f"workers_{kind}_c8", "workers", INFER, body, 8, 1)
        for kind, body in (("json", json_one), ("binary", binary_one), ("default", default_one))
    ]
    return [
        *ours,
        Load("ours_default_c8", "ours", INFER, default_one, 8, 1),
        Load("ours_batch_binary", "ours", INFER, binary_batch, BATCH_CONNECTIONS, BATCH),
        Load("ours_live_c8", "ours", "/v2/health/live", None, 8, 0),
        *workers,
        Load("workers_batch_binary", "workers", INFER, binary_batch, BATCH_CONNECTIONS, BATCH),
        Load("workers_live_c8", "workers", "/v2/health/live", None, 8, 0),
        *theirs,
        Load("mlserver_default_c8", "mlserver", INFER, default_one, 8, 1),
        Load("mlserver_batch_json", "mlserver", INFER, json_batch, BATCH_CONNECTIONS, BATCH),
    ]


def test_images() -> tuple[np.ndarray, str]:
    """Real test images if the prepared split is there, else seeded random ones in [0, 1]."""
    if TEST_SPLIT.exists():
        return load_split(TEST_SPLIT).images[:BATCH], str(TEST_SPLIT.relative_to(ROOT))
    images = np.random.default_rng(0).random((BATCH, 28, 28), dtype=np.float32)
    return images, "random images in [0, 1] (no data/prepared/test.npz)"


def mlserver_command() -> Path:
    """MLServer's own environment's `mlserver`, the environment made first if it is missing."""
    marker, command = VENV / ".installed", VENV / "bin/mlserver"
    wanted = "\n".join(MLSERVER_PACKAGES)
    if marker.exists() and marker.read_text() == wanted and command.exists():
        return command
    print(f"bench: installing {' '.join(MLSERVER_PACKAGES)} in {VENV} ...", file=sys.stderr)
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run(["python3", "-m", "venv", str(VENV)], check=True)
    log = VENV / "pip.log"
    with log.open("w") as output:
        pip = [str(VENV / "bin/python"), "-m", "pip", "install", "--disable-pip-version-check"]
        if subprocess.run([*pip, *MLSERVER_PACKAGES], stdout=output, stderr=output).returncode:
            raise SystemExit(f"bench: installing MLServer failed (python3 3.9-3.12?); see {log}")
    marker.write_text(wanted)
    return command


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports: all held open at once, so no two are the same."""
    sockets = [socket.socket() for _ in range(count)]
    for held in sockets:
        held.bind(("127.0.0.1", 0))
    ports = [held.getsockname()[1] for held in sockets]
    for held in sockets:
        held.close()
    return ports


def call(port: int, path: str, body: Body | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request on a new connection, GET or POST: status, headers (lower-case) and body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        if body is None:
            connection.request("GET", path)
        else:
            connection.request("POST", path, body=body.data, headers=body.headers)
        response = connection.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        connection.close()


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        status = Path(f"/proc/{current}/status").read_text()
        total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
        for task in Path(f"/proc/{current}/task").iterdir():
            pending += map(int, (task / "children").read_text().split())
    return total / 1024


def start(command: list[str], folder: Path, env: dict, port: Callable[[], int | None]) -> Running:
    """Start a server; the time until /v2/health/ready answers 200, and its RSS then."""
    log = folder / "server.log"
    began = time.perf_counter()
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=folder, env=env, stdout=output, stderr=output, stdin=subprocess.DEVNULL
        )
    while time.perf_counter() - began < START_TIMEOUT:
        if process.poll() is not None:
            raise SystemExit(f"bench: {command[0]} exited {process.returncode}:\n{log.read_text()}")
        number = port()
        try:
            if number and call(number, "/v2/health/ready")[0] == 200:
                return Running(process, number, time.perf_counter() - began, rss_mb(process.pid))
        except OSError:
            pass  # not listening yet
        time.sleep(0.01)
    process.kill()
    raise SystemExit(f"bench: {command[0]} not ready in {START_TIMEOUT} s:\n{log.read_text()}")


def stop(running: Running, name: str) -> None:
    running.process.send_signal(signal.SIGTERM)
    try:
        code = running.process.wait(30)
    except subprocess.TimeoutExpired:
        running.process.kill()
        code = running.process.wait()
    if code != 0:
        print(f"bench: {name} exited {code} on SIGTERM", file=sys.stderr)


def start_ours(folder: Path, workers: int = 1) -> Running:
    """fmnist serve: one process, or `workers` worker processes under the supervisor."""
    folder.mkdir(parents=True)
    log = folder / "server.log"

    def port() -> int | None:
        found = _OUR_PORT.search(log.read_text(errors="replace"))
        return int(found.group(1)) if found else None

    command = [sys.executable, "-m", "fmnist", "serve", "--model", str(MODEL), "--port", "0"]
    command += ["--grpc-port", "0", "--workers", str(workers)]
    return start([*command, "--quiet"], folder, dict(os.environ), port)


def start_mlserver(folder: Path, mlserver: Path) -> Running:
    """MLServer on three free ports; debug off, which is its access log off, as ours is."""
    folder.mkdir(parents=True)
    http_port, grpc_port, metrics_port = free_ports(3)
    settings = {
        "debug": False,
        "parallel_workers": 0,
        "host": "127.0.0.1",
        "http_port": http_port,
        "grpc_port": grpc_port,
        "metrics_port": metrics_port,
        "metrics_dir": str(folder / "metrics"),
    }
    model = {
        "name": NAME,
        "implementation": "mlserver_runtime.LiteRTModel",
        "parameters": {"uri": str(MODEL)},
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    (folder / "model-settings.json").write_text(json.dumps(model))
    # The runtime is imported from bench/; nothing of the project's environment is passed on.
    path = [part for part in os.environ["PATH"].split(os.pathsep) if not part.startswith(ROOT_VENV)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "bench"), "PATH": os.pathsep.join(path)}
    env.pop("VIRTUAL_ENV", None)
    return start([str(mlserver), "start", "."], folder, env, lambda: http_port)


def logits_of(port: int, body: Body) -> np.ndarray:
    """The logits a server answers for a body, JSON or binary."""
    status, headers, data = call(port, INFER, body)
    if status != 200:
        raise SystemExit(f"bench: infer on port {port} answered {status}: {data[:200]!r}")
    length = int(headers.get("inference-header-content-length", len(data)))
    output = json.loads(data[:length])["outputs"][0]
    values = output["data"] if "data" in output else np.frombuffer(data[length:], "<f4")
    return np.asarray(values, np.float32).reshape(output["shape"])


def check_logits(images: np.ndarray, folder: Path, mlserver: Path) -> float:
    """Both servers' logits for the same test images, JSON and our binary: the largest gap."""
    chunk = images[:CHECK_IMAGES]
    ours = start_ours(folder / "check-ours")
    try:
        ours_json = logits_of(ours.port, infer_body(chunk, False))
        ours_binary = logits_of(ours.port, infer_body(chunk, True))
    finally:
        stop(ours, "ours")
    theirs = start_mlserver(folder / "check-mlserver", mlserver)
    try:
        theirs_json = logits_of(theirs.port, infer_body(chunk, False))
    finally:
        stop(theirs, "mlserver")
    gap = max(
        float(np.abs(ours_json - theirs_json).max()), float(np.abs(ours_binary - ours_json).max())
    )
    verdict = "within" if gap <= TOLERANCE else "NOT within"
    print(
        f"bench: logits check, {CHECK_IMAGES} images: ours (JSON and binary) against MLServer's, "
        f"largest difference {gap:.1e}, {verdict} {TOLERANCE:.0e}",
        file=sys.stderr,
    )
    if gap > TOLERANCE:
        raise SystemExit("bench: the servers disagree; no figures written")
    return gap


def wrk(load: Load, port: int, seconds: int, script: Path, folder: Path) -> dict[str, float]:
    """One wrk run: requests and images per second, p50 and p99 in ms, failed requests."""
    env = {**os.environ, "BENCH_METHOD": "GET", "BENCH_BODY": "", "BENCH_HEADER_LENGTH": ""}
    if load.body is not None:
        body = folder / f"{load.key}.body"
        body.write_bytes(load.body.data)
        env |= {
            "BENCH_METHOD": "POST",
            "BENCH_BODY": str(body),
            "BENCH_CONTENT_TYPE": load.body.headers["Content-Type"],
            "BENCH_HEADER_LENGTH": load.body.header_length,
        }
    threads = min(2, load.connections)  # wrk shares the 2 cores with the server
    command = ["wrk", f"-t{threads}", f"-c{load.connections}", f"-d{seconds}s", "--timeout", "30s"]
    url = f"http://127.0.0.1:{port}{load.path}"
    done = subprocess.run(
        [*command, "-s", str(script), url], env=env, capture_output=True, text=True, timeout=120
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if done.returncode or line is None:
        raise SystemExit(f"bench: wrk failed on {load.key}:\n{done.stdout}\n{done.stderr}")
    summary = json.loads(line.removeprefix("BENCH "))
    per_second = summary["requests"] / (summary["duration_us"] / 1e6)
    return {
        "req_s": per_second,
        "images_s": per_second * load.images,
        "p50_ms": summary["p50_us"] / 1000,
        "p99_ms": summary["p99_us"] / 1000,
        "failed": summary["socket_errors"] + summary["http_errors"],
    }


def machine() -> dict[str, str | bool | int]:
    """lscpu's model name and whether the CPU has AVX-512 (/proc/cpuinfo's where no lscpu)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        text = Path("/proc/cpuinfo").read_text()
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    return {
        "cpu": fields.get("model name", "unknown"),
        "cores": os.cpu_count() or 0,
        "avx512f": "avx512f" in fields.get("flags", "").split(),
    }


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def run_rounds(
    images: np.ndarray, rounds: int, seconds: int, warmup: int, folder: Path, mlserver: Path
) -> dict[str, list[dict[str, float]]]:
    """Each round: our server started, every load of ours, then MLServer's, each after a warm-up."""
    script = folder / "bench.lua"
    script.write_text(WRK_SCRIPT)
    loads = round_loads(images)
    runs: dict[str, list[dict[str, float]]] = {}
    for number in range(1, rounds + 1):
        for server in ("ours", "workers", "mlserver"):
            print(f"bench: round {number} of {rounds}: {server} ...", file=sys.stderr)
            place = folder / f"round-{number}-{server}"
            if server == "mlserver":
                running = start_mlserver(place, mlserver)
            else:
                running = start_ours(place, WORKERS if server == "workers" else 1)
            runs.setdefault(f"{server}_start", []).append(
                {"start_s": running.start_s, "idle_rss_mb": running.rss_mb}
            )
            try:
                for load in (load for load in loads if load.server == server):
                    wrk(load, running.port, warmup, script, place)
                    runs.setdefault(load.key, []).append(
                        wrk(load, running.port, seconds, script, place)
                    )
            finally:
                stop(running, server)
    return runs


def medians(runs: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Each figure's median over the rounds; failed requests summed."""
    return {
        key: {
            name: sum(r[name] for r in rows)
            if name == "failed"
            else statistics.median(r[name] for r in rows)
            for name in rows[0]
        }
        for key, rows in runs.items()
    }


def targets(m: dict[str, dict[str, float]]) -> dict[str, dict[str, float | str | bool]]:
    """The figures the targets are set on, each with its bound and whether it is met."""
    ours_c8, theirs_c8, live = m["ours_json_c8"], m["mlserver_json_c8"], m["ours_live_c8"]["req_s"]
    batch = m["ours_batch_binary"]["images_s"] / m["mlserver_batch_json"]["images_s"]
    checks = (
        ("req_s_c8_vs_mlserver", ours_c8["req_s"] / theirs_c8["req_s"], ">=", 3, "x"),
        ("p99_c8_vs_mlserver", ours_c8["p99_ms"] / theirs_c8["p99_ms"], "<=", 0.5, "x"),
        ("batch_images_s_vs_mlserver", batch, ">=", 10, "x"),
        ("json_c8_vs_live", ours_c8["req_s"] / live, ">=", 0.6, "x"),
        ("binary_c8_vs_live", m["ours_binary_c8"]["req_s"] / live, ">=", 0.6, "x"),
        (
            "workers_json_c8_vs_mlserver",
            m["workers_json_c8"]["req_s"] / theirs_c8["req_s"],
            ">=",
            3,
            "x",
        ),
        (
            "workers_json_c8_vs_live",
            m["workers_json_c8"]["req_s"] / m["workers_live_c8"]["req_s"],
            ">=",
            0.6,
            "x",
        ),
        (
            "workers_binary_c8_vs_live",
            m["workers_binary_c8"]["req_s"] / m["workers_live_c8"]["req_s"],
            ">=",
            0.6,
            "x",
        ),
        ("start_s", m["ours_start"]["start_s"], "<=", 1, " s"),
        ("idle_rss_mb", m["ours_start"]["idle_rss_mb"], "<=", 100, " MB"),
    )
    return {
        name: {
            "value": value,
            "target": f"{sign} {bound:g}{unit}",
            "met": value >= bound if sign == ">=" else value <= bound,
        }
        for name, value, sign, bound, unit in checks
    }


def table(r: dict) -> list[tuple[str, ...]]:
    """The rows: measure, ours, MLServer's, ours over MLServer's, target and met or not."""
    m, t = r["medians"], r["targets"]

    def mark(target: str) -> str:
        return f"{t[target]['target']}: {'met' if t[target]['met'] else 'MISSED'}" if target else ""

    def show(key: str | None, field: str) -> str:
        if key is None:
            return ""
        if field == "latency":
            return f"{m[key]['p50_ms']:.2f} / {m[key]['p99_ms']:.2f}"
        return f"{m[key][field]:.{2 if field == 'start_s' else 0}f}"

    def row(label: str, ours: str, theirs: str | None, field: str, target: str = "") -> tuple:
        by = "p99_ms" if field == "latency" else field
        ratio = f"{m[ours][by] / m[theirs][by]:.2f}x" if theirs else ""
        return (label, show(ours, field), show(theirs, field), ratio, mark(target))

    def load(label: str, ours: str, theirs: str | None, field: str, marks=("", "")) -> list:
        latency = "  latency p50 / p99 ms (ratio of p99)"
        return [
            row(label, ours, theirs, field, marks[0]),
            row(latency, ours, theirs, "latency", marks[1]),
        ]

    rows = []
    for n in CONNECTIONS:
        marks = ("req_s_c8_vs_mlserver", "p99_c8_vs_mlserver") if n == 8 else ("", "")
        label = f"single image, JSON, {n} conn: req/s"
        rows += load(label, f"ours_json_c{n}", f"mlserver_json_c{n}", "req_s", marks)
    for n in CONNECTIONS:
        rows += load(f"single image, binary, {n} conn: req/s", f"ours_binary_c{n}", None, "req_s")
    label = f"batch of {BATCH}, {BATCH_CONNECTIONS} conn, ours binary, MLServer JSON: images/s"
    batch = ("ours_batch_binary", "mlserver_batch_json", "images_s")
    rows += load(label, *batch, ("batch_images_s_vs_mlserver", ""))
    label = "default request (every output), JSON, 8 conn: req/s"
    rows += load(label, "ours_default_c8", "mlserver_default_c8", "req_s")
    rows.append(("GET /v2/health/live, 8 conn: req/s", show("ours_live_c8", "req_s"), "", "", ""))
    for kind in ("json", "binary"):
        name = f"{kind}_c8_vs_live"
        value = f"{t[name]['value']:.2f}x"
        rows.append((f"  single-image {kind} infer / live", value, "", "", mark(name)))
    rows += workers_rows(m, row, show, mark)
    start = f"start to ready, s (median of {r['rounds']})"
    rows.append(row(start, "ours_start", "mlserver_start", "start_s", "start_s"))
    rss = "idle RSS after ready, children included: MB"
    rows.append(row(rss, "ours_start", "mlserver_start", "idle_rss_mb", "idle_rss_mb"))
    return rows


def workers_rows(m: dict, row: Callable, show: Callable, mark: Callable) -> list[tuple]:
    """fmnist serve --workers N (the cores): each load beside MLServer's, and over one process."""
    rows = []
    for kind, theirs in (("json", "mlserver_json_c8"), ("binary", None), ("default", None)):
        label = f"{WORKERS} workers: single image, {kind}, 8 conn: req/s"
        target = "workers_json_c8_vs_mlserver" if kind == "json" else ""
        rows.append(row(label, f"workers_{kind}_c8", theirs, "req_s", target))
        over = m[f"workers_{kind}_c8"]["req_s"] / m[f"ours_{kind}_c8"]["req_s"]
        rows.append(("  over one process", f"{over:.2f}x", "", "", ""))
    label = f"{WORKERS} workers: batch of {BATCH}, binary, {BATCH_CONNECTIONS} conn: images/s"
    rows.append(row(label, "workers_batch_binary", "mlserver_batch_json", "images_s"))
    live = m["workers_live_c8"]["req_s"]
    rows.append(
        (f"{WORKERS} workers: GET /v2/health/live, 8 conn: req/s", f"{live:.0f}", "", "", "")
    )
    for kind in ("json", "binary"):
        ratio = f"{m[f'workers_{kind}_c8']['req_s'] / live:.2f}x"
        rows.append(
            (
                f"  single-image {kind} infer / live",
                ratio,
                "",
                "",
                mark(f"workers_{kind}_c8_vs_live"),
            )
        )
    start = m["workers_start"]
    label = f"{WORKERS} workers: start to ready, s; idle RSS of all processes, MB"
    rows.append((label, f"{start['start_s']:.2f}; {start['idle_rss_mb']:.0f}", "", "", ""))
    return rows


def report(r: dict) -> None:
    cpu = r["machine"]
    print(
        f"\n{cpu['cpu']}, {cpu['cores']} cores, avx512f {'yes' if cpu['avx512f'] else 'no'}; "
        f"commit {r['commit']}{' (with changes)' if r['dirty'] else ''}; {r['date']}; "
        f"{r['rounds']} round(s) of {r['seconds']} s per measurement"
        f"{' (--quick: a smoke run, not figures to quote)' if r['quick'] else ''}\n"
    )
    header = ("measure", "fmnist serve", "MLServer 1.7.0", "ratio", "target")
    rows = [header, *table(r)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for index, row in enumerate(rows):
        cells = [
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        print(f"| {' | '.join(cells)} |")
        if index == 0:
            print(f"|{'|'.join('-' * (w + 2) for w in widths)}|")
    failed = {key: v["failed"] for key, v in r["medians"].items() if v.get("failed")}
    if failed:
        print(f"\nFailed requests (socket errors, HTTP 4xx/5xx): {failed}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round, 1 s per measurement")
    args = parser.parse_args(argv)
    rounds, seconds, warmup = (1, 1, 1) if args.quick else (3, 5, 1)
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is missing: apt-get install wrk (make bench-serve does)")
    if not MODEL.exists():
        raise SystemExit(f"bench: {MODEL.relative_to(ROOT)} is missing: make repro or make pull")
    mlserver = mlserver_command()
    images, source = test_images()
    print(f"bench: images from {source}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="fmnist-bench-serve-") as scratch:
        gap = check_logits(images, Path(scratch), mlserver)
        runs = run_rounds(images, rounds, seconds, warmup, Path(scratch), mlserver)
    figures = medians(runs)
    results = {
        "machine": machine(),
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "rounds": rounds,
        "seconds": seconds,
        "warmup_s": warmup,
        "images": source,
        "logits_largest_difference": gap,
        "mlserver_packages": list(MLSERVER_PACKAGES),
        "medians": figures,
        "targets": targets(figures),
        "runs": runs,
    }
    report(results)
    REPORT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"bench: wrote {REPORT.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
