"""Every public JSON route is total: hostile requests through Envoy get 2xx or 4xx, never harm.

Thousands of generated requests (tests/integration/fuzzing.py, seeded) go to the seven
public routes at once, one connection per route, while a bystander sends good requests.
Afterwards: no answer was a 5xx or no answer at all; the bystander was never refused; the
Ad Manager is still healthy and applies a next good instruction; and once it has caught up,
MySQL holds exactly the campaigns the 2xx creates promised, stopped exactly those the 2xx
stops promised, updated only what the 2xx updates promised, and nothing else changed.

Run it alone against a kept stack:

    ADPLATFORM_TEST_STACK_DIR=/tmp/stack-fuzz ADPLATFORM_TEST_KEEP_STACK=1 \
        .venv/bin/pytest tests/integration/test_fuzz_http.py -q -s
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
from adplatform.v1 import campaign_service_pb2
from sqlalchemy import Engine, select

from clients import channels
from deploy.stack import auth, launcher
from deploy.stack.process import alive
from servers.campaigns.instructions import UPDATABLE_FIELDS
from servers.settings import Settings
from servers.storage.schema import campaigns
from tests.integration.fuzzing import Answer, Case, Client, Hostile, Routes, encode, valid_campaign
from tests.polling import eventually

pytestmark = pytest.mark.integration

SEED = 20261201
CASES_PER_ROUTE = 600
MIN_CASES_PER_ROUTE = 300  # fewer in FUZZ_SECONDS: the run proved too little, and fails
FUZZ_SECONDS = 45.0  # the fuzz run stops here even if a route has cases left (~15 s usual)
CATCH_UP_SECONDS = 30.0  # how long the Ad Manager may take to apply what was accepted
BYSTANDER_MAX_ROUNDS = 2_000
CAMPAIGN_ROUTES = ("create", "update", "stop", "get", "list")
ROUTES = (*CAMPAIGN_ROUTES, "serve", "feedback")
SPEC_FIELDS = UPDATABLE_FIELDS  # every spec field but the id
MONEY_FIELDS = ("cpc", "cpa", "budget")
QUEUED = "queued for the Ad Manager: "
EXHAUSTED = "budget exhausted"


@dataclass
class Run:
    """Run is what the fuzz run sent and got: every case and answer, per route."""

    answers: dict[str, list[tuple[Case, Answer]]] = field(default_factory=lambda: defaultdict(list))
    bystander: list[tuple[str, Answer]] = field(default_factory=list)
    good_creates: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> preview


def _canonical(name: str, value: Any) -> str:
    """_canonical is a spec value as comparable text: money by value, the rest as JSON."""
    if name in MONEY_FIELDS:
        try:
            return format(Decimal(str(value)).normalize(), "f")
        except (InvalidOperation, ValueError):
            return f"not money: {value!r}"
    return json.dumps(value, sort_keys=True)


def _clock(value: Any) -> str:
    """_clock writes MySQL TIME (a timedelta) as the API does: H:MM:SS."""
    seconds = int(value.total_seconds()) if isinstance(value, timedelta) else 0
    return f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"


def _spec_of_row(row: Mapping[str, Any]) -> dict[str, str]:
    """_spec_of_row is a campaigns row's spec in the API's field names, canonical."""
    api = {
        "text": row["text"],
        "category": row["category"],
        "keywords": list(row["keywords"]),
        "target_gender": row["target_gender"],
        "target_age_range": {"start": row["target_age_start"], "end": row["target_age_end"]},
        "target_city": row["target_city"],
        "target_state": row["target_state"],
        "target_country": row["target_country"],
        "target_income_bucket": row["target_income_bucket"],
        "target_device": row["target_device"],
        "cpc": row["cpc"],
        "cpa": row["cpa"],
        "budget": row["budget"],
        "date_range": {"start": row["start_date"].isoformat(), "end": row["end_date"].isoformat()},
        "time_range": {"start": _clock(row["start_time"]), "end": _clock(row["end_time"])},
    }
    return {name: _canonical(name, value) for name, value in api.items()}


def _spec_of_answer(campaign: Mapping[str, Any]) -> dict[str, str]:
    """_spec_of_answer is an answer's campaign spec (JSON through Envoy), canonical."""
    return {name: _canonical(name, campaign.get(name)) for name in SPEC_FIELDS}


def _rows(engine: Engine) -> dict[str, dict[str, Any]]:
    """_rows is every campaigns row by id."""
    with engine.connect() as connection:
        rows = connection.execute(select(campaigns)).mappings().all()
    return {row["campaign_id"]: dict(row) for row in rows}


def _exhausted(row: Mapping[str, Any]) -> bool:
    """_exhausted says the row was stopped by its spend, which feedback may legitimately do."""
    return (
        row["status"] == "INACTIVE"
        and row["status_reason"] == EXHAUSTED
        and row["spent"] >= row["budget"]
    )


def _campaign_of(answer: Answer) -> dict[str, Any] | None:
    """_campaign_of is the campaign a 2xx answer promises, or None if it names none."""
    document = answer.json()
    if isinstance(document, dict) and isinstance(document.get("campaign"), dict):
        campaign = document["campaign"]
        if isinstance(campaign.get("campaign_id"), str):
            return campaign
    return None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _leaves(value: Any) -> list[Any]:
    """_leaves is a JSON array's members, nested arrays flattened as Envoy's parser does."""
    if not isinstance(value, list):
        return [value]
    return [leaf for item in value for leaf in _leaves(item)]


def _clearly_set(value: Any) -> bool:
    """_clearly_set says a JSON value cannot be a proto default: it sets its field."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return bool(value)
    if isinstance(value, list):  # [[]] is an empty list once flattened: no field set
        return bool(_leaves(value))
    return isinstance(value, dict) or (isinstance(value, int | float) and value != 0)


def _update_fields(case: Case) -> tuple[set[str], set[str]]:
    """_update_fields is (certainly set, possibly set) spec fields of an update case."""
    mask = [path for path in case.meta.get("mask") or () if path]
    if mask:  # "update_mask=" is an empty mask: the fields set in the body are the mask
        named = {path.split(".")[0] for path in mask}
        return named & set(SPEC_FIELDS), named & set(SPEC_FIELDS)
    document = case.meta.get("document")
    if not isinstance(document, dict):
        return set(), set(SPEC_FIELDS)  # a broken body that was accepted: anything may change
    possible = {_snake(name) for name in document} & set(SPEC_FIELDS)
    certain = {name for name in possible if _clearly_set(document.get(name))}
    return certain, possible


def _drive(
    make: Callable[[int], Case],
    client: Client,
    deadline: float,
    learn: Callable[[Case, Answer], None],
) -> list[tuple[Case, Answer]]:
    """_drive sends a route's cases one after another, until done or the deadline."""
    seen: list[tuple[Case, Answer]] = []
    try:
        for index in range(CASES_PER_ROUTE):
            if time.monotonic() > deadline:
                break
            case = make(index)
            answer = client.send(case)
            seen.append((case, answer))
            learn(case, answer)
    finally:
        client.close()
    return seen


def _bystander(
    stack: Settings, token: str, *, run_id: str, control: str, done: threading.Event, run: Run
) -> None:
    """_bystander sends good requests during the run: reads, an ad and its feedback, creates."""
    client, device = Client(stack, token), Client(stack, None)
    deadline = time.monotonic() + FUZZ_SECONDS + 30
    try:
        for round_ in range(BYSTANDER_MAX_ROUNDS):
            if done.is_set() or time.monotonic() > deadline:
                return
            checks: list[tuple[str, Client, Case]] = [
                ("get", client, Case("good", "GET", f"/v1/campaigns/{control}", None, "")),
                ("list", client, Case("good", "GET", "/v1/campaigns?page_size=5", None, "")),
                (
                    "serve",
                    device,
                    Case("good", "POST", "/v1/ads:serve", encode(_device(round_))),
                ),
            ]
            for label, sender, case in checks:
                answer = sender.send(case)
                run.bystander.append((label, answer))
                served = answer.json() if label == "serve" and answer.status == 200 else None
                if isinstance(served, dict) and served.get("request_id"):
                    body = {"request_id": served["request_id"], "view": 1, "click": 1}
                    feedback = device.send(Case("good", "POST", "/v1/feedback", encode(body)))
                    run.bystander.append(("feedback", feedback))
            if round_ % 10 == 0:
                campaign_id = f"fz-{run_id}-good-{round_}"
                body = encode(valid_campaign(campaign_id))
                answer = client.send(Case("good", "POST", "/v1/campaigns", body))
                run.bystander.append(("create", answer))
                promised = _campaign_of(answer) if answer.status == 200 else None
                if promised is not None:
                    run.good_creates[promised["campaign_id"]] = promised
    finally:
        client.close()
        device.close()


def _device(index: int) -> dict[str, str]:
    return {
        "user_id": f"fz-bystander-{index % 20}",
        "device_type": "Android Mobile",
        "city": "Delhi",
        "state": "Delhi",
        "country": "India",
    }


def _create_targets(stack: Settings, token: str, engine: Engine, names: Sequence[str]) -> None:
    """_create_targets creates campaigns through Envoy and waits until all are ACTIVE."""
    client = Client(stack, token)
    try:
        for campaign_id in names:
            body = encode(valid_campaign(campaign_id))
            answer = client.send(Case("setup", "POST", "/v1/campaigns", body))
            assert answer.status == 200, answer.body
    finally:
        client.close()
    wanted = set(names)

    def ready() -> bool:
        rows = _rows(engine)
        return all(rows.get(name, {}).get("status") == "ACTIVE" for name in wanted)

    eventually(ready, timeout=30)


def _failures(run: Run) -> list[str]:
    """_failures describes every 5xx or missing answer, one sample per distinct cause."""
    causes: dict[tuple[str, int, str], list[tuple[Case, Answer]]] = defaultdict(list)
    for route, seen in run.answers.items():
        for case, answer in seen:
            if answer.status == 0 or answer.status >= 500:
                causes[(route, answer.status, answer.body[:160].decode(errors="replace"))].append(
                    (case, answer)
                )
    lines = []
    for (route, status, body), samples in sorted(causes.items()):
        case, _ = samples[0]
        sent = b"" if case.body is None else case.body[:300]
        lines.append(
            f"{route}: {len(samples)} x {status} {body!r}\n"
            f"    e.g. {case.method} {case.path[:300]} ({case.meta.get('variant', '-')}) "
            f"content-type={case.content_type!r} body={sent!r}"
        )
    return lines


@dataclass
class Promises:
    """Promises is what the 2xx answers promised.

    created: the campaign each create answered, by id; stopped: each stopped campaign's
    status reason; allowed: per update target and field, the values accepted updates allow;
    unclear: 2xx answers that named no campaign, so promised nothing a client can check.
    """

    created: dict[str, dict[str, Any]] = field(default_factory=dict)
    stopped: dict[str, str] = field(default_factory=dict)
    allowed: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    unclear: list[str] = field(default_factory=list)


def _promises(
    run: Run, before: Mapping[str, Mapping[str, Any]], updates: Iterable[str]
) -> Promises:
    """_promises reads the run's 2xx answers into what MySQL must hold once caught up."""
    promises = Promises(created=dict(run.good_creates))
    for route in ("create", "stop"):
        for case, answer in run.answers[route]:
            if not 200 <= answer.status < 300:
                continue
            campaign = _campaign_of(answer)
            if campaign is None:
                promises.unclear.append(
                    f"{route} {case.path[:100]} answered {answer.status} {answer.body[:200]!r}"
                )
            elif route == "create":
                promises.created[campaign["campaign_id"]] = campaign
            else:
                reason = str(campaign.get("status_reason", ""))
                promises.stopped[campaign["campaign_id"]] = reason.removeprefix(QUEUED)
    promises.allowed = _allowed_updates(run, before, updates)
    return promises


def _allowed_updates(
    run: Run, before: Mapping[str, Mapping[str, Any]], targets: Iterable[str]
) -> dict[str, dict[str, set[str]]]:
    """_allowed_updates is, per update target and field, the values the 2xx updates allow.

    A field an accepted update certainly set must hold that update's value unless a later
    one set it again; a field it may have set may hold either.
    """
    allowed = {
        campaign_id: {name: {value} for name, value in _spec_of_row(before[campaign_id]).items()}
        for campaign_id in targets
    }
    for case, answer in run.answers["update"]:
        if not 200 <= answer.status < 300:
            continue
        campaign = _campaign_of(answer)
        if campaign is None or campaign["campaign_id"] not in allowed:
            continue  # reported as unclear or as an unexpected change
        promised = _spec_of_answer(campaign)
        certain, possible = _update_fields(case)
        fields = allowed[campaign["campaign_id"]]
        for name in possible:
            fields[name] = {promised[name]} if name in certain else fields[name] | {promised[name]}
    return allowed


def _harm_to_creates(
    after: Mapping[str, Mapping[str, Any]], created: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """_harm_to_creates lists created campaigns whose rows differ from their 2xx answers."""
    problems = []
    for campaign_id, promise in created.items():
        row = after.get(campaign_id)
        if row is None:
            continue  # counted as missing
        spec, promised = _spec_of_row(row), _spec_of_answer(promise)
        diff = {name: (spec[name], promised[name]) for name in spec if spec[name] != promised[name]}
        if diff:
            problems.append(f"created {campaign_id!r} differs from its answer: {diff}")
        if row["status"] != promise.get("status") and not _exhausted(row):
            problems.append(f"created {campaign_id!r} is {row['status']}: {row['status_reason']}")
    return problems


def _harm_to_existing(
    after: Mapping[str, Mapping[str, Any]],
    before: Mapping[str, Mapping[str, Any]],
    stopped: Mapping[str, str],
    allowed: Mapping[str, Mapping[str, set[str]]],
) -> list[str]:
    """_harm_to_existing lists campaigns that existed before and changed unlike promised."""
    problems = []
    for campaign_id, old in before.items():
        row = after.get(campaign_id)
        if row is None:
            continue  # counted as missing
        spec = _spec_of_row(row)
        if campaign_id in allowed:
            fields = allowed[campaign_id]
            odd = {name: value for name, value in spec.items() if value not in fields[name]}
            if odd:
                problems.append(f"updated {campaign_id!r} holds values no 2xx asked for: {odd}")
        elif spec != _spec_of_row(old):
            problems.append(f"{campaign_id!r} changed although no 2xx update named it")
        status = (row["status"], row["status_reason"])
        if campaign_id in stopped:
            if status != ("INACTIVE", stopped[campaign_id]):
                problems.append(
                    f"stopped {campaign_id!r} is {status}, promised INACTIVE: "
                    f"{stopped[campaign_id]!r}"
                )
            continue
        updated = campaign_id in allowed and row["status"] == "ACTIVE"  # reason: "updated ..."
        if status != (old["status"], old["status_reason"]) and not (_exhausted(row) or updated):
            problems.append(f"{campaign_id!r} went {old['status']} -> {status} with no 2xx stop")
    return problems


def _harm(engine: Engine, before: Mapping[str, Mapping[str, Any]], promises: Promises) -> list[str]:
    """_harm lists every way MySQL differs from what the answers promised (empty: none)."""
    after = _rows(engine)
    problems = []
    expected_ids = set(before) | set(promises.created)
    missing, extra = sorted(expected_ids - set(after)), sorted(set(after) - expected_ids)
    if missing:
        problems.append(f"{len(missing)} promised campaigns are not in MySQL: {missing[:5]}")
    if extra:
        problems.append(f"{len(extra)} campaigns no 2xx answer promised: {extra[:5]}")
    problems += _harm_to_creates(after, promises.created)
    problems += _harm_to_existing(after, before, promises.stopped, promises.allowed)
    return problems


def _summary(run: Run, elapsed: float) -> str:
    lines = [f"fuzz run: {elapsed:.1f}s, seed {SEED}"]
    for route in ROUTES:
        statuses = Counter(answer.status for _, answer in run.answers[route])
        lines.append(
            f"  {route}: {len(run.answers[route])} cases, {dict(sorted(statuses.items()))}"
        )
    bystander = Counter((label, answer.status) for label, answer in run.bystander)
    lines.append(
        f"  bystander: {sum(bystander.values())} requests, {dict(sorted(bystander.items()))}"
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class Targets:
    """Targets are the campaigns the run may change: update and stop targets; control: none."""

    updates: list[str]
    stops: list[str]
    control: str


def _fuzz(stack: Settings, token: str, run_id: str, targets: Targets) -> Run:
    """_fuzz runs every route's cases at once, one connection each, beside the bystander."""
    run, done = Run(), threading.Event()
    served: list[str] = []
    tokens: list[tuple[str, str]] = []

    def learn(case: Case, answer: Answer) -> None:
        document = answer.json() if answer.status == 200 else None
        if not isinstance(document, dict):
            return
        if case.route == "serve" and document.get("request_id"):
            served.append(str(document["request_id"]))
        if case.route == "list" and document.get("next_page_token"):
            order_by = str(case.meta["params"].get("order_by", ""))
            tokens.append((order_by, str(document["next_page_token"])))

    deadline = time.monotonic() + FUZZ_SECONDS
    with ThreadPoolExecutor(max_workers=len(ROUTES) + 1) as pool:
        watcher = pool.submit(
            _bystander, stack, token, run_id=run_id, control=targets.control, done=done, run=run
        )
        drives = {}
        for route in ROUTES:
            hostile = Hostile(random.Random(f"{SEED}-{route}"))
            routes = Routes(
                hostile,
                run_id,
                targets.updates,
                targets.stops,
                [*targets.updates, targets.control],
                served,
                tokens,
            )
            make = getattr(routes, "listing" if route == "list" else route)
            client = Client(stack, token if route in CAMPAIGN_ROUTES else None)
            drives[route] = pool.submit(_drive, make, client, deadline, learn)
        try:
            for route, future in drives.items():
                run.answers[route] = future.result()
        finally:
            done.set()
        watcher.result()
    return run


def _next_instruction(
    stack: Settings, token: str, engine: Engine, run_id: str, deadline: float
) -> tuple[str, Any]:
    """_next_instruction creates a good campaign after the run: (problem or "", its answer)."""
    after_id = f"fz-{run_id}-after"
    client = Client(stack, token)
    answer = client.send(Case("after", "POST", "/v1/campaigns", encode(valid_campaign(after_id))))
    client.close()
    promise = _campaign_of(answer) if answer.status == 200 else None
    if promise is None:
        return f"a good create after the run got {answer.status} {answer.body[:300]!r}", None
    try:
        eventually(lambda: after_id in _rows(engine), timeout=deadline - time.monotonic())
    except AssertionError:
        return "the Ad Manager did not apply a good create after the run", promise
    return "", promise


def test_hostile_requests_get_2xx_or_4xx_and_change_only_what_was_accepted(
    stack: Settings, database: Engine
) -> None:
    token = auth.mint_token(stack)
    run_id = uuid.uuid4().hex[:8]
    targets = Targets(
        updates=[f"fz-{run_id}-update-{i}" for i in range(3)],
        stops=[f"fz-{run_id}-stop-{i}" for i in range(3)],
        control=f"fz-{run_id}-control",
    )
    existing = set(_rows(database))
    try:
        _create_targets(stack, token, database, [*targets.updates, *targets.stops, targets.control])
        before = _rows(database)
        started = time.monotonic()
        run = _fuzz(stack, token, run_id, targets)
        summary = _summary(run, time.monotonic() - started)
        print(summary)

        problems = _failures(run)
        problems += [
            f"{route}: only {len(run.answers[route])} cases ran in {FUZZ_SECONDS:.0f}s"
            for route in ROUTES
            if len(run.answers[route]) < MIN_CASES_PER_ROUTE
        ]
        problems += [
            f"bystander {label} refused: {answer.status} {answer.body[:300]!r}"
            for label, answer in run.bystander
            if not 200 <= answer.status < 300
        ]
        manager = next(row for row in launcher.status(stack) if row.name == "ad-manager")
        if not (manager.healthy and manager.pid and alive(manager.pid)):
            problems.append(f"the Ad Manager is down after the run: {manager}")
        promises = _promises(run, before, targets.updates)
        problems += promises.unclear
        caught_up_by = time.monotonic() + CATCH_UP_SECONDS  # one budget for both waits below
        problem, promise = _next_instruction(stack, token, database, run_id, caught_up_by)
        problems += [problem] if problem else []
        if promise is not None:
            promises.created[promise["campaign_id"]] = promise
        never = sorted(set(targets.stops) - set(promises.stopped))
        problems += [f"stop target {name} was never stopped by a 2xx" for name in never]

        def consistent() -> bool:
            harm = _harm(database, before, promises)
            assert not harm, "\n".join(harm)
            return True

        try:
            eventually(consistent, timeout=max(caught_up_by - time.monotonic(), 1), interval=0.5)
        except AssertionError as error:
            problems.append(f"MySQL differs from the 2xx answers after catching up: {error}")
        assert not problems, summary + "\n" + "\n".join(problems)
    finally:
        _retire(stack, database, existing)


def _retire(stack: Settings, engine: Engine, existing: set[str]) -> None:
    """_retire stops every campaign the run created, so none outbids a later test's ads."""
    stub = channels.campaigns(stack)
    created = [campaign_id for campaign_id in _rows(engine) if campaign_id not in existing]
    for campaign_id in created:
        request = campaign_service_pb2.StopCampaignRequest(campaign_id=campaign_id)
        stub.StopCampaign(request, timeout=10)

    def retired() -> bool:
        rows = _rows(engine)
        return all(rows[campaign_id]["status"] == "INACTIVE" for campaign_id in created)

    eventually(retired, timeout=CATCH_UP_SECONDS, interval=0.5)


def test_the_fuzzer_sends_what_it_says() -> None:
    """The generator is deterministic per seed and its documents are what it claims."""
    first = Routes(Hostile(random.Random(1)), "r", ["u"], ["s"], ["u"])
    second = Routes(Hostile(random.Random(1)), "r", ["u"], ["s"], ["u"])
    cases = [first.create(index) for index in range(200)]
    assert cases == [second.create(index) for index in range(200)]
    variants = Counter(str(case.meta["variant"]).split(":")[0] for case in cases)
    assert variants["valid"] > 10
    assert variants["odd"] > 50
    for case in cases:
        if case.meta["variant"] == "valid":
            assert json.loads(case.body or b"")["text"] == valid_campaign(None)["text"]
