"""The `adplatform` command: the local stack, contracts, and (as they land) the platform's tools."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from servers.settings import Settings, load

Handler = Callable[[argparse.Namespace, Settings], int]


def _stack_up(args: argparse.Namespace, settings: Settings) -> int:
    from deploy.stack import launcher

    launcher.up(settings)
    return 0


def _stack_down(args: argparse.Namespace, settings: Settings) -> int:
    from deploy.stack import launcher

    launcher.down(settings)
    return 0


def _stack_status(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.table import Table

    from deploy.stack import launcher

    rows = launcher.status(settings)
    table = Table("part", "mode", "pid", "health", "endpoint", title=f"stack in {settings.run_dir}")
    for row in rows:
        mode = "managed" if row.managed else "external"
        health = "[green]healthy[/]" if row.healthy else "[red]down[/]"
        table.add_row(row.name, mode, str(row.pid or "-"), health, row.endpoint)
    Console().print(table)
    return 0 if all(row.healthy for row in rows) else 3


def _stack_env(args: argparse.Namespace, settings: Settings) -> int:
    import shlex

    for name, value in settings.exports().items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def _protos_generate(args: argparse.Namespace, settings: Settings) -> int:
    from deploy import codegen

    codegen.generate()
    print(f"regenerated {codegen.GENERATED}")
    return 0


def _protos_check(args: argparse.Namespace, settings: Settings) -> int:
    from deploy import codegen

    stale = codegen.stale_files()
    if stale:
        print("generated/ is stale; run `adplatform protos generate`:", *stale, sep="\n  ")
        return 1
    print("generated/ matches protos/")
    return 0


def _protos_lint(args: argparse.Namespace, settings: Settings) -> int:
    from deploy import buf

    return buf.lint()


def _protos_breaking(args: argparse.Namespace, settings: Settings) -> int:
    from deploy import buf

    return buf.breaking(args.against)


def parser() -> argparse.ArgumentParser:
    """parser builds the command line: one sub-command per area of the platform."""
    root = argparse.ArgumentParser(prog="adplatform", description=__doc__)
    areas = root.add_subparsers(dest="area", required=True)

    stack = areas.add_parser("stack", help="run the local stack").add_subparsers(
        dest="command", required=True
    )
    stack.add_parser("up", help="start every part and wait until healthy").set_defaults(
        handler=_stack_up
    )
    stack.add_parser("down", help="stop everything the stack started").set_defaults(
        handler=_stack_down
    )
    stack.add_parser("status", help="show each part's health").set_defaults(handler=_stack_status)
    stack.add_parser("env", help="print export lines for the stack's addresses").set_defaults(
        handler=_stack_env
    )

    protos = areas.add_parser("protos", help="generated code from protos/").add_subparsers(
        dest="command", required=True
    )
    protos.add_parser("generate", help="regenerate generated/").set_defaults(
        handler=_protos_generate
    )
    protos.add_parser("check", help="fail if generated/ is stale").set_defaults(
        handler=_protos_check
    )
    protos.add_parser("lint", help="buf lint").set_defaults(handler=_protos_lint)
    breaking = protos.add_parser("breaking", help="buf breaking against another commit")
    breaking.add_argument("--against", default="HEAD~1", help="git revision (default HEAD~1)")
    breaking.set_defaults(handler=_protos_breaking)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """main runs one command; bring-up problems print one clear line instead of a traceback."""
    from pydantic import ValidationError as SettingsError

    from deploy.stack.errors import StackError

    args = parser().parse_args(argv)
    try:
        settings = load()
        handler: Handler = args.handler
        return handler(args, settings)
    except SettingsError as error:
        print(f"adplatform: bad configuration: {error}", file=sys.stderr)
    except StackError as error:
        print(f"adplatform: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print("adplatform: interrupted", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
