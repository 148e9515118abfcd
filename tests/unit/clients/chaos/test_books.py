"""The books: each invariant holds on consistent evidence and fails naming what broke."""

from __future__ import annotations

from decimal import Decimal

from clients.chaos.books import (
    NEW,
    STOP,
    UPDATE,
    Accepted,
    Account,
    Billed,
    Published,
    Receipt,
    Stored,
    acknowledged_is_spent,
    billed_once,
    instructions_kept,
    parts_came_back,
    served_rows,
    spent_is_billed,
    within_budget,
)

D = Decimal
RECEIPTS = {
    "r1": Receipt("c1", D("0.0473")),
    "r2": Receipt("c1", D("0")),
    "r3": Receipt("c2", D("0.0011")),
}
ACCOUNTS = {"c1": Account(D("1"), D("0.0473")), "c2": Account(D("1"), D("0.0011"))}
BILLED = [
    Billed("r1", "c1", D("0.0473")),
    Billed("r2", "c1", D("0")),
    Billed("r3", "c2", D("0.0011")),
]


def test_every_answered_ad_needs_its_served_row() -> None:
    assert served_rows({"a", "b"}, {"a", "b", "other"}).held
    missing = served_rows({"a", "b"}, {"a"})
    assert not missing.held
    assert "missing: b" in missing.detail


def test_acknowledged_equals_spent_to_the_last_digit() -> None:
    recorded = {rid: receipt.expenditure for rid, receipt in RECEIPTS.items()}
    check = acknowledged_is_spent(RECEIPTS, ACCOUNTS, recorded)
    assert check.held, check.detail
    assert "0.0484" in check.detail


def test_a_charge_no_device_was_told_of_breaks_the_equality() -> None:
    recorded = {rid: receipt.expenditure for rid, receipt in RECEIPTS.items()}
    overspent = {**ACCOUNTS, "c2": Account(D("1"), D("0.0011000001"))}
    check = acknowledged_is_spent(RECEIPTS, overspent, recorded)
    assert not check.held
    assert "!=" in check.detail


def test_a_feedback_row_that_differs_from_its_receipt_is_named() -> None:
    recorded = {"r1": D("0.0473"), "r2": D("0"), "r3": D("0.0012")}
    check = acknowledged_is_spent(RECEIPTS, ACCOUNTS, recorded)
    assert not check.held
    assert "r3" in check.detail


def test_receipts_on_other_campaigns_are_checked_per_id_not_summed_into_ours() -> None:
    receipts = {**RECEIPTS, "r9": Receipt("someone-else", D("5"))}
    recorded = {rid: receipt.expenditure for rid, receipt in receipts.items()}
    assert acknowledged_is_spent(receipts, ACCOUNTS, recorded).held


def test_spent_equals_billed_and_every_charge_is_archived_as_acknowledged() -> None:
    assert spent_is_billed(ACCOUNTS, RECEIPTS, BILLED).held
    missing = spent_is_billed(ACCOUNTS, RECEIPTS, BILLED[:2])
    assert not missing.held
    assert "r3" in missing.detail


def test_a_request_id_billed_twice_is_caught() -> None:
    assert billed_once(BILLED).held
    twice = billed_once([*BILLED, Billed("r1", "c1", D("0.0473"))])
    assert not twice.held
    assert "r1" in twice.detail
    assert not spent_is_billed(ACCOUNTS, RECEIPTS, [*BILLED, BILLED[0]]).held


def test_no_campaign_may_spend_past_its_budget() -> None:
    exact = {"c1": Account(D("2"), D("2"))}
    assert within_budget(exact).held
    assert "1 spent their whole budget" in within_budget(exact).detail
    over = within_budget({"c1": Account(D("2"), D("2.0000000001"))})
    assert not over.held


def _stored(text: str, offset: int, status: str = "ACTIVE", reason: str = "") -> Stored:
    return Stored(text, status, reason, last_partition=3, last_sequence=offset)


ACCEPTED = [Accepted("c1", NEW, "m0"), Accepted("c1", UPDATE, "m1"), Accepted("c1", UPDATE, "m2")]
PUBLISHED = [
    Published("c1", "m0", 3, 10),
    Published("c1", "m1", 3, 11),
    Published("c1", "m2", 3, 12),
]


def test_instructions_applied_in_order_are_kept() -> None:
    check = instructions_kept(ACCEPTED, PUBLISHED, set(), {3: 13}, {"c1": _stored("m2", 12)})
    assert check.held, check.detail
    assert "3 accepted: 3 applied, 0 dead-lettered" in check.detail


def test_a_dead_lettered_instruction_is_kept_and_the_row_reflects_the_one_before() -> None:
    check = instructions_kept(ACCEPTED, PUBLISHED, {(3, 12)}, {3: 13}, {"c1": _stored("m1", 11)})
    assert check.held, check.detail
    assert "2 applied, 1 dead-lettered" in check.detail


def test_an_accepted_instruction_missing_from_the_topic_is_lost() -> None:
    check = instructions_kept(ACCEPTED, PUBLISHED[:2], set(), {3: 13}, {"c1": _stored("m1", 11)})
    assert not check.held
    assert "1 not on the topic" in check.detail


def test_an_instruction_consumed_but_neither_applied_nor_dead_lettered_is_lost() -> None:
    check = instructions_kept(ACCEPTED, PUBLISHED, set(), {3: 13}, {"c1": _stored("m1", 11)})
    assert not check.held
    assert "1 lost" in check.detail
    assert "does not reflect" in check.detail


def test_an_instruction_the_ad_manager_has_not_consumed_fails() -> None:
    check = instructions_kept(ACCEPTED, PUBLISHED, set(), {3: 12}, {"c1": _stored("m1", 11)})
    assert not check.held
    assert "1 not consumed" in check.detail


def test_a_retried_create_published_twice_is_kept_when_both_records_are_handled() -> None:
    published = [Published("c1", "m0", 3, 10), Published("c1", "m0", 3, 11)]
    check = instructions_kept(
        [Accepted("c1", NEW, "m0")], published, {(3, 11)}, {3: 12}, {"c1": _stored("m0", 10)}
    )
    assert check.held, check.detail


def test_a_stop_is_reflected_by_an_inactive_row_carrying_its_reason() -> None:
    accepted = [Accepted("c1", NEW, "m0"), Accepted("c1", STOP, "stop-1")]
    published = [Published("c1", "m0", 3, 10), Published("c1", "stop-1", 3, 11)]
    stopped = _stored("m0", 11, status="INACTIVE", reason="stopped: stop-1")
    assert instructions_kept(accepted, published, set(), {3: 12}, {"c1": stopped}).held
    active = _stored("m0", 11)
    assert not instructions_kept(accepted, published, set(), {3: 12}, {"c1": active}).held


def test_every_part_must_come_back() -> None:
    assert parts_came_back([]).held
    failed = parts_came_back(["kafka"])
    assert not failed.held
    assert "kafka" in failed.detail
