"""Native libraries' chatter kept off the user's terminal.

TensorFlow's and LiteRT's C++ code writes its start-up lines to file descriptor 2, below
Python's sys.stderr, so only a redirection of the descriptor itself catches them.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

EVERYTHING = re.compile(rb"")


@contextmanager
def stderr_without(lines: re.Pattern[bytes]) -> Iterator[None]:
    """Run the block with file descriptor 2 captured; afterwards write back every line it got
    that `lines` does not match at its start (EVERYTHING: none)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            os.write(2, b"".join(line for line in captured if not lines.match(line)))
