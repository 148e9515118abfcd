"""`adplatform stack` and `adplatform protos`: the local stack and the contracts."""

from __future__ import annotations

import argparse
import shlex
import time

from servers.settings import Settings


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from deploy.stack import launcher

    launcher.up(settings.model_copy(update={"bi_server": True}) if args.bi else settings)
    return 0


def _down(args: argparse.Namespace, settings: Settings) -> int:
    from deploy.stack import launcher

    launcher.down(settings)
    return 0


def _status(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.table import Table

    from deploy.stack import launcher

    rows = launcher.status(settings)
    table = Table(
        "part",
        "mode",
        "state",
        "pid",
        "up",
        "health",
        "endpoint",
        title=f"stack in {settings.run_dir}",
    )
    now = time.time()
    for row in rows:
        mode = "managed" if row.managed else "external"
        health = "[green]healthy[/]" if row.healthy else "[red]down[/]"
        state = f"[red]{row.state}[/]" if row.state == "FAILED" else row.state.lower()
        up = _duration(now - row.started_at) if row.started_at else "-"
        table.add_row(row.name, mode, state, str(row.pid or "-"), up, health, row.endpoint)
    console = Console()
    console.print(table)
    for row in rows:
        if row.state == "FAILED":
            console.print(
                f"[red]{row.name} FAILED[/]: supervision gave up restarting it; "
                "`adplatform stack up` starts it again. Last lines of its log:"
            )
            console.print(row.log_tail, markup=False, highlight=False)
    console.print(_metrics_table(settings))
    return 0 if all(row.healthy for row in rows) else 3


def _duration(seconds: float) -> str:
    """_duration is a short human reading of an uptime: 42s, 7m, 3h12m."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _metrics_table(settings: Settings) -> object:
    """_metrics_table shows each server's traffic, errors, p99 and business counters."""
    from rich.table import Table

    from deploy.stack import launcher, scrape
    from deploy.stack.services import GrpcService

    table = Table("server", "requests", "errors", "p99 ms", "business", title="key metrics")
    for part in launcher.all_parts(settings):
        if not isinstance(part, GrpcService):
            continue
        seen = scrape.scrape(part)
        if seen is None:
            table.add_row(part.name, "-", "-", "-", "metrics unavailable")
            continue
        business = "  ".join(f"{key}={value:,.6g}" for key, value in sorted(seen.extra.items()))
        p99 = f"{seen.p99_ms:g}" if seen.p99_ms is not None else "-"
        table.add_row(part.name, f"{seen.requests:,.0f}", f"{seen.errors:,.0f}", p99, business)
    return table


def _env(args: argparse.Namespace, settings: Settings) -> int:
    for name, value in settings.exports().items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def _generate(args: argparse.Namespace, settings: Settings) -> int:
    from deploy import codegen

    codegen.generate()
    print(f"regenerated {codegen.GENERATED}")
    return 0


def _check(args: argparse.Namespace, settings: Settings) -> int:
    from deploy import codegen

    stale = codegen.stale_files()
    if stale:
        print("generated/ is stale; run `adplatform protos generate`:", *stale, sep="\n  ")
        return 1
    print("generated/ matches protos/")
    return 0


def _lint(args: argparse.Namespace, settings: Settings) -> int:
    from deploy import buf

    return buf.lint()


def _breaking(args: argparse.Namespace, settings: Settings) -> int:
    from deploy import buf

    return buf.breaking(args.against)


def register(areas: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """register adds the stack and protos commands."""
    stack = areas.add_parser("stack", help="run the local stack").add_subparsers(
        dest="command", required=True
    )
    up = stack.add_parser("up", help="start every part and wait until healthy")
    up.add_argument("--bi", action="store_true", help="also start the Thrift JDBC server for BI")
    up.set_defaults(handler=_up)
    stack.add_parser("down", help="stop everything the stack started").set_defaults(handler=_down)
    stack.add_parser("status", help="show each part's health").set_defaults(handler=_status)
    stack.add_parser("env", help="print export lines for the stack's addresses").set_defaults(
        handler=_env
    )

    protos = areas.add_parser("protos", help="the contracts in protos/").add_subparsers(
        dest="command", required=True
    )
    protos.add_parser("generate", help="regenerate generated/").set_defaults(handler=_generate)
    protos.add_parser("check", help="fail if generated/ is stale").set_defaults(handler=_check)
    protos.add_parser("lint", help="buf lint").set_defaults(handler=_lint)
    breaking = protos.add_parser("breaking", help="buf breaking against another commit")
    breaking.add_argument("--against", default="HEAD~1", help="git revision (default HEAD~1)")
    breaking.set_defaults(handler=_breaking)
