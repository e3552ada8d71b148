"""`fmnist serve`'s command-line options, turned into ServeSettings (imports nothing heavy)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from fmnist.serve.settings import MIB, ServeSettings

_DEFAULTS = ServeSettings(model=Path())


def add_parser(commands: argparse._SubParsersAction, model_help: str) -> None:
    """The `serve` subcommand and its options, each default taken from ServeSettings."""
    serve = commands.add_parser(
        "serve", help="serve the model over the Open Inference Protocol, with a page at /"
    )
    option = serve.add_argument
    option("--model", type=Path, help=model_help)
    option("--host", default=_DEFAULTS.host, help="address to listen on (default: %(default)s)")
    option("--port", type=int, default=_DEFAULTS.port, help="0 picks a free one (default: 8080)")
    option(
        "--grpc-port",
        type=_grpc_port,
        default=_DEFAULTS.grpc_port,
        help="the same API over gRPC; 0 picks a free one, off turns it off (default: 8081)",
    )
    workers = "processes on the same ports, under a supervisor that restarts them; 1: one process"
    option(
        "--workers",
        type=int,
        default=_DEFAULTS.workers,
        help=f"{workers} (default: cores, here %(default)s)",
    )
    option("--name", default=_DEFAULTS.name, help="the model's name in URLs (default: fmnist)")
    _limits(option)
    option(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let pages from ORIGIN call the API (repeatable; off by default)",
    )
    option("--quiet", action="store_true", help="no access-log line per request")


def _limits(option: Callable[..., object]) -> None:
    """The options that bound what clients can make the server do, and when it looks and stops."""
    option(
        "--max-batch",
        type=int,
        default=_DEFAULTS.max_batch,
        help="images per request (default: %(default)s)",
    )
    option(
        "--max-body-mb",
        type=float,
        default=_DEFAULTS.max_body / MIB,
        help="MiB a request body may take (default: %(default)g)",
    )
    option(
        "--client-timeout",
        type=float,
        default=_DEFAULTS.client_timeout,
        help="seconds a request may take to arrive (default: %(default)s)",
    )
    option(
        "--drain-timeout",
        type=float,
        default=_DEFAULTS.drain_timeout,
        help="seconds in-flight requests get at shutdown (default: %(default)s)",
    )
    option(
        "--poll",
        type=float,
        default=_DEFAULTS.poll,
        help="seconds between looks at the model file for a new version (default: %(default)s)",
    )


def _grpc_port(text: str) -> int | None:
    return None if text == "off" else int(text)


def settings_from(args: argparse.Namespace, model: Path) -> ServeSettings:
    """The options as checked settings; FmnistError names the first bad one."""
    return ServeSettings(
        model=model,
        host=args.host,
        port=args.port,
        grpc_port=args.grpc_port,
        workers=args.workers,
        name=args.name,
        max_batch=args.max_batch,
        max_body=int(args.max_body_mb * MIB),
        client_timeout=args.client_timeout,
        drain_timeout=args.drain_timeout,
        poll=args.poll,
        cors_origins=tuple(args.cors_origin),
        quiet=args.quiet,
    )
