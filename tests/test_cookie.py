"""The cookie model, expiry arithmetic and Set-Cookie rendering."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectstore import (
    DEFAULT_TTL,
    Cookie,
    SerializationError,
    is_expired,
    now_ms,
    session_expires,
    ttl_seconds,
)
from connectstore.cookie import format_expires, parse_expires
from connectstore.signing import sign_cookie
from tests.conftest import load_vectors

T0 = 1_893_553_445_678  # 2030-01-02T03:04:05.678Z


def test_format_expires_is_javascript_date_to_json() -> None:
    assert format_expires(T0) == "2030-01-02T03:04:05.678Z"
    assert format_expires(datetime(2030, 1, 2, 3, 4, 5, 678999, timezone.utc)) == "2030-01-02T03:04:05.678Z"
    assert format_expires(datetime(2030, 1, 2, 3, 4, 5)) == "2030-01-02T03:04:05.000Z"
    assert format_expires(0) == "1970-01-01T00:00:00.000Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-01-02T03:04:05.678Z", T0),
        ("2030-01-02T03:04:05.678123Z", T0),
        ("2030-01-02T03:04:05.6Z", T0 - 78),
        ("2030-01-02T03:04:05Z", T0 - 678),
        ("2030-01-02T04:04:05.678+01:00", T0),
        ("2030-01-02T02:04:05.678-0100", T0),
        ("2030-01-02T03:04:05.678", T0),
        ("2030-01-02", T0 - (3 * 3600 + 4 * 60 + 5) * 1000 - 678),
        ("Wed, 02 Jan 2030 03:04:05 GMT", T0 - 678),
    ],
)
def test_parse_expires_reads_what_node_writers_leave(text: str, expected: int) -> None:
    assert parse_expires(text) == expected


def test_parse_expires_other_forms() -> None:
    assert parse_expires(None) is None
    assert parse_expires(False) is None
    assert parse_expires(T0) == T0
    assert parse_expires(float(T0)) == T0
    assert parse_expires(datetime(2030, 1, 2, 3, 4, 5, 678000, timezone.utc)) == T0


@pytest.mark.parametrize(
    "bad",
    [
        "soon",
        "2030-13-45T00:00:00Z",
        "\uff12\uff10\uff13\uff10-01-01T00:00:00.000Z",
        True,
        float("nan"),
        [1],
        {},
    ],
)
def test_parse_expires_refuses_non_dates(bad: Any) -> None:
    with pytest.raises(SerializationError):
        parse_expires(bad)


def test_ttl_is_ceil_of_seconds_left_like_connect_redis() -> None:
    session = {"cookie": {"expires": format_expires(T0)}}
    assert ttl_seconds(session, now=T0 - 1500) == 2
    assert ttl_seconds(session, now=T0 - 1000) == 1
    assert ttl_seconds(session, now=T0 - 1) == 1
    assert ttl_seconds(session, now=T0) == 0
    assert ttl_seconds(session, now=T0 + 1) == 0
    assert ttl_seconds(session, now=T0 + 1001) == -1
    assert ttl_seconds({"cookie": {"expires": None}}) == DEFAULT_TTL
    assert ttl_seconds({"cookie": {"originalMaxAge": None}}, 42) == 42
    assert ttl_seconds({}) == DEFAULT_TTL


def test_is_expired_at_or_after_the_expiry() -> None:
    session = {"cookie": {"expires": format_expires(T0)}}
    assert not is_expired(session, now=T0 - 1)
    assert is_expired(session, now=T0)
    assert not is_expired({"cookie": {"expires": None}})
    assert not is_expired({"views": 1})
    assert session_expires({"cookie": Cookie.create(max_age_ms=5000, now=T0)}) == T0 + 5000


def test_cookie_must_be_an_object() -> None:
    with pytest.raises(SerializationError):
        session_expires({"cookie": "yes"})


def test_cookie_create_mirrors_express_session_generate() -> None:
    cookie = Cookie.create(max_age_ms=60000, now=T0)
    assert cookie.to_json() == {
        "originalMaxAge": 60000,
        "expires": format_expires(T0 + 60000),
        "httpOnly": True,
        "path": "/",
    }
    assert list(Cookie().to_json()) == ["originalMaxAge", "expires", "httpOnly", "path"]
    assert Cookie().to_json() == {"originalMaxAge": None, "expires": None, "httpOnly": True, "path": "/"}


def test_cookie_max_age_and_reset() -> None:
    before = now_ms()
    cookie = Cookie.create(max_age_ms=60000)
    remaining = cookie.max_age_ms
    after = now_ms()
    assert remaining is not None
    assert 60000 - (after - before) - 1 <= remaining <= 60000  # whatever the machine's speed
    cookie.expires = datetime.now(timezone.utc) - timedelta(seconds=5)
    assert (cookie.max_age_ms or 0) < 0
    cookie.reset_max_age(now=T0)
    assert cookie.expires_ms == T0 + 60000
    assert Cookie().max_age_ms is None


def test_cookie_json_round_trip_drops_unknown_keys_like_node() -> None:
    data = {"originalMaxAge": 1, "expires": "2030-01-02T03:04:05.678Z", "path": "/", "bogus": 1}
    assert Cookie.from_json(data).to_json() == {
        "originalMaxAge": 1,
        "expires": "2030-01-02T03:04:05.678Z",
        "httpOnly": True,
        "path": "/",
    }


def test_set_cookie_header_matches_express_session() -> None:
    vector = load_vectors("session-json.json")["set_cookie"]
    options = vector["options"]
    cookie = Cookie(
        expires=datetime.fromisoformat(options["expires"].replace("Z", "+00:00")),
        path=options["path"],
        http_only=options["httpOnly"],
        secure=options["secure"],
        same_site=options["sameSite"],
        domain=options["domain"],
    )
    value = sign_cookie("abc", "keyboard cat")
    assert cookie.serialize("connect.sid", value) == vector["header"]


def test_set_cookie_header_other_attributes() -> None:
    cookie = Cookie(path="/", same_site=True, priority="high", partitioned=True, http_only=False)
    assert cookie.serialize("n", "v") == "n=v; Path=/; Partitioned; Priority=High; SameSite=Strict"
    assert Cookie(path=None, http_only=None).serialize("n", "a b") == "n=a%20b"


@pytest.mark.parametrize(
    "cookie",
    [
        Cookie(domain="evil.com; Path=/"),
        Cookie(path="/\r\nX: y"),
        Cookie(same_site="sideways"),
        Cookie(priority="urgent"),
    ],
)
def test_set_cookie_header_refuses_injection(cookie: Cookie) -> None:
    with pytest.raises(ValueError, match="invalid cookie"):
        cookie.serialize("connect.sid", "v")


def test_set_cookie_header_refuses_bad_names() -> None:
    with pytest.raises(ValueError, match="invalid cookie name"):
        Cookie().serialize("bad name;", "v")


def test_now_ms_is_epoch_milliseconds() -> None:
    before = datetime.now(timezone.utc).timestamp() * 1000
    now = now_ms()
    after = datetime.now(timezone.utc).timestamp() * 1000
    assert before - 1 <= now <= after + 1


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (8_640_000_000_000_000, "+275760-09-13T00:00:00.000Z"),  # new Date(8.64e15).toJSON()
        (-62_198_755_200_000, "-000001-01-01T00:00:00.000Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
    ],
)
def test_extended_years_like_javascript(ms: int, text: str) -> None:
    assert format_expires(ms) == text
    assert parse_expires(text) == ms


def test_dates_match_node_for_many_instants() -> None:
    import random

    from tests.node import run_node

    rng = random.Random(7)
    instants = [rng.randint(-8_640_000_000_000_000, 8_640_000_000_000_000) for _ in range(500)]
    instants += [rng.randint(0, 4_102_444_800_000) for _ in range(500)]
    theirs = run_node(
        "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{"
        "console.log(JSON.stringify(JSON.parse(s).map(ms=>new Date(ms).toJSON())))})",
        instants,
    )
    assert [format_expires(ms) for ms in instants] == theirs
    assert [parse_expires(text) for text in theirs] == instants


def test_impossible_dates_are_refused() -> None:
    for text in ["2030-02-30T00:00:00Z", "2031-02-29T00:00:00Z", "2030-01-01T24:00:00Z", "2030-00-10"]:
        with pytest.raises(SerializationError):
            parse_expires(text)


def test_cookie_object_refuses_expiry_beyond_datetime_range() -> None:
    with pytest.raises(SerializationError, match="beyond the years"):
        Cookie.from_json({"expires": "+275760-09-13T00:00:00.000Z"})


def _parse_or_error(parse: Any, text: Any) -> Any:
    try:
        return parse(text)
    except SerializationError:
        return SerializationError


def _slow(text: Any) -> Any:
    """The general parser alone (no fast path for Node's canonical form)."""
    from connectstore.cookie import _parse_date_string

    if not isinstance(text, str):
        return parse_expires(text)
    parsed = _parse_date_string(text.strip())
    if parsed is None:
        raise SerializationError("not a date")
    return parsed


@given(st.integers(min_value=-(10**13), max_value=253_402_300_799_999))
def test_fast_path_reads_every_canonical_date_as_the_general_parser(ms: int) -> None:
    text = format_expires(ms)
    assert parse_expires(text) == _slow(text) == ms


@given(st.text(alphabet="0123456789-T:.Z+ x", min_size=20, max_size=26))
def test_fast_path_agrees_with_the_general_parser_on_near_misses(text: str) -> None:
    assert _parse_or_error(parse_expires, text) == _parse_or_error(_slow, text)


@pytest.mark.parametrize(
    "text",
    [
        "2030-02-30T00:00:00.000Z",
        "2030-01-01T24:00:00.000Z",
        "2030-01-01T23:60:00.000Z",
        "2030-01-01T23:59:60.000Z",
        "2030-01-01T23:59:59.999Z",
        "2030-01-01 23:59:59.999Z",
        "\uff12\uff10\uff13\uff10-01-01T00:00:00.000Z",  # full-width digits
        "0000-01-01T00:00:00.000Z",
    ],
)
def test_fast_path_agrees_with_the_general_parser_on_odd_values(text: str) -> None:
    assert _parse_or_error(parse_expires, text) == _parse_or_error(_slow, text)
