"""`adplatform bench`: benchmarks of the running stack, one sub-command each."""

from __future__ import annotations

import argparse

from clients.bench import ads, feedback, pipeline, serve


def register(areas: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """register adds the bench commands."""
    commands = areas.add_parser("bench", help="benchmark the running stack").add_subparsers(
        dest="command", required=True
    )
    serve.register(commands)
    feedback.register(commands)
    pipeline.register(commands)
    ads.register(commands)
