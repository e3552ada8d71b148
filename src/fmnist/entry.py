"""A Ctrl-C guard from the first line: the `fmnist` console script and `python -m fmnist.stages`.

NumPy, Pillow, LiteRT and TensorFlow take from a few tenths of a second to 4 s to import, before
the command's own handler exists; this module imports nothing at its top but sys, so its
handler is in place as soon as Python runs the script. The interpreter's own start-up, the first
30-50 ms, stays uncovered.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def _ignore_sigint() -> None:
    if (signals := sys.modules.get("signal")) is not None:
        signals.signal(signals.SIGINT, signals.SIG_IGN)


def _redeliver_interrupt(unraisable) -> None:
    """A Ctrl-C that lands in a callback Python cannot raise from (an import lock's weakref
    callback, seen once while TensorFlow loaded) would print "Exception ignored" and a traceback,
    and then be lost: it is sent again, to land in the command like any other. Sent from another
    thread, a moment later: sent at once, it would raise inside this hook and be lost again."""
    if issubclass(unraisable.exc_type, KeyboardInterrupt):
        import _thread
        import os
        import signal
        import time

        def resend() -> None:
            time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGINT)

        _thread.start_new_thread(resend, ())
        return
    sys.__unraisablehook__(unraisable)


def guarded(name: str, command: Callable[[], int]) -> int:
    """Run `command` (which does its own imports); 130 and one line on an interrupt at any point."""
    code = None
    sys.unraisablehook = _redeliver_interrupt
    try:
        import signal

        code = command()
        # The work is done and reported: a Ctrl-C while the interpreter shuts down would
        # otherwise kill it by the signal, after the results were printed.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except Exception as error:  # Ctrl-C inside an extension module's import comes wrapped
        if not isinstance(error.__cause__, KeyboardInterrupt):
            raise
        print(f"{name}: interrupted", file=sys.stderr)
        code = 130
    except KeyboardInterrupt:
        if code is None:
            print(f"{name}: interrupted", file=sys.stderr)
            code = 130
        _ignore_sigint()
    return code
