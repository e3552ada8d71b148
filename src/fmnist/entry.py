"""The `fmnist` console script: Ctrl-C while the CLI's modules load is one line, not a traceback.

NumPy, Pillow and LiteRT take a few tenths of a second to import, before cli.main's own handler
exists; this module imports nothing at its top but sys, so its handler is in place as soon as
Python runs the script. The interpreter's own start-up, the first 30-50 ms, stays uncovered.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Import and run the CLI; 130 and one line on an interrupt at any point."""
    code = None
    try:
        import signal

        from fmnist import cli

        code = cli.main()
        # The work is done and reported: a Ctrl-C while the interpreter shuts down would
        # otherwise kill it by the signal, after the results were printed.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except Exception as error:  # Ctrl-C inside an extension module's import comes wrapped
        if not isinstance(error.__cause__, KeyboardInterrupt):
            raise
        print("fmnist: interrupted", file=sys.stderr)
        code = 130
    except KeyboardInterrupt:
        if code is None:
            print("fmnist: interrupted", file=sys.stderr)
            code = 130
        if (signals := sys.modules.get("signal")) is not None:
            signals.signal(signals.SIGINT, signals.SIG_IGN)
    return code
