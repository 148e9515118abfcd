"""The command supervisord runs for a part: `python -m deploy.stack.program <program file>`.

It appends stdout and stderr to the part's log, moves to its directory and replaces itself
with the part's own argv and environment (exec), so supervisord watches the part itself and
every restart runs exactly what `stack up` recorded (deploy/stack/supervision.py).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(program_file: str) -> None:
    """main execs the part described by program_file; it returns only by raising."""
    record = json.loads(Path(program_file).read_text())
    log = Path(record["log"])
    log.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.chdir(record["cwd"])
    argv = [str(arg) for arg in record["argv"]]
    os.execvpe(argv[0], argv, {str(k): str(v) for k, v in record["env"].items()})


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m deploy.stack.program <program file>")
    main(sys.argv[1])
