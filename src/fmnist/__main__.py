"""The `fmnist` command (console script, or `python -m fmnist`): fmnist.cli under
fmnist.entry's Ctrl-C guard. Kept at the package's top so that the guard is in place after
as few imports as possible."""

from fmnist.entry import guarded


def _cli() -> int:
    from fmnist import cli  # imported under the guard: NumPy, Pillow, LiteRT

    return cli.main()


def main() -> int:
    """Entry point of the `fmnist` console script."""
    return guarded("fmnist", _cli)


if __name__ == "__main__":
    raise SystemExit(main())
