"""`python -m fmnist.pipeline.stages NAME [--root DIR]`: the command of every stage in dvc.yaml.

The stage's module is imported here, under fmnist.entry's guard, so a Ctrl-C while TensorFlow
or NumPy loads is one line and exit 130 like one during the work, not a traceback.
"""

import sys

from fmnist.entry import guarded


def main(argv: list[str] | None = None) -> int:
    """Run the named stage with the rest of the arguments."""
    from fmnist.pipeline.stages import NAMES

    args = sys.argv[1:] if argv is None else argv
    name, *rest = args or [""]
    if name not in NAMES:
        print(
            f"usage: python -m fmnist.pipeline.stages {{{','.join(NAMES)}}} [--root DIR]",
            file=sys.stderr,
        )
        return 2

    def stage() -> int:
        from importlib import import_module

        return import_module(f"fmnist.pipeline.stages.{name}").main(rest)

    return guarded(f"fmnist {name}", stage)


if __name__ == "__main__":
    raise SystemExit(main())
