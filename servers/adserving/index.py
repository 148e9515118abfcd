"""The ad index: which stored campaigns enter the auction for one request, in a few big-int ops.

Pure: no I/O. Campaigns are numbered by CPM, highest first (ties by campaign id), and each
targeting value gets a bitset (a Python int) of the campaigns that accept it, "All" included.
A request's eligible campaigns are the AND of its values' bitsets with the bitset of
campaigns servable now (targeting.is_servable), so per request the cost does not grow with
the number of campaigns. The lowest set bit is the top bid; the auction (auction.run) gets
the bids tied at the top and the best one below them, which is all rule 4 looks at.

Floors and caps (docs/design.md §7) narrow the eligible bitset before that: as positions are
sorted by CPM, the campaigns bidding at least a floor are a prefix of them, found by binary
search (a mask, no per-campaign loop); the campaigns a user is capped for are a bitset the
caller builds from the user's counts (positions) and takes away (AND NOT).

Servable changes with time alone at window starts, window ends and slot boundaries (a stale
stored slot budget is rolled over, pacing.roll_over); each campaign is re-evaluated at its
next such instant, kept in a heap, so the bitset is exact at every request. A change to a
campaign's status or money is applied in place; a new campaign or a new bid or targeting
renumbers, so the caller builds a new AdIndex (off the event loop; see refresher.py).

Equivalence with targeting.eligible_campaigns is a property test (tests/unit).
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from servers.adserving.auction import Bid
from servers.adserving.servable import servable_at
from servers.adserving.targeting import LiveCampaign, Viewer
from servers.campaigns.instructions import CampaignState
from servers.campaigns.model import FrequencyCap
from servers.campaigns.pricing import Weights, cpm

K = TypeVar("K")
_AGE_CACHE_LIMIT = 1024


@dataclass(frozen=True, slots=True)
class IndexedAd:
    """IndexedAd is one stored campaign as the index keeps it: rule inputs, bid and the ad."""

    state: CampaignState  # as stored: schedule, status, money, stored slot budget
    live: LiveCampaign  # eligibility inputs, with the stored slot budget
    bid: Bid
    location: str  # "city, state, country" as targeted, for the served-ad record

    @classmethod
    def build(cls, state: CampaignState, weights: Weights, tz: ZoneInfo) -> IndexedAd:
        """IndexedAd.build prepares a stored campaign once: compiled targeting, window, CPM."""
        spec, targeting = state.spec, state.spec.targeting
        return cls(
            state=state,
            live=LiveCampaign.build(spec, state.status, state.remaining, state.slot.amount, tz),
            bid=Bid(spec.campaign_id, cpm(spec.cpc, spec.cpa, weights), spec.cpc, spec.cpa),
            location=f"{targeting.city}, {targeting.state}, {targeting.country}",
        )

    @property
    def campaign_id(self) -> str:
        """campaign_id is the campaign's id."""
        return self.bid.campaign_id

    @property
    def frequency_cap(self) -> FrequencyCap | None:
        """frequency_cap is the campaign's own cap (None: the platform's default applies)."""
        return self.state.spec.frequency_cap

    def same_shape(self, other: IndexedAd) -> bool:
        """same_shape is true when other has this ad's bid, targeting and cap (no renumbering)."""
        return (
            self.bid == other.bid
            and self.live.targeting == other.live.targeting
            and self.frequency_cap == other.frequency_cap
        )


@dataclass(frozen=True, slots=True)
class Contest:
    """Contest is who enters one auction: the bids tied at the top, then the best bid below.

    eligible counts every campaign that entered (eligible, at or above the floor, not
    capped), not only the bids handed to the auction.
    """

    bids: list[Bid]
    eligible: int


def _bitset(positions: Iterable[int], size: int) -> int:
    """_bitset is the int whose set bits are positions (built in one pass, not bit by bit)."""
    bits = bytearray((size + 7) // 8)
    for position in positions:
        bits[position >> 3] |= 1 << (position & 7)
    return int.from_bytes(bits, "little")


class _Dimension(Generic[K]):
    """_Dimension maps each targeted value of one dimension to the campaigns that accept it."""

    def __init__(self, values: Sequence[K | None]) -> None:
        groups: dict[K | None, list[int]] = defaultdict(list)
        for position, value in enumerate(values):
            groups[value].append(position)
        self.untargeted = _bitset(groups.pop(None, []), len(values))
        self.by_value: dict[K, int] = {
            value: self.untargeted | _bitset(positions, len(values))
            for value, positions in groups.items()
            if value is not None
        }

    def accepting(self, value: K | None) -> int:
        """accepting is the campaigns a viewer with value may see (unknown: untargeted only)."""
        if value is None:
            return self.untargeted
        return self.by_value.get(value, self.untargeted)


class _Ages:
    """_Ages maps an age to the campaigns whose inclusive age range holds it, or any age."""

    def __init__(self, ranges: Sequence[tuple[int, int] | None]) -> None:
        self._ranges = _Dimension(ranges)
        self._by_age: dict[int, int] = {}

    def accepting(self, age: int | None) -> int:
        """accepting is the campaigns a viewer of this age may see (unknown: any-age only)."""
        if age is None:
            return self._ranges.untargeted
        found = self._by_age.get(age)
        if found is None:
            found = self._ranges.untargeted
            for (start, end), campaigns in self._ranges.by_value.items():
                if start <= age <= end:
                    found |= campaigns
            if len(self._by_age) < _AGE_CACHE_LIMIT:
                self._by_age[age] = found
        return found


class AdIndex:
    """AdIndex answers which campaigns enter the auction for a viewer at an instant.

    Build it anywhere (it is pure and takes a while for many campaigns); after that use it
    from one thread only, the event loop's.
    """

    def __init__(self, ads: Iterable[IndexedAd], tz: ZoneInfo, now: datetime) -> None:
        self.tz = tz
        self._ads = sorted(ads, key=lambda ad: (-ad.bid.cpm, ad.campaign_id))
        self._position = {ad.campaign_id: p for p, ad in enumerate(self._ads)}
        self._tie_end = _tie_ends([ad.bid.cpm for ad in self._ads])
        self._negated_cpms = [-ad.bid.cpm for ad in self._ads]  # ascending, for bisect
        self._all = (1 << len(self._ads)) - 1
        self._own_caps = _bitset(
            (p for p, ad in enumerate(self._ads) if ad.frequency_cap is not None), len(self._ads)
        )
        targets = [ad.live.targeting for ad in self._ads]
        self._device = _Dimension([t.device for t in targets])
        self._city = _Dimension([t.city for t in targets])
        self._state = _Dimension([t.state for t in targets])
        self._country = _Dimension([t.country for t in targets])
        self._gender = _Dimension([t.gender for t in targets])
        self._income = _Dimension([t.income_bucket for t in targets])
        self._ages = _Ages([t.ages for t in targets])
        self._versions = [0] * len(self._ads)
        self._due: list[tuple[datetime, int, int]] = []  # (when, position, version)
        servable = []
        for position, ad in enumerate(self._ads):
            now_servable, change = servable_at(ad, now, tz)
            if now_servable:
                servable.append(position)
            if change is not None:
                self._due.append((change, position, 0))
        heapq.heapify(self._due)
        self._servable = _bitset(servable, len(self._ads))

    def __len__(self) -> int:
        return len(self._ads)

    def get(self, campaign_id: str) -> IndexedAd | None:
        """get is the indexed campaign with this id, or None."""
        position = self._position.get(campaign_id)
        return None if position is None else self._ads[position]

    def ads(self) -> list[IndexedAd]:
        """ads lists every indexed campaign, highest CPM first."""
        return list(self._ads)

    def fits(self, ad: IndexedAd) -> bool:
        """fits is true when ad can replace its stored version in place (same bid, targeting)."""
        position = self._position.get(ad.campaign_id)
        return position is not None and self._ads[position].same_shape(ad)

    def replace(self, ad: IndexedAd, now: datetime) -> None:
        """replace swaps in a new version of a campaign that fits, re-evaluated at now."""
        position = self._position[ad.campaign_id]
        if not self._ads[position].same_shape(ad):
            raise ValueError(f"campaign {ad.campaign_id} changed its bid or targeting: rebuild")
        self._ads[position] = ad
        self._evaluate(position, now)

    def position(self, campaign_id: str) -> int | None:
        """position is the campaign's bit in this index's bitsets, or None."""
        return self._position.get(campaign_id)

    def matching(self, who: Viewer) -> int:
        """matching is the campaigns whose targeting accepts who, servable or not."""
        return (
            self._country.accepting(who.country)
            & self._city.accepting(who.city)
            & self._device.accepting(who.device)
            & self._state.accepting(who.state)
            & self._gender.accepting(who.gender)
            & self._income.accepting(who.income_bucket)
            & self._ages.accepting(who.age)
        )

    def eligible(self, who: Viewer, now: datetime) -> int:
        """eligible is the campaigns who may see at now (UTC): servable and matching (rule 3)."""
        self._catch_up(now)
        return self._servable & self.matching(who)

    def servable(self, now: datetime) -> int:
        """servable is the campaigns that may serve at now, whoever asks."""
        self._catch_up(now)
        return self._servable

    def at_least(self, floor: Decimal) -> int:
        """at_least is the campaigns bidding floor or more: a prefix found by binary search."""
        if floor <= 0:
            return self._all
        return (1 << bisect_right(self._negated_cpms, -floor)) - 1

    def capped(self, default: FrequencyCap | None) -> int:
        """capped is the campaigns with an effective frequency cap (own, else default)."""
        return self._all if default is not None else self._own_caps

    def campaign_ids(self, campaigns: int) -> list[str]:
        """campaign_ids names the campaigns of a bitset, highest CPM first."""
        ids = []
        while campaigns:
            lowest = campaigns & -campaigns
            ids.append(self._ads[lowest.bit_length() - 1].campaign_id)
            campaigns ^= lowest
        return ids

    def contest(
        self, who: Viewer, now: datetime, floor: Decimal = Decimal(0), excluded: int = 0
    ) -> Contest | None:
        """contest is who enters the auction for who at now (UTC); None when nobody is eligible.

        Campaigns bidding under floor, and those in the bitset excluded, do not enter.
        """
        return self.entrants(self.eligible(who, now) & ~excluded & self.at_least(floor))

    def entrants(self, eligible: int) -> Contest | None:
        """entrants is the contest among a bitset of entering campaigns; None when empty."""
        if not eligible:
            return None
        top = (eligible & -eligible).bit_length() - 1
        end = self._tie_end[top]
        tied = eligible & ((1 << end) - 1)
        bids = []
        while tied:
            lowest = tied & -tied
            bids.append(self._ads[lowest.bit_length() - 1].bid)
            tied ^= lowest
        below = eligible >> end
        if below:
            bids.append(self._ads[end + (below & -below).bit_length() - 1].bid)
        return Contest(bids=bids, eligible=eligible.bit_count())

    def _catch_up(self, now: datetime) -> None:
        """_catch_up re-evaluates every campaign whose servable state may have changed by now."""
        due = self._due
        while due and due[0][0] <= now:
            _, position, version = heapq.heappop(due)
            if version == self._versions[position]:
                self._evaluate(position, now)

    def _evaluate(self, position: int, now: datetime) -> None:
        """_evaluate sets the campaign's servable bit for now and schedules its next check."""
        now_servable, change = servable_at(self._ads[position], now, self.tz)
        bit = 1 << position
        self._servable = self._servable | bit if now_servable else self._servable & ~bit
        self._versions[position] += 1
        if change is not None:
            heapq.heappush(self._due, (change, position, self._versions[position]))


def _tie_ends(cpms: Sequence[Decimal]) -> list[int]:
    """_tie_ends gives each position the end of its run of equal CPMs (cpms sorted)."""
    ends = [0] * len(cpms)
    end = len(cpms)
    for position in range(len(cpms) - 1, -1, -1):
        if position + 1 < len(cpms) and cpms[position] != cpms[position + 1]:
            end = position + 1
        ends[position] = end
    return ends
