"""The fault plan: which part is hit, how, for how long, in what order. Pure: no I/O.

Every fault names the stack part it hits (a `stack status` row) and one way to hit it:

- ``kill``: SIGKILL, the way a crashed host or the OOM killer ends a process; supervision
  must bring the part back;
- ``freeze``: SIGSTOP for ``hold`` seconds, then SIGCONT (always, even when the run is
  interrupted): the part is there but answers nothing, like a stuck disk or a GC pause;
- ``isolate`` (a cluster's hosts only): the part's host is off the network for ``hold``
  seconds, its link down: every part on it keeps running but nothing reaches it, like a
  host that lost its network or power.

``target`` says which process of the part receives the signal: ``process`` the part's own
process, ``worker`` one of its children (an AdServer worker), ``group`` its whole process
group (the Spark writer's Python driver with its JVM), ``envoy`` the Envoy binary beneath
its launcher. ``during`` names what the run sets up first so the fault strikes mid-flow:
``instructions`` a burst of campaign instructions (the Ad Manager mid-feed), ``publishing``
a backlog in the feedback outbox (the relay mid-publish, see FAULTS).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

KILL = "kill"
FREEZE = "freeze"
ISOLATE = "isolate"


@dataclass(frozen=True, slots=True)
class Fault:
    """Fault is one injection: a stack part, the signal's way in and how long it lasts."""

    name: str
    part: str
    how: str  # KILL or FREEZE
    target: str = "process"  # process, worker, group or envoy
    hold: float = 0.0  # seconds a freeze lasts (0 for a kill)
    during: str = ""  # "", "instructions" or "publishing"
    summary: str = ""

    def describe(self) -> str:
        """describe says in a few words what is done: "SIGKILL one worker", "SIGSTOP 20 s"."""
        if self.how == FREEZE:
            return f"SIGSTOP {self.hold:g} s"
        if self.how == ISOLATE:
            return f"host off the network {self.hold:g} s"
        whom = {"worker": " one worker", "group": " process group", "envoy": " envoy"}
        return "SIGKILL" + whom.get(self.target, "")


# The full run, in order: the serving path first, then the pipeline, then the shared
# infrastructure. The outbox relay is a thread of the FeedbackService (servers/feedback/
# relay.py), so it cannot die alone: its fault kills the FeedbackService while the relay is
# mid-publish, with events sent to a briefly frozen broker and not yet marked published.
FAULTS: tuple[Fault, ...] = (
    Fault("adserver-worker", "adserver", KILL, "worker", summary="one AdServer worker"),
    Fault("feedback-service", "feedback-service", KILL, summary="FeedbackService"),
    Fault("campaign-service", "campaign-service", KILL, summary="CampaignService"),
    Fault(
        "ad-manager",
        "ad-manager",
        KILL,
        during="instructions",
        summary="Ad Manager while instructions are being published",
    ),
    Fault(
        "outbox-relay",
        "feedback-service",
        KILL,
        during="publishing",
        summary="outbox relay (FeedbackService thread) mid-publish",
    ),
    Fault("feedback-writer", "feedback-writer", KILL, "group", summary="Spark feedback writer"),
    Fault("kafka", "kafka", KILL, summary="Kafka broker"),
    Fault("envoy", "envoy", KILL, "envoy", summary="Envoy"),
    Fault("mariadb-freeze", "mariadb", FREEZE, hold=20.0, summary="MariaDB frozen"),
    Fault("kafka-outage", "kafka", FREEZE, hold=30.0, summary="Kafka stopped"),
)
# A cluster's run (`chaos --cluster`, deploy/cluster/topology.toml's hosts): a host of each
# engine fails while traffic goes on.
CLUSTER_FAULTS: tuple[Fault, ...] = (
    Fault("kafka-broker", "kafka-2/kafka", KILL, summary="a Kafka broker (kafka-2)"),
    Fault(
        "serving-host",
        "serving-1/adserver",
        ISOLATE,
        hold=20.0,
        summary="serving host serving-1 (AdServer and FeedbackService) off the network",
    ),
    Fault(
        "spark-worker",
        "spark-worker-1/spark-worker-0",
        KILL,
        "group",
        summary="Spark worker spark-worker-1 with its executor",
    ),
    Fault(
        "mariadb-replica",
        "db-replica/mariadb-replica",
        FREEZE,
        hold=20.0,
        summary="the MariaDB replica stopped",
    ),
)
CLUSTER_NAMES = tuple(fault.name for fault in CLUSTER_FAULTS)
NAMES = tuple(fault.name for fault in FAULTS)
# CI's form: a kill, a MySQL freeze and a Kafka outage, with short holds.
SHORT = ("adserver-worker", "mariadb-freeze", "kafka-outage")
SHORT_HOLDS = {"mariadb-freeze": 8.0, "kafka-outage": 10.0}


class PlanError(ValueError):
    """PlanError is a fault list or hold the run cannot follow; its message names the problem."""


def parse_names(text: str, known: Sequence[str] = NAMES) -> tuple[str, ...]:
    """parse_names reads ``--faults a,b,c``: known names, no repeats, in the order given."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise PlanError("--faults names no fault")
    unknown = [name for name in names if name not in known]
    if unknown:
        raise PlanError(f"unknown fault {unknown[0]!r}; choose from {', '.join(known)}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise PlanError(f"fault {repeated[0]!r} is named twice")
    return names


def plan(
    names: Sequence[str] | None = None,
    *,
    short: bool = False,
    holds: dict[str, float] | None = None,
    cluster: bool = False,
) -> list[Fault]:
    """plan lists the faults to inject, in the order given (default: all, or SHORT for CI).

    holds overrides freeze durations by fault name; the short form shortens the holds it
    does not override.
    """
    if cluster:
        chosen = list(names) if names else list(CLUSTER_NAMES)
    else:
        chosen = list(names) if names else list(SHORT if short else NAMES)
    by_name = {fault.name: fault for fault in (*FAULTS, *CLUSTER_FAULTS)}
    durations = {**(SHORT_HOLDS if short else {}), **(holds or {})}
    faults = []
    for name in chosen:
        fault = by_name[name]
        if fault.how in (FREEZE, ISOLATE) and name in durations:
            if durations[name] <= 0:
                raise PlanError(f"{name}: the hold must be positive, got {durations[name]:g}")
            fault = replace(fault, hold=durations[name])
        faults.append(fault)
    return faults


def expected_seconds(faults: Sequence[Fault], lead: float, settle: float, recovery: float) -> float:
    """expected_seconds bounds how long the faults phase runs: each lead, hold, recovery, settle.

    recovery is the allowance per fault for the part to serve again (campaign windows are
    sized from this, so the run's own campaigns stay live until its traffic stops).
    """
    return sum(lead + fault.hold + recovery + settle for fault in faults)
