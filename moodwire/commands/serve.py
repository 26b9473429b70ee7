"""``moodwire serve``: the HTTP API on a local Ray with the embedded defaults."""

from __future__ import annotations

import argparse
from pathlib import Path

from serve_app.ingress import DEFAULT_INGRESS, INGRESS_KINDS


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("serve", help="serve the HTTP API (Ray Serve) until Ctrl-C")
    parser.add_argument("--config", type=Path, help="Serve config file (e.g. configs/serve.yaml)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs for the local Ray (default: all)")
    parser.add_argument(
        "--ingress",
        choices=INGRESS_KINDS,
        default=DEFAULT_INGRESS,
        help="haproxy: HAProxy straight to the Gateway replicas (default, faster); proxy: Serve's Python proxy",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from serve_app.local import run_local

    run_local(args.config, host=args.host, port=args.port, num_cpus=args.num_cpus, ingress=args.ingress)
    return 0
