"""spark.kpis: the KPI formulas and the direct computation tests compare the stream with."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from random import Random

from hypothesis import given
from hypothesis import strategies as st

from spark.kpis import (
    CampaignMinute,
    MinuteCounts,
    added,
    campaign_minute,
    counts_towards_reach,
    ecpm,
    merge_counts,
    merge_reach,
    merge_reach_by_campaign,
    ratio,
    reach_estimate,
    reach_sketch,
)
from tests.fixtures.kpis import Charged, from_events

MINUTE = datetime(2026, 1, 31, 7, 15)


def test_rates_of_a_campaign_minute() -> None:
    kpi = campaign_minute(
        "c", MINUTE, impressions=3, clicks=2, acquisitions=1, spend=Decimal("0.0406")
    )
    assert kpi.ctr == Decimal("0.66666667")
    assert kpi.conversion_rate == Decimal("0.50000000")
    assert kpi.ecpm == Decimal("13.5333333333")  # rounded down
    assert kpi.spend == Decimal("0.0406000000")


def test_no_clicks_means_zero_conversion_rate() -> None:
    assert ratio(1, 0) == Decimal(0)
    kpi = campaign_minute("c", MINUTE, impressions=1, clicks=0, acquisitions=1, spend=Decimal(1))
    assert kpi.conversion_rate == 0
    assert ecpm(Decimal(1), 0) == 0


def test_from_events_counts_each_request_once_per_minute() -> None:
    def charged(rid: str, second: int, click: int, acq: int, spent: str) -> Charged:
        return Charged(rid, "c", MINUTE.replace(second=second), click, acq, Decimal(spent))

    events = [
        charged("a", 1, 0, 0, "0"),
        charged("b", 30, 1, 0, "0.0003"),
        charged("b", 30, 1, 0, "0.0003"),  # republished by the outbox relay
        charged("c", 59, 1, 1, "0.04"),
        Charged("d", "c", MINUTE.replace(minute=16), 1, 0, Decimal("0.0003")),
    ]
    kpis = from_events(events)
    first = kpis[("c", MINUTE)]
    assert (first.impressions, first.clicks, first.acquisitions) == (3, 2, 1)
    assert first.spend == Decimal("0.0403")
    assert kpis[("c", MINUTE.replace(minute=16))].impressions == 1


_counts = st.builds(
    MinuteCounts,
    st.sampled_from(["c-1", "c-2"]),
    st.sampled_from([datetime(2026, 1, 31, 7, 15), datetime(2026, 1, 31, 7, 16)]),
    st.integers(0, 1000),
    st.integers(0, 100),
    st.integers(0, 10),
    st.decimals(min_value=0, max_value=100, places=10, allow_nan=False),
)


@given(st.lists(_counts, max_size=30), st.integers(1, 5))
def test_adding_batch_by_batch_equals_adding_everything_at_once(
    counts: list[MinuteCounts], batches: int
) -> None:
    stepwise: dict[tuple[str, datetime], CampaignMinute] = {}
    for start in range(batches):
        for key, each in merge_counts(counts[start::batches]).items():
            stepwise[key] = added(stepwise.get(key), each)
    at_once = {key: added(None, each) for key, each in merge_counts(counts).items()}
    assert stepwise == at_once
    for key, kpi in at_once.items():
        mine = [c for c in counts if c.key == key]
        assert kpi.impressions == sum(c.impressions for c in mine)
        assert kpi.spend == sum((c.spend for c in mine), Decimal(0))
        assert kpi == campaign_minute(
            key[0],
            key[1],
            impressions=kpi.impressions,
            clicks=sum(c.clicks for c in mine),
            acquisitions=sum(c.acquisitions for c in mine),
            spend=kpi.spend,
        )


# Reach: HyperLogLog sketches of the users reached, merged by union.

PRIVACY = "1111-1111-1111-1111"


def _users(start: int, stop: int) -> list[str]:
    return [f"user-{n:07d}" for n in range(start, stop)]


def test_reach_of_100k_users_is_within_five_percent() -> None:
    estimate = reach_estimate(merge_reach([reach_sketch(_users(0, 100_000))]))
    assert abs(estimate - 100_000) <= 5_000
    assert abs(estimate - 100_000) <= 100_000 * 0.033  # 2 RSE at lg_k 12 (1.6 %)


def test_small_reach_is_exact() -> None:
    assert reach_estimate(merge_reach([reach_sketch(_users(0, 50))])) == 50
    assert reach_estimate(merge_reach([reach_sketch([])])) == 0


def test_a_sketch_merged_again_adds_nobody() -> None:
    batch = reach_sketch(_users(0, 20_000))
    once = merge_reach([batch])
    assert reach_estimate(merge_reach([once, batch, batch])) == reach_estimate(once)
    assert merge_reach([once, batch]) == merge_reach([once])  # the same registers, byte for byte


def test_merging_overlapping_batches_counts_each_user_once() -> None:
    merged = merge_reach([reach_sketch(_users(0, 30_000)), reach_sketch(_users(20_000, 50_000))])
    assert abs(reach_estimate(merged) - 50_000) <= 50_000 * 0.05
    whole = merge_reach([reach_sketch(_users(0, 50_000))])
    assert abs(reach_estimate(merged) - reach_estimate(whole)) <= 50_000 * 0.01


def test_the_privacy_id_and_empty_ids_are_not_reach() -> None:
    assert reach_estimate(merge_reach([reach_sketch([PRIVACY, PRIVACY, "", "u-1"])])) == 1
    assert not counts_towards_reach(PRIVACY)
    assert counts_towards_reach("u-1")


@given(
    st.lists(
        st.lists(st.integers(min_value=0, max_value=300), max_size=40), min_size=1, max_size=6
    ),
    st.randoms(use_true_random=False),
)
def test_merge_is_order_free_and_idempotent(batches: list[list[int]], rng: Random) -> None:
    sketches = [reach_sketch(f"u{n}" for n in batch) for batch in batches]
    shuffled = sketches + sketches[: len(sketches) // 2]
    rng.shuffle(shuffled)
    distinct = len({n for batch in batches for n in batch})
    assert reach_estimate(merge_reach(sketches)) == reach_estimate(merge_reach(shuffled))
    assert reach_estimate(merge_reach(sketches)) == distinct  # exact at small counts


def test_batches_merge_per_campaign() -> None:
    first = {"a": reach_sketch(["u1", "u2"]), "b": reach_sketch(["u1"])}
    second = {"a": reach_sketch(["u2", "u3"])}
    merged = merge_reach_by_campaign([first, second, first])
    assert {c: reach_estimate(s) for c, s in merged.items()} == {"a": 3, "b": 1}
