"""What a supervisor and its worker processes share: a private folder, read and written whole.

- `models/<version>.tflite`: a model file the supervisor checked, copied byte for byte. Workers
  load these copies, never the user's file, so a file that changes again (or is damaged) after
  its check cannot reach one worker and not another.
- `current`: the version the workers should serve.
- `served/<pid>`: the version each worker serves now, for readiness.
- `metrics/`: prometheus-client's multiprocess files: every worker's counters, summed.

Each file is written beside its name and renamed onto it, so a reader sees the old or the new
whole, never a half. One worker process serving alone (--workers 1) needs none of this.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # where prometheus-client's multiprocess mode writes


def _write(path: Path, data: bytes) -> None:
    part = path.with_name(f".{path.name}.{os.getpid()}")
    part.write_bytes(data)
    os.replace(part, path)


@dataclass(frozen=True)
class Staging:
    """The shared folder."""

    root: Path

    @classmethod
    def create(cls) -> Staging:
        """A new private folder (mode 0700), its subfolders, and the metrics' environment."""
        root = Path(tempfile.mkdtemp(prefix="fmnist-serve-"))
        for folder in ("models", "served", "metrics"):
            (root / folder).mkdir()
        os.environ[METRICS_ENV] = str(root / "metrics")
        return cls(root)

    @property
    def metrics(self) -> Path:
        return self.root / "metrics"

    @property
    def pointer(self) -> Path:
        """The file naming the version to serve: its stamp changes when the version does."""
        return self.root / "current"

    def model(self, version: str) -> Path:
        return self.root / "models" / f"{version}.tflite"

    def stage(self, version: str, data: bytes) -> None:
        """The checked bytes of `version` as the version to serve."""
        _write(self.model(version), data)
        _write(self.pointer, version.encode())

    def current(self) -> str:
        return self.pointer.read_text()

    def publish(self, version: str) -> None:
        """This worker now serves `version`."""
        _write(self.root / "served" / str(os.getpid()), version.encode())

    def forget(self, pid: int) -> None:
        """A worker that is gone serves nothing."""
        (self.root / "served" / str(pid)).unlink(missing_ok=True)

    def served(self) -> dict[str, str]:
        """Each live worker's pid and the version it serves."""
        found = {}
        for path in (self.root / "served").iterdir():
            if not path.name.startswith("."):
                try:
                    found[path.name] = path.read_text()
                except FileNotFoundError:  # its worker just went
                    continue
        return dict(sorted(found.items()))

    def prune(self, keep: set[str]) -> None:
        """Staged models no worker serves and none will."""
        for path in (self.root / "models").glob("*.tflite"):
            if path.stem not in keep:
                path.unlink(missing_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
