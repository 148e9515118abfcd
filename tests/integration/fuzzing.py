"""Fuzzing: hostile but reproducible requests for Envoy's public JSON routes.

A seeded generator (random.Random) builds each route's cases from a valid request: some
stay valid, most get one or more fields replaced by something a careless or hostile client
sends (wrong types, numbers as strings and strings as numbers, huge or odd unicode strings,
dates like 0001-01-01 and 9999-12-31, money like "NaN", "1e999" or Arabic-Indic digits,
unknown fields), and some are broken as documents (truncated, deeply nested, not JSON, not
UTF-8, an array or a string where an object belongs). The same seed gives the same cases,
apart from the run's unique campaign ids.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import string
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from servers.settings import Settings

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Case:
    """Case is one request: its route's name, method, path, raw body and what it meant."""

    route: str
    method: str
    path: str
    body: bytes | None
    content_type: str = JSON
    meta: Mapping[str, Any] = field(default_factory=dict)  # sent fields, target id, ...


@dataclass(frozen=True, slots=True)
class Answer:
    """Answer is Envoy's reply; status 0 means no HTTP answer came (reset, timeout)."""

    status: int
    body: bytes

    def json(self) -> Any:
        """json is the body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class Client:
    """Client keeps one HTTP/1.1 connection to Envoy's public listener, reopened after errors."""

    def __init__(self, settings: Settings, token: str | None, timeout: float = 15.0) -> None:
        self.settings = settings
        self.token = token
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def send(self, case: Case) -> Answer:
        """send sends case and reads the whole answer; a broken connection is status 0."""
        headers = {"content-type": case.content_type} if case.content_type else {}
        if self.token is not None:
            headers["authorization"] = f"Bearer {self.token}"
        try:
            connection = self._open()
            connection.request(case.method, case.path, body=case.body, headers=headers)
            response = connection.getresponse()
            body = response.read()
            if response.will_close:
                self.close()
            return Answer(response.status, body)
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return Answer(0, f"{type(error).__name__}: {error}".encode())

    def _open(self) -> http.client.HTTPConnection:
        if self._connection is None:
            self._connection = http.client.HTTPConnection(
                self.settings.host, self.settings.envoy_port, timeout=self.timeout
            )
        return self._connection

    def close(self) -> None:
        """close drops the connection; the next send opens a new one."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class Raw(str):
    """Raw is JSON text written into a document as it is: 1e999, NaN, -0, 1.000...1."""

    __slots__ = ()


def encode(document: object) -> bytes:
    """encode writes document as JSON with every Raw value spliced in verbatim."""
    raws: list[str] = []

    def mark(value: object) -> object:
        if isinstance(value, Raw):
            raws.append(str(value))
            return f"@@raw{len(raws) - 1}@@"
        if isinstance(value, dict):
            return {key: mark(item) for key, item in value.items()}
        if isinstance(value, list):
            return [mark(item) for item in value]
        return value

    text = json.dumps(mark(document))
    for index, raw in enumerate(raws):
        text = text.replace(f'"@@raw{index}@@"', raw, 1)
    return text.encode("utf-8", "surrogatepass")


ODD_STRINGS: tuple[str, ...] = (
    "",
    " ",
    "\t\n",
    "null",
    "true",
    "All",
    "all",
    "ALL",
    "\x00",
    "a\x00b",
    "\u202eevil",
    "e\u0301\u0301\u0301",
    "😀" * 20,
    "\ud800",  # a lone surrogate: not UTF-8 at all
    "\ufeffBOM",
    "١٠٠",  # noqa: RUF001 - Arabic-Indic 100
    "Ｍ",  # noqa: RUF001 - a fullwidth M
    "'; DROP TABLE campaigns; --",
    "%s%s%n",
    "../../etc/passwd",
    "\\",
    '"',
    "<script>alert(1)</script>",
    "a" * 65,
    "x" * 101,
    "y" * 256,
    "z" * 1001,
)
ODD_MONEY: tuple[object, ...] = (
    "NaN",
    "-NaN",
    "sNaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    "1e999",
    "-1e999",
    "1E+999999999999",
    "1e-999",
    "١٠٠",  # noqa: RUF001
    "٣.٥",  # noqa: RUF001
    "१००",
    "１００",  # noqa: RUF001
    "0",
    "-0",
    "0.0",
    "-1",
    "-0.0000000001",
    "0.00000000001",
    "0.0000000001",
    "1E+14",
    "99999999999999.9999999999",
    "100000000000000",
    "1" * 40,
    "0x10",
    "1,5",
    "1_000",
    " 1 ",
    "+1",
    "1.",
    ".5",
    "1e2",
    "",
    700,
    0.00041,
    1e308,
    -1,
    True,
    Raw("1e999"),
    Raw("NaN"),
    Raw("Infinity"),
    Raw("-0"),
    Raw("123456789012345678901234567890"),
)
ODD_DATES: tuple[object, ...] = (
    "0001-01-01",
    "9999-12-31",
    "0000-00-00",
    "2026-02-30",
    "2026-13-01",
    "99999-01-01",
    "-2026-01-01",
    "2026-1-1",
    "20260101",
    "2026-01-01T00:00:00Z",
    "٢٠٢٦-٠١-٠١",  # noqa: RUF001
    "today",
    "",
    20260101,
    None,
)
ODD_CLOCKS: tuple[object, ...] = (
    "24:00:00",
    "23:59:60",
    "25:61:61",
    "-1:00:00",
    "0:00",
    "00:00:00.5",
    "99999999:00:00",
    "٥:٠٠:٠٠",  # noqa: RUF001
    "noon",
    "",
    0,
)
ODD_INTS: tuple[object, ...] = (
    0,
    1,
    -1,
    2,
    151,
    2**31 - 1,
    2**31,
    -(2**31) - 1,
    2**63,
    2**64,
    1.5,
    1e10,
    "1",
    "01",
    "1.0",
    "١",  # noqa: RUF001
    "",
    "one",
    True,
    None,
    Raw("1e999"),
    Raw("NaN"),
    Raw("-0"),
)
ODD_TYPES: tuple[object, ...] = (
    None,
    True,
    False,
    0,
    -1,
    3.25,
    [],
    {},
    [1, "a"],
    {"a": 1},
    [[[]]],
    "str",
    Raw("1e999"),
)


class Hostile:
    """Hostile draws odd values and broken documents from a seeded random generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, values: Sequence[Any]) -> Any:
        """pick is one of values."""
        return values[self.rng.randrange(len(values))]

    def chance(self, probability: float) -> bool:
        """chance is True with probability."""
        return self.rng.random() < probability

    def text(self) -> str:
        """text is random unicode: letters, symbols, controls, astral characters."""
        size = self.rng.choice((1, 3, 10, 40, 200))
        return "".join(chr(self._codepoint()) for _ in range(size))

    def _codepoint(self) -> int:
        while True:
            point = self.rng.choice(
                (
                    self.rng.randrange(0x20, 0x7F),
                    self.rng.randrange(0, 0x20),
                    self.rng.randrange(0xA0, 0x3000),
                    self.rng.randrange(0x1F300, 0x1FAFF),
                    self.rng.randrange(0x10000, 0x10FFFF),
                )
            )
            if not 0xD800 <= point <= 0xDFFF:
                return point

    def huge(self) -> str:
        """huge is a long string: 10 KB up to 2 MB."""
        return self.pick(string.ascii_letters) * self.pick((10_000, 70_000, 300_000, 2_000_000))

    def string(self) -> object:
        """string is an odd value for a text field."""
        return self.pick(
            (
                lambda: self.pick(ODD_STRINGS),
                self.text,
                lambda: self.pick(ODD_TYPES),
                lambda: self.pick(ODD_MONEY),
            )
        )()

    def value(self, kind: str) -> object:
        """value is an odd value for a field of kind, or now and then any odd value."""
        if self.chance(0.25):
            return self.pick((self.string, lambda: self.pick(ODD_TYPES)))()
        pools: dict[str, Callable[[], object]] = {
            "text": self.string,
            "money": lambda: self.pick(ODD_MONEY),
            "int": lambda: self.pick(ODD_INTS),
            "keywords": self.keywords,
            "age": lambda: self.pair("start", "end", ODD_INTS),
            "dates": lambda: self.pair("start", "end", ODD_DATES),
            "clocks": lambda: self.pair("start", "end", ODD_CLOCKS),
            "id": self.string,
            "uuid": self.uuid_like,
        }
        return pools[kind]()

    def pair(self, first: str, second: str, pool: Sequence[object]) -> object:
        """pair is a {start, end} object with odd members, or no object at all."""
        if self.chance(0.15):
            return self.pick(ODD_TYPES)
        document: dict[str, object] = {first: self.pick(pool), second: self.pick(pool)}
        if self.chance(0.2):
            del document[self.pick((first, second))]
        if self.chance(0.15):
            document[self.unknown_name()] = self.pick(ODD_TYPES)
        return document

    def keywords(self) -> object:
        """keywords is an odd keyword list: odd members, thousands of them, or no list."""
        return self.pick(
            (
                lambda: [self.string() for _ in range(self.rng.randrange(1, 5))],
                lambda: ["k"] * self.pick((101, 10_000)),
                lambda: [[["nested"]]],
                lambda: self.pick(ODD_TYPES),
                lambda: "outdoor,hiking",
            )
        )()

    def uuid_like(self) -> object:
        """uuid_like is something near a UUID: braces, case, truncation, odd digits."""
        good = str(uuid.UUID(int=self.rng.getrandbits(128)))
        return self.pick(
            (
                good.upper(),
                "{" + good + "}",
                good.replace("-", ""),
                good[:-1],
                good + "0",
                " " + good + " ",
                good.replace("a", "\u0430"),  # a Cyrillic a
                "00000000-0000-0000-0000-000000000000",
                "1111-1111-1111-1111",
                self.string(),
            )
        )

    def unknown_name(self) -> str:
        """unknown_name is a field name no message has."""
        return self.pick(("zzz", "campaignId", "CPC", "budget ", "@type", "__proto__", "")) + (
            "" if self.chance(0.5) else str(self.rng.randrange(100))
        )

    def broken(self, good: bytes) -> tuple[bytes, str]:
        """broken is a document that is no JSON object: truncated, nested, garbage, ..."""
        depth = self.pick((64, 200, 1_000, 20_000))
        choices: tuple[tuple[str, Callable[[], bytes]], ...] = (
            ("truncated", lambda: good[: self.rng.randrange(max(len(good), 1))]),
            ("nested-array", lambda: b'{"text":' + b"[" * depth + b"]" * depth + b"}"),
            ("nested-object", lambda: b'{"a":' * depth + b"1" + b"}" * depth),
            ("unclosed-nesting", lambda: b"[" * depth),
            ("not-json", lambda: self.pick((b"", b"hello", b"{'text': 'x'}", b"{,}", b"\x00"))),
            ("not-utf8", lambda: good[:10] + bytes([0xFF, 0xFE, 0xC3]) + good[10:]),
            ("random-bytes", lambda: self.rng.randbytes(self.rng.randrange(1, 300))),
            ("wrong-top", lambda: self.pick((b"[]", b"null", b'"text"', b"123", b"true", b"[{}]"))),
            ("duplicate-keys", lambda: good[:-1] + b', "text": 1, "text": "again"}'),
            ("bom", lambda: b"\xef\xbb\xbf" + good),
            ("trailing", lambda: good + self.pick((b"}", b",", b" {}", b"\x00"))),
        )
        name, make = self.pick(choices)
        return make(), name


@dataclass(frozen=True, slots=True)
class Variant:
    """Variant is a request body: its bytes, what it is, its document and its content type.

    document is the JSON object the body encodes, or None when the body is no JSON object.
    """

    body: bytes
    name: str
    document: dict[str, Any] | None
    content_type: str = JSON


def mutate(hostile: Hostile, good: dict[str, Any], kinds: Mapping[str, str]) -> Variant:
    """mutate is a hostile variant of the valid document good, whose field kinds are kinds."""
    roll = hostile.rng.random()
    document = dict(good)
    name, content_type = "valid", JSON
    if roll < 0.15:
        pass
    elif roll < 0.60:
        field_name = hostile.pick(sorted(kinds))
        if hostile.chance(0.1):
            document.pop(field_name, None)
            name = f"missing:{field_name}"
        else:
            document[field_name] = hostile.value(kinds[field_name])
            name = f"odd:{field_name}"
    elif roll < 0.72:
        names = hostile.rng.sample(sorted(kinds), k=min(len(kinds), hostile.rng.randrange(2, 5)))
        for field_name in names:
            document[field_name] = hostile.value(kinds[field_name])
        name = "odd:" + ",".join(names)
    elif roll < 0.80:
        document[hostile.unknown_name()] = hostile.pick(ODD_TYPES)
        name = "unknown-field"
    elif roll < 0.92:
        body, name = hostile.broken(encode(document))
        return Variant(body, name, None)
    elif roll < 0.96:
        field_name = hostile.pick(sorted(kinds))
        document[field_name] = hostile.huge()
        name = f"huge:{field_name}"
    else:
        content_type = hostile.pick(
            (
                "text/plain",
                "application/json; charset=latin-1",
                "",
                "application/x-www-form-urlencoded",
            )
        )
        name = f"content-type:{content_type or 'none'}"
    return Variant(encode(document), name, document, content_type)


CAMPAIGN_KINDS: dict[str, str] = {
    "campaign_id": "id",
    "text": "text",
    "category": "text",
    "keywords": "keywords",
    "target_gender": "text",
    "target_age_range": "age",
    "target_city": "text",
    "target_state": "text",
    "target_country": "text",
    "target_income_bucket": "text",
    "target_device": "text",
    "cpc": "money",
    "cpa": "money",
    "budget": "money",
    "date_range": "dates",
    "time_range": "clocks",
    "status": "text",  # read only: a client that sets it asks for what it cannot have
    "spent": "money",
}
UPDATE_KINDS = {name: kind for name, kind in CAMPAIGN_KINDS.items() if name != "campaign_id"}
SERVE_KINDS = {
    "user_id": "id",
    "device_type": "text",
    "city": "text",
    "state": "text",
    "country": "text",
}
FEEDBACK_KINDS = {"request_id": "uuid", "view": "int", "click": "int", "acquisition": "int"}
STOP_KINDS = {"reason": "text", "campaign_id": "id"}


def valid_campaign(campaign_id: str | None) -> dict[str, Any]:
    """valid_campaign is a valid untargeted campaign as JSON, live from yesterday to tomorrow."""
    today = datetime.now(UTC).date()
    document: dict[str, Any] = {
        "text": "Meetrip 35L Lightweight Backpack",
        "category": "Sports & Fitness",
        "keywords": ["outdoor", "hiking"],
        "target_gender": "All",
        "target_age_range": {"start": 0, "end": 0},
        "target_city": "All",
        "target_state": "All",
        "target_country": "India",
        "target_income_bucket": "All",
        "target_device": "All",
        "cpc": "0.00041",
        "cpa": "0.0542",
        "budget": "700",
        "date_range": {
            "start": (today - timedelta(days=1)).isoformat(),
            "end": (today + timedelta(days=1)).isoformat(),
        },
        "time_range": {"start": "0:00:00", "end": "0:00:00"},
    }
    if campaign_id is not None:
        document["campaign_id"] = campaign_id
    return document


def odd_id(hostile: Hostile, base: str) -> str:
    """odd_id is base made odd: padded, cased, lengthened, unicode, emptied, path-like."""
    return str(
        hostile.pick(
            (
                base,
                f"  {base} ",
                base.upper(),
                base + "x" * 70,
                base + "é",
                base + "/x",
                base + ":stop",
                base + "%",
                "",
                ".",
                "..",
                "-" + base,
                base + "\x00",
                base + hostile.text(),  # unique to the run, so no two runs share an id
            )
        )
    )


def path_segment(campaign_id: str) -> str:
    """path_segment is an id as a URL path segment (percent-encoded, so any text fits)."""
    return quote(campaign_id, safe="") or "%20"


@dataclass
class Routes:
    """Routes builds each public route's cases for one run; state is what earlier answers gave.

    update_targets, stop_targets and read_targets are existing campaigns' ids; served holds
    request ids of served ads (feedback for them is real), tokens next_page_tokens seen.
    """

    hostile: Hostile
    run: str
    update_targets: Sequence[str]
    stop_targets: Sequence[str]
    read_targets: Sequence[str]
    served: list[str] = field(default_factory=list)
    tokens: list[tuple[str, str]] = field(default_factory=list)  # (order_by, token)

    def create(self, index: int) -> Case:
        """create is a CreateCampaign case; ids are unique to the run, so none collides."""
        hostile = self.hostile
        base = f"fz-{self.run}-{index}"
        supplied = None if hostile.chance(0.2) else base
        good = valid_campaign(supplied)
        variant = mutate(hostile, good, CAMPAIGN_KINDS)
        body, document = variant.body, variant.document
        ids = [key for key in document or () if key in ("campaign_id", "campaignId")]
        if document is not None and any(document[key] != base for key in ids):
            for key in ids:  # odd, yet unique to the run: no create lands on another's id
                document[key] = odd_id(hostile, base)
            body = encode(document)
        meta = {"variant": variant.name}
        return Case("create", "POST", "/v1/campaigns", body, variant.content_type, meta)

    def update(self, index: int) -> Case:
        """update is an UpdateCampaign case on one of the update targets (or an odd id)."""
        hostile = self.hostile
        target = hostile.pick(self.update_targets)
        full = valid_campaign(None)
        names = hostile.rng.sample(sorted(full), k=hostile.rng.randrange(1, 4))
        good = {name: full[name] for name in names}
        if "budget" in good:
            good["budget"] = str(700 + index)  # a new value, so an applied update shows
        if "text" in good:
            good["text"] = f"Backpack, update {index}"
        variant = mutate(hostile, good, UPDATE_KINDS)
        path_id = odd_id(hostile, target) if hostile.chance(0.1) else target
        path = f"/v1/campaigns/{self.segment(path_id)}"
        mask: list[str] | None = None
        if hostile.chance(0.15):
            mask = hostile.pick(
                ([*good][:1], ["status"], ["zzz"], ["date_range.start"], ["budget", "budget"], [""])
            )
            path += "?" + urlencode({"update_mask": ",".join(mask)})
        meta = {"variant": variant.name, "document": variant.document, "mask": mask}
        return Case("update", "PATCH", path, variant.body, variant.content_type, meta)

    def stop(self, index: int) -> Case:
        """stop is a StopCampaign case on a stop target, an unknown or an odd id."""
        hostile = self.hostile
        target = hostile.pick(self.stop_targets)
        if hostile.chance(0.15):
            target = hostile.pick((f"fz-ghost-{self.run}-{index}", odd_id(hostile, target)))
        good = {"reason": hostile.pick(("done", "", "budget moved to Q3", "é" * 10))}
        variant = mutate(hostile, good, STOP_KINDS)
        path = f"/v1/campaigns/{self.segment(target)}:stop"
        meta = {"variant": variant.name}
        return Case("stop", "POST", path, variant.body, variant.content_type, meta)

    def get(self, index: int) -> Case:
        """get is a GetCampaign case: a known, unknown or odd id."""
        hostile = self.hostile
        target = hostile.pick(self.read_targets)
        campaign_id = hostile.pick(
            (target, f"fz-ghost-{self.run}-{index}", odd_id(hostile, target), hostile.text())
        )
        segment = self.segment(campaign_id)
        if hostile.chance(0.03):
            segment = "x" * 70_000  # longer than any header Envoy reads
        return Case("get", "GET", f"/v1/campaigns/{segment}", None, "", {"id": campaign_id})

    def segment(self, campaign_id: str) -> str:
        """segment is an id as a path segment, now and then with broken percent-encoding."""
        segment = path_segment(campaign_id)
        if self.hostile.chance(0.06):
            return self.hostile.pick((segment, "")) + self.hostile.pick(BAD_PERCENT)
        return segment

    def listing(self, index: int) -> Case:
        """list is a ListCampaigns case: odd page sizes, tokens, filters and orders."""
        hostile = self.hostile
        params: dict[str, str] = {}
        if hostile.chance(0.6):
            params["page_size"] = str(
                hostile.pick(
                    (1, 2, 5, 50, 1000, 1001, 0, -1, 2**31, "abc", "1e3", "1.5", "", "\u0661")
                )
            )
        if hostile.chance(0.6):
            params["order_by"] = hostile.pick(ORDER_BYS) if hostile.chance(0.7) else hostile.text()
        if hostile.chance(0.5):
            params["filter"] = hostile.pick(FILTERS) if hostile.chance(0.7) else hostile.text()
        if hostile.chance(0.5):
            order_by, token = self._token(params.get("order_by", ""))
            params["page_token"] = token
            if order_by is not None and hostile.chance(0.7):
                params["order_by"] = order_by
        if hostile.chance(0.05):
            params[hostile.unknown_name() or "zzz"] = "1"
        if hostile.chance(0.03):
            params["filter"] = hostile.huge()[:50_000]
        query = urlencode(params)
        if hostile.chance(0.06):
            name = hostile.pick(("filter", "order_by", "page_token", "page_size"))
            query += f"&{name}={hostile.pick(BAD_PERCENT)}"  # sent as it is, not encoded again
        path = "/v1/campaigns" + ("?" + query.lstrip("&") if query else "")
        return Case("list", "GET", path, None, "", {"params": params})

    def _token(self, order_by: str) -> tuple[str | None, str]:
        """_token is a page token: one a list answer gave, a mangled one, or a forged one."""
        hostile = self.hostile
        if self.tokens and hostile.chance(0.4):
            seen_order, token = hostile.pick(self.tokens)
            if hostile.chance(0.5):
                return seen_order, token
            position = hostile.rng.randrange(len(token))
            return seen_order, token[:position] + hostile.pick("A_-=!é") + token[position + 1 :]
        field_name = (order_by.split() or ["campaign_id"])[0]
        value = hostile.pick((*ODD_MONEY, *ODD_DATES, *ODD_STRINGS))
        forged = [order_by or "campaign_id", value, hostile.pick(("c-1", "", "é", "x" * 65))]
        if hostile.chance(0.2):
            forged = hostile.pick(([field_name], {"a": 1}, [[[[]]]], "x", None))  # type: ignore[assignment]
        try:
            document = encode(forged)
        except (TypeError, ValueError):
            document = b"[]"
        token = base64.urlsafe_b64encode(document).decode()
        return None, hostile.pick((token, token.rstrip("="), hostile.text(), "=" * 5, "%%%"))

    def serve(self, index: int) -> Case:
        """serve is a ServeAd case: a device's request with odd fields."""
        good = {
            "user_id": f"fz-user-{index % 50}",
            "device_type": "Android Mobile",
            "city": "Delhi",
            "state": "Delhi",
            "country": "India",
        }
        variant = mutate(self.hostile, good, SERVE_KINDS)
        if self.hostile.chance(0.1):  # the classic route: GET /ad/user/{user_id}/serve
            user_id = str((variant.document or good).get("user_id", good["user_id"]))
            path = f"/ad/user/{quote(user_id, safe='') or '%20'}/serve"
            if self.hostile.chance(0.3):
                path = f"/ad/user/{self.hostile.pick(BAD_PERCENT)}/serve"
            return Case("serve", "GET", path, None, "", {"variant": "classic:" + variant.name})
        meta = {"variant": variant.name}
        return Case("serve", "POST", "/v1/ads:serve", variant.body, variant.content_type, meta)

    def feedback(self, index: int) -> Case:
        """feedback is a SubmitFeedback case: for a served ad, an unknown or an odd request id."""
        hostile = self.hostile
        request_id = (
            hostile.pick(self.served)
            if self.served and hostile.chance(0.5)
            else str(uuid.UUID(int=hostile.rng.getrandbits(128)))
        )
        good = {
            "request_id": request_id,
            "view": 1,
            "click": hostile.pick((0, 1)),
            "acquisition": 0,
        }
        variant = mutate(hostile, good, FEEDBACK_KINDS)
        path = "/v1/feedback"
        if hostile.chance(0.1):  # the classic route: POST /ad/{request_id}/feedback
            path = f"/ad/{quote(request_id, safe='')}/feedback"
            if hostile.chance(0.3):
                path = f"/ad/{hostile.pick(BAD_PERCENT)}/feedback"
        meta = {"variant": variant.name}
        return Case("feedback", "POST", path, variant.body, variant.content_type, meta)


# BAD_PERCENT are percent-encodings that decode to no UTF-8 text (or to nothing at all).
BAD_PERCENT: tuple[str, ...] = ("%C3", "%FF", "%ED%A0%80", "%C0%AF", "%F4%90%80%80", "%", "%zz")
ORDER_BYS: tuple[str, ...] = (
    "",
    "campaign_id",
    "spent desc",
    "budget",
    "cpm desc",
    "created_at desc",
    "updated_at",
    "remaining_budget desc",
    "text",
    "status desc",
    "target_city",
    "SPENT",
    "spent sideways",
    "impressions",
    "spent desc campaign_id",
    "budget;drop table campaigns",
)
FILTERS: tuple[str, ...] = (
    "",
    "status=ACTIVE",
    "status=INACTIVE category=Electronics",
    'category="Sports & Fitness"',
    "target_city=Delhi target_device='Android Mobile'",
    "status=" + "A" * 17,
    "category=" + "é" * 101,
    "status=ACTIVE status=INACTIVE",
    "campaign_id=c-1",
    "status",
    "status=",
    'category="unclosed',
    "=x",
    "status=\x00",
    "status=ACTIVE\\",
    "a" * 3000,
    "category=١٠٠",  # noqa: RUF001
)
