"""The books of a chaos run: the invariants, checked over what the run itself sent. Pure.

The run owns its campaigns (created fresh at its start, so their spent before the run is 0
and nothing else charges them) and knows every request id it was answered for. From what
the devices were told, what MySQL holds, what Hive archived and what went over Kafka, each
function here returns a Check: held or not, and the figures that say why. Money is Decimal
and compared exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from servers.money import ZERO

NEW = "new"
UPDATE = "update"
STOP = "stop"
INACTIVE = "INACTIVE"
EXAMPLES = 3  # ids named in a failed check's detail


@dataclass(frozen=True, slots=True)
class Check:
    """Check is one invariant's verdict with the figures behind it."""

    name: str
    held: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Receipt:
    """Receipt is what a device was told about one feedback: whose charge and how much."""

    campaign_id: str
    expenditure: Decimal


@dataclass(frozen=True, slots=True)
class Billed:
    """Billed is one Hive billing row of the run's traffic."""

    request_id: str
    campaign_id: str
    expenditure: Decimal


@dataclass(frozen=True, slots=True)
class Account:
    """Account is one of the run's campaigns as MySQL holds it after the run."""

    budget: Decimal
    spent: Decimal


def _examples(ids: Iterable[str]) -> str:
    chosen = sorted(ids)[:EXAMPLES]
    return ", ".join(chosen) + (" ..." if chosen else "")


def served_rows(answered: set[str], recorded: set[str]) -> Check:
    """served_rows: every ad answered 200 with a fill has its served_ads row in MySQL."""
    missing = answered - recorded
    detail = f"{len(answered):,} ads answered, {len(answered) - len(missing):,} rows found"
    if missing:
        detail += f"; missing: {_examples(missing)}"
    return Check("every ad answered 200 has its served-ads row", not missing, detail)


def acknowledged_total(receipts: Mapping[str, Receipt], campaigns: Iterable[str]) -> Decimal:
    """acknowledged_total is Σ expenditure the devices were told, for the given campaigns."""
    owned = set(campaigns)
    return sum((r.expenditure for r in receipts.values() if r.campaign_id in owned), ZERO)


def acknowledged_is_spent(
    receipts: Mapping[str, Receipt],
    accounts: Mapping[str, Account],
    recorded: Mapping[str, Decimal],
) -> Check:
    """acknowledged_is_spent: Σ acknowledged = Σ MySQL spent, and each charge as acknowledged.

    accounts are the run's campaigns (spent is the run's delta: they were created with 0);
    recorded is MySQL's feedback row per acknowledged request id (its expenditure).
    """
    acknowledged = acknowledged_total(receipts, accounts)
    spent = sum((account.spent for account in accounts.values()), ZERO)
    differing = {
        request_id
        for request_id, receipt in receipts.items()
        if recorded.get(request_id) != receipt.expenditure
    }
    held = acknowledged == spent and not differing
    detail = f"acknowledged {acknowledged} = MySQL spent {spent}"
    if acknowledged != spent:
        detail = f"acknowledged {acknowledged} != MySQL spent {spent}"
    if differing:
        detail += f"; {len(differing):,} feedback rows differ: {_examples(differing)}"
    return Check("Σ expenditure acknowledged = Σ MySQL spent", held, detail)


def spent_is_billed(
    accounts: Mapping[str, Account], receipts: Mapping[str, Receipt], billed: Sequence[Billed]
) -> Check:
    """spent_is_billed: Σ MySQL spent = Σ Hive billed for the run's campaigns, to the last digit.

    Each acknowledged charge must also be in Hive with the same amount.
    """
    spent = sum((account.spent for account in accounts.values()), ZERO)
    hive = sum((row.expenditure for row in billed if row.campaign_id in accounts), ZERO)
    archived: dict[str, Decimal] = {}
    for row in billed:
        archived.setdefault(row.request_id, row.expenditure)
    differing = {
        request_id
        for request_id, receipt in receipts.items()
        if archived.get(request_id) != receipt.expenditure
    }
    held = spent == hive and not differing
    relation = "=" if spent == hive else "!="
    detail = f"MySQL spent {spent} {relation} Hive billed {hive}"
    if differing:
        detail += f"; {len(differing):,} charges not archived as acknowledged: "
        detail += _examples(differing)
    return Check("Σ MySQL spent = Σ Hive billed", held, detail)


def billed_once(billed: Sequence[Billed]) -> Check:
    """billed_once: no request id appears in the Hive billing archive twice."""
    counts = Counter(row.request_id for row in billed)
    twice = {request_id for request_id, n in counts.items() if n > 1}
    detail = f"{len(billed):,} rows, {len(counts):,} request ids"
    if twice:
        detail += f"; billed more than once: {_examples(twice)}"
    return Check("no request id in Hive twice", not twice, detail)


def within_budget(accounts: Mapping[str, Account]) -> Check:
    """within_budget: no campaign of the run spent past its budget."""
    over = {cid for cid, account in accounts.items() if account.spent > account.budget}
    exhausted = sum(1 for account in accounts.values() if account.spent == account.budget)
    detail = f"{len(accounts)} campaigns, {exhausted} spent their whole budget"
    if over:
        detail += f"; over budget: {_examples(over)}"
    return Check("no campaign spent past its budget", not over, detail)


@dataclass(frozen=True, slots=True)
class Accepted:
    """Accepted is an instruction the campaign API answered 200 for; marker makes it unique.

    The marker is the campaign's text for a create or an update, the reason of a stop.
    """

    campaign_id: str
    action: str  # NEW, UPDATE or STOP
    marker: str


@dataclass(frozen=True, slots=True)
class Published:
    """Published is an instruction record found on the instructions topic."""

    campaign_id: str
    marker: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Stored:
    """Stored is a campaign row as the Ad Manager left it."""

    text: str
    status: str
    status_reason: str
    last_partition: int
    last_sequence: int


def instructions_kept(
    accepted: Sequence[Accepted],
    published: Sequence[Published],
    dead_letters: set[tuple[int, int]],
    committed: Mapping[int, int],
    stored: Mapping[str, Stored],
) -> Check:
    """instructions_kept: every accepted instruction was applied or dead-lettered, none lost.

    An accepted instruction must be on the topic (a retried call may have put it there
    twice); the Ad Manager must have committed past each of its records; each record is
    dead-lettered (its partition and offset are on the dead-letter topic) or applied (the
    campaign's row has reached that position); and the row reflects the campaign's last
    instruction that was not dead-lettered: its text, or INACTIVE after a stop.
    """
    records: dict[str, list[Published]] = {}
    for record in published:
        records.setdefault(record.marker, []).append(record)
    outcome: Counter[str] = Counter()
    failed: list[str] = []
    last: dict[str, tuple[Published, Accepted]] = {}
    for instruction in accepted:
        found = records.get(instruction.marker, [])
        verdict = _verdict(found, dead_letters, committed, stored)
        outcome[verdict] += 1
        if verdict not in ("applied", "dead-lettered"):
            failed.append(f"{instruction.marker} {verdict}")
        for record in found:
            if (record.partition, record.offset) in dead_letters:
                continue
            newest = last.get(record.campaign_id)
            if newest is None or record.offset > newest[0].offset:
                last[record.campaign_id] = (record, instruction)
    stale = [
        campaign_id
        for campaign_id, (_, instruction) in last.items()
        if not _reflects(stored.get(campaign_id), instruction)
    ]
    detail = (
        f"{len(accepted):,} accepted: {outcome['applied']:,} applied, "
        f"{outcome['dead-lettered']:,} dead-lettered"
    )
    for verdict in ("not on the topic", "not consumed", "lost"):
        if outcome[verdict]:
            detail += f", {outcome[verdict]:,} {verdict}"
    if failed:
        detail += f" ({'; '.join(failed[:EXAMPLES])})"
    if stale:
        detail += f"; MySQL does not reflect the last instruction of {_examples(stale)}"
    held = not failed and not stale
    return Check("every accepted instruction applied or dead-lettered", held, detail)


def _verdict(
    found: Sequence[Published],
    dead_letters: set[tuple[int, int]],
    committed: Mapping[int, int],
    stored: Mapping[str, Stored],
) -> str:
    """_verdict is one accepted instruction's fate, judged over every record that carries it."""
    if not found:
        return "not on the topic"
    fates = set()
    for record in found:
        row = stored.get(record.campaign_id)
        if (record.partition, record.offset) in dead_letters:
            fates.add("dead-lettered")
        elif committed.get(record.partition, 0) <= record.offset:
            return "not consumed"
        elif (
            row is not None
            and row.last_partition == record.partition
            and row.last_sequence >= record.offset
        ):
            fates.add("applied")
        else:
            return "lost"
    return "applied" if "applied" in fates else "dead-lettered"


def _reflects(row: Stored | None, instruction: Accepted) -> bool:
    """_reflects tells whether a campaign row shows the effect of its last instruction."""
    if row is None:
        return False
    if instruction.action == STOP:
        return row.status == INACTIVE and instruction.marker in row.status_reason
    return row.text == instruction.marker


def parts_came_back(names_not_back: Sequence[str]) -> Check:
    """parts_came_back: every part hit came back by itself, within the recovery timeout."""
    detail = "all parts served again" if not names_not_back else "not back: "
    detail += ", ".join(names_not_back)
    return Check("every part came back without a restart by hand", not names_not_back, detail)
