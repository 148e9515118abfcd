"""Display: the simulator's live progress and its final summary, as terminal tables."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from clients.simulator.run import Simulation


def _progress(simulation: Simulation) -> Table:
    """_progress is the live line: requests, fill, feedback, spend, errors, latency."""
    summary = simulation.stats.summary()
    table = Table(
        "elapsed",
        "requests",
        "req/s",
        "fill",
        "feedback",
        "spend",
        "errors",
        "serve p50/p99 ms",
        "feedback p99 ms",
        title="simulating",
    )
    errors = sum(summary["errors"].values())
    table.add_row(
        f"{summary['seconds']:.0f}s / {simulation.duration:.0f}s",
        f"{summary['requests']:,}",
        f"{summary['requests_per_second']:,.0f}",
        f"{summary['fill_rate']:.1%}",
        f"{summary['feedback']:,}",
        summary["spend"],
        f"{errors:,}",
        f"{summary['serve_p50_ms']} / {summary['serve_p99_ms']}",
        f"{summary['feedback_p99_ms']}",
    )
    return table


@contextlib.asynccontextmanager
async def live_display(simulation: Simulation, enabled: bool = True) -> AsyncIterator[None]:
    """live_display refreshes the progress table twice a second while the run goes on."""
    if not enabled:
        yield
        return
    with Live(_progress(simulation), console=Console(), refresh_per_second=4) as live:

        async def refresh() -> None:
            while True:
                await asyncio.sleep(0.5)
                live.update(_progress(simulation))

        task = asyncio.create_task(refresh())
        try:
            yield
        finally:
            task.cancel()
            live.update(_progress(simulation))


def summary_table(summary: dict[str, Any]) -> Table:
    """summary_table shows the final summary as name/value rows."""
    table = Table("", "", title="simulation summary", show_header=False)
    for name, value in summary.items():
        table.add_row(name.replace("_", " "), str(value))
    return table
