"""A Ctrl-C guard from the first line: the `fmnist` console script and the stages' command.

NumPy, Pillow, LiteRT and TensorFlow take from a few tenths of a second to 4 s to import, before
the command's own handler exists. This module imports nothing but sys (loaded with the
interpreter), and neither do the modules Python runs before it (`fmnist`, `fmnist.__main__`,
`fmnist.pipeline`, `fmnist.pipeline.stages`, `fmnist.pipeline.stages.__main__`): the guard is
in place from fmnist's first line. The interpreter's own start-up stays uncovered.
`tests/test_cli.py` interrupts the command at evenly spaced Python events from there to exit, so
the claim is checked without timing.
"""

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # no import at run time, not even typing's
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


_interrupted = False


def _interrupt(signum: int, frame: object) -> None:
    """Python's own Ctrl-C handler, but remembered: C code can swallow the KeyboardInterrupt and
    raise something else in its place (NumPy's C extension, interrupted while it imports
    datetime, raises "Importing the numpy C-extensions failed")."""
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def guarded(name: str, command: "Callable[[], int]") -> int:
    """Run `command` (which does its own imports); 130 and one line on an interrupt at any point."""
    code = None
    sys.unraisablehook = _redeliver_interrupt
    try:
        import signal

        # Left alone where SIGINT came ignored (nohup, a background job): Python's own rule.
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _interrupt)
        code = command()
        # The work is done and reported: a Ctrl-C while the interpreter shuts down would
        # otherwise kill it by the signal, after the results were printed.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except BaseException as error:
        # An error after a Ctrl-C is the Ctrl-C's doing, whatever an extension module made of it.
        if not (isinstance(error, KeyboardInterrupt) or _interrupted):
            raise
        if code is None:
            print(f"{name}: interrupted", file=sys.stderr)
            code = 130
        _ignore_sigint()
    return code
