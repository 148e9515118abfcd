"""CPU by part: where a benchmark's CPU went, per process of the running stack, from /proc.

On a cluster's hosts it is each host's CPU instead (its supervisord's process tree).
A part's CPU is its recorded process's and every descendant's (the AdServer's and the
FeedbackService's workers, Envoy under its launcher, the Spark writer's JVM), read as utime +
stime before and after a measurement. A worker that died and was replaced between the two
readings takes its CPU with it, so a run with faults under-counts; benchmarks run without.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from clients.chaos.inject import Stack, descendants
from deploy.stack.supervision import Supervisor
from servers.settings import Settings

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """cpu_seconds is the CPU pid has used so far (user + system), 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # The command name may contain spaces; the fields after its closing parenthesis are fixed:
    # utime and stime are fields 14 and 15 of proc(5), the 12th and 13th after the name.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def tree_cpu_seconds(pid: int) -> float:
    """tree_cpu_seconds is the CPU of pid and all its living descendants."""
    return sum(cpu_seconds(each) for each in (pid, *descendants(pid)))


def snapshot(settings: Settings) -> dict[str, float]:
    """snapshot is every running part's CPU so far, by part name.

    On a cluster (`cluster env`: the run directory is one of cluster_dir's hosts), it is every
    host's CPU so far, by host name: its supervisord and every part under it.
    """
    hosts = settings.cluster_dir / "hosts"
    if settings.run_dir.parent == hosts:
        return _hosts_snapshot(hosts)
    stack = Stack(settings)
    readings: dict[str, float] = {}
    for name in stack.parts:
        pid = stack.pid(name)
        if pid is not None:
            readings[name] = tree_cpu_seconds(pid)
    return readings


def _hosts_snapshot(hosts: Path) -> dict[str, float]:
    """_hosts_snapshot is each cluster host's CPU so far: its supervisord's process tree."""
    readings: dict[str, float] = {}
    for run_dir in sorted(hosts.iterdir()):
        pid = Supervisor(run_dir).daemon.pid()
        if pid is not None:
            readings[run_dir.name] = tree_cpu_seconds(pid)
    return readings


@dataclass(frozen=True, slots=True)
class CpuShare:
    """CpuShare is one part's CPU over a measurement: in all and per unit of work."""

    part: str
    seconds: float
    ms_per_unit: float


def per_unit(before: Mapping[str, float], after: Mapping[str, float], units: int) -> list[CpuShare]:
    """per_unit is each part's CPU between two snapshots, per unit of work, largest first."""
    shares = [
        CpuShare(part, used, used * 1000 / units if units else 0.0)
        for part, used in ((part, after[part] - before.get(part, 0.0)) for part in after)
        if used > 0
    ]
    return sorted(shares, key=lambda share: share.seconds, reverse=True)
