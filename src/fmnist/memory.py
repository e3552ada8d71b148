"""How much memory this machine can give to a user's input or a training run, and sizes in words."""

from __future__ import annotations

import os


def available_memory() -> int:
    """Bytes of memory available now (free and reclaimable), or 8 GiB where it cannot be read."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def memory_budget() -> int:
    """Bytes an input array may take: a quarter of the memory available (the float32 copy, the
    checks and the model's activations need the rest)."""
    return available_memory() // 4


def size_text(count: float) -> str:
    """A byte count in words: 16 bytes, 3.6 TiB."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"
