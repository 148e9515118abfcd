"""The fault plan: names, order, the short form and holds."""

from __future__ import annotations

import pytest

from clients.chaos.plan import (
    FAULTS,
    FREEZE,
    KILL,
    NAMES,
    SHORT,
    PlanError,
    expected_seconds,
    parse_names,
    plan,
)


def test_the_full_plan_hits_every_part_the_issue_names_in_order() -> None:
    faults = plan()
    assert [fault.name for fault in faults] == list(NAMES)
    assert {fault.part for fault in faults} == {
        "adserver",
        "feedback-service",
        "campaign-service",
        "ad-manager",
        "feedback-writer",
        "kafka",
        "envoy",
        "mariadb",
    }
    holds = {fault.name: fault.hold for fault in faults if fault.how == FREEZE}
    assert holds == {"mariadb-freeze": 20.0, "kafka-outage": 30.0}
    assert all(fault.hold == 0 for fault in faults if fault.how == KILL)


def test_the_short_form_covers_a_kill_a_freeze_and_a_kafka_outage_with_short_holds() -> None:
    faults = plan(short=True)
    assert [fault.name for fault in faults] == list(SHORT)
    assert any(fault.how == KILL for fault in faults)
    assert {fault.part for fault in faults if fault.how == FREEZE} == {"mariadb", "kafka"}
    assert sum(fault.hold for fault in faults) <= 20


def test_holds_override_the_defaults_and_must_be_positive() -> None:
    (freeze,) = plan(["mariadb-freeze"], holds={"mariadb-freeze": 3.0})
    assert freeze.hold == 3.0
    (kill,) = plan(["kafka"], holds={"kafka": 9.0})  # a kill has no hold to change
    assert kill.hold == 0
    with pytest.raises(PlanError, match="positive"):
        plan(["kafka-outage"], holds={"kafka-outage": 0})


def test_fault_names_are_read_in_the_order_given() -> None:
    assert parse_names(" envoy, kafka ") == ("envoy", "kafka")


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "names no fault"), ("envoy,disk", "unknown fault 'disk'"), ("kafka,kafka", "twice")],
)
def test_a_bad_fault_list_is_refused_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        parse_names(text)


def test_each_fault_says_how_it_strikes() -> None:
    described = {fault.name: fault.describe() for fault in FAULTS}
    assert described["adserver-worker"] == "SIGKILL one worker"
    assert described["feedback-writer"] == "SIGKILL process group"
    assert described["kafka"] == "SIGKILL"
    assert described["mariadb-freeze"] == "SIGSTOP 20 s"


def test_the_expected_length_adds_lead_hold_recovery_and_settle_per_fault() -> None:
    faults = plan(["kafka", "mariadb-freeze"])
    assert expected_seconds(faults, lead=5, settle=2, recovery=10) == (5 + 10 + 2) * 2 + 20
