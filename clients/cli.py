"""The `adplatform` command: the local stack, contracts, campaigns, users and the platform's tools.

Each area registers its sub-commands from its own module; a handler takes the parsed
arguments and the settings and returns the exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from servers.settings import Settings, load

if TYPE_CHECKING:
    from pydantic import ValidationError as SettingsError

Handler = Callable[[argparse.Namespace, Settings], int]


def parser() -> argparse.ArgumentParser:
    """parser builds the command line: one sub-command per area of the platform."""
    from clients import (
        archive_commands,
        auth_commands,
        campaigns_commands,
        cluster_commands,
        demo,
        report_commands,
        stack_commands,
        users_commands,
    )
    from clients.bench import commands as bench_commands
    from clients.chaos import commands as chaos_commands
    from clients.simulator import commands as simulator_commands

    root = argparse.ArgumentParser(prog="adplatform", description=__doc__)
    areas = root.add_subparsers(dest="area", required=True)
    for area in (
        stack_commands,
        cluster_commands,
        campaigns_commands,
        auth_commands,
        users_commands,
        simulator_commands,
        bench_commands,
        report_commands,
        archive_commands,
        demo,
        chaos_commands,
    ):
        area.register(areas)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """main runs one command; expected failures print one clear line instead of a traceback."""
    from pydantic import ValidationError as SettingsError

    from deploy.stack.errors import StackError
    from servers.errors import DomainError

    args = parser().parse_args(argv)
    try:
        settings = load()
        handler: Handler = args.handler
        return handler(args, settings)
    except SettingsError as error:
        print(f"adplatform: bad configuration: {_one_line(error)}", file=sys.stderr)
    except (StackError, DomainError) as error:
        print(f"adplatform: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print("adplatform: interrupted", file=sys.stderr)
    return 1


def _one_line(error: SettingsError) -> str:
    """_one_line names each refused setting and why, as one line (pydantic's report has five)."""
    problems = []
    for problem in error.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in problem["loc"]) or "settings"
        message = problem["msg"].removeprefix("Value error, ")
        problems.append(f"{name}: {message}")
    return "; ".join(problems)


if __name__ == "__main__":
    sys.exit(main())
