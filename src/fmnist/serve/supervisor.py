"""`fmnist serve --workers N`: N forked worker processes on the same sockets, and their keeper.

Pre-fork, as gunicorn does it: the supervisor binds the HTTP socket once and every worker
accepts from it (the kernel hands each connection to one; a worker that dies leaves the
connections it had not accepted to the others). gRPC's port is bound by each worker with
SO_REUSEPORT. The supervisor serves nothing itself; it

- checks the model file once, and again whenever it changes: the checked bytes are staged
  (staging.py) and every worker loads that copy; a damaged file is refused once, in one line,
  and no worker sees it;
- restarts a worker that dies (after a pause that doubles while workers die young, up to 5 s);
- on SIGTERM or Ctrl-C sends each worker one SIGTERM (they drain as one process does), waits
  for them, and exits 0; a second signal sends a second SIGTERM, which stops them at once.

Workers ignore SIGINT (a terminal's Ctrl-C reaches the whole process group: they hear of it
from the supervisor, once) and get SIGTERM if the supervisor dies.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.multiprocess import mark_process_dead

from fmnist.core.errors import FmnistError
from fmnist.inference.classifier import read_model
from fmnist.serve.metrics import Metrics
from fmnist.serve.served_model import Stamp, load_bytes, stamp
from fmnist.serve.staging import Staging

LOG = logging.getLogger("fmnist.serve")
_SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}
_PR_SET_PDEATHSIG = 1
YOUNG = 1.0  # seconds: a worker that dies sooner counts as failing to start
MAX_PAUSE = 5.0


def check_and_stage(staging: Staging, path: Path) -> str:
    """The file at `path` read once, checked, and staged for the workers: its version."""
    data = read_model(path)
    version = load_bytes(path, data).version
    staging.stage(version, data)
    return version


@dataclass
class Supervisor:
    """The worker processes, their restarts, the model's checks, and the shutdown."""

    staging: Staging
    model: Path
    version: str
    workers: int
    poll: float
    start_worker: Callable[[], int]  # runs in the child, serves until told to stop
    sockets: list[socket.socket]
    children: dict[int, float] = field(default_factory=dict)  # pid: when it started
    stopping: bool = False
    pause: float = 0.0
    due: list[float] = field(default_factory=list)  # when each pending restart may start

    def run(self) -> int:
        """Serve until SIGTERM or Ctrl-C and every worker has drained: 0."""
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # pending while blocked, never lost
        self.metrics = Metrics(self.staging.metrics)  # the reloads it counts, beside the workers'
        self.seen: Stamp | None = stamp(self.model)
        for _ in range(self.workers):
            self._spawn()
        next_look = time.monotonic() + self.poll
        while self.children or not self.stopping:
            now = time.monotonic()
            wake = min([next_look, *self.due]) if not self.stopping else now + 0.5
            found = signal.sigtimedwait(_SIGNALS, max(0.0, wake - now))
            if found is not None and found.si_signo != signal.SIGCHLD:
                self._stop()
            self._reap()
            self._restart()
            if not self.stopping and time.monotonic() >= next_look:
                self._look()
                next_look = time.monotonic() + self.poll
        return 0

    def _spawn(self) -> None:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS - {signal.SIGINT})
                ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
                code = self.start_worker()
            except BaseException as error:  # a worker must never return into this loop
                LOG.error("fmnist serve: worker %d failed: %s", os.getpid(), error)
            finally:
                os._exit(code)
        self.children[pid] = time.monotonic()

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            started = self.children.pop(pid, None)
            if started is None:
                continue
            mark_process_dead(pid, str(self.staging.metrics))
            self.staging.forget(pid)
            if self.stopping:
                continue
            young = time.monotonic() - started < YOUNG
            self.pause = min(MAX_PAUSE, max(0.1, self.pause * 2)) if young else 0.0
            how = (
                f"signal {-os.waitstatus_to_exitcode(status)}"
                if os.WIFSIGNALED(status)
                else (f"exit code {os.waitstatus_to_exitcode(status)}")
            )
            LOG.info("fmnist serve: worker %d ended (%s); starting another", pid, how)
            self.due.append(time.monotonic() + self.pause)

    def _restart(self) -> None:
        now = time.monotonic()
        for when in [when for when in self.due if when <= now]:
            self.due.remove(when)
            if not self.stopping:
                self._spawn()

    def _stop(self) -> None:
        if not self.stopping:
            self.stopping = True
            self.due.clear()
            for listener in self.sockets:
                listener.close()  # the workers' copies close as they drain
        for pid in self.children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue

    def _look(self) -> None:
        """The model file, if it changed: checked once, and staged if it passed."""
        now = stamp(self.model)
        if now == self.seen:
            return
        self.seen = now
        if now is None:
            LOG.info("fmnist serve: %s is gone; version %s keeps serving", self.model, self.version)
            return
        try:
            version = check_and_stage(self.staging, self.model)
        except FmnistError as error:
            self.metrics.reloads.labels("refused").inc()
            LOG.info("fmnist serve: kept version %s; refused %s", self.version, error)
            return
        if version != self.version:
            self.metrics.reloads.labels("loaded").inc()
            self.staging.prune({version, self.version})
            LOG.info("fmnist serve: now serving version %s (was %s)", version, self.version)
            self.version = version
