"""The engine's fast paths (issue 14) give what the long ways give.

Each cheaper route through the cookie, signing, serializer and MemoryStore code is checked
against the plain computation it stands for: the text MemoryStore's ``touch`` splices
against decoding, replacing the cookie and encoding again; ``encode_uri_component``
against ``urllib.parse.quote``; the cached HMAC keys against :mod:`hmac`; the reused C
JSON encoder against :class:`json.JSONEncoder`, errors included.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote

import pytest

from connectstore import MemoryStore
from connectstore.cookie import Cookie
from connectstore.serializer import CompactJSON, JSONSerializer, SessionData
from connectstore.session import data_json
from connectstore.signing import encode_uri_component, sign, unsign

T0 = 4_102_444_800_000  # 2100-01-01, far enough ahead for a real clock


def cookie_json(expires_ms: int, **extra: Any) -> dict[str, Any]:
    cookie = Cookie.create(max_age_ms=86_400_000, now=expires_ms - 86_400_000, **extra)
    return cookie.to_json()


def touched_the_long_way(text: str, cookie: object) -> str:
    """What ``touch`` wrote before the splice: decode, replace the cookie, encode."""
    serializer = JSONSerializer()
    current = serializer.loads(text)
    current["cookie"] = cookie
    return serializer.dumps(current)


SESSIONS: list[dict[str, Any]] = [
    {"n": 1},
    {},
    {"user": {"name": "Zoë 😀", "roles": ["a", "b"]}, "cart": [1, 2.5, 1e21, -0.0, None, True]},
    {"big": 9_007_199_254_740_991, "small": -9_007_199_254_740_991, "f": 10_000_000_000_000_000.0},
    {"text": 'quote " backslash \\ newline \n tab \t nul \x00 } { ] [ ,'},
    {"lone": "\ud800 and \udfff"},
    {"pair": "\ud83d\ude00"},  # two lone surrogates: decoding joins them, so the long way runs
]


@pytest.mark.parametrize("data", SESSIONS)
async def test_touch_writes_what_decoding_replacing_and_encoding_would(data: dict[str, Any]) -> None:
    store = MemoryStore()
    await store.set("sid", {"cookie": cookie_json(T0, domain="a}b", same_site="lax"), **data})
    before = store._sessions["sid"][0]
    new_cookie = cookie_json(T0 + 5000, domain="a}b", same_site="lax")
    await store.touch("sid", {"cookie": new_cookie, "ignored": "only the cookie is replaced"})
    text, deadline = store._sessions["sid"]
    assert text == touched_the_long_way(before, new_cookie)
    assert deadline == T0 + 5000


async def test_touch_of_a_session_stored_with_its_cookie_last_takes_the_long_way() -> None:
    store = MemoryStore()
    await store.set("sid", {"n": 1, "cookie": cookie_json(T0)})
    before = store._sessions["sid"][0]
    assert not before.startswith('{"cookie":')
    new_cookie = cookie_json(T0 + 5000)
    await store.touch("sid", {"cookie": new_cookie})
    assert store._sessions["sid"][0] == touched_the_long_way(before, new_cookie)


async def test_touch_with_a_cookie_object_or_none() -> None:
    store = MemoryStore()
    await store.set("sid", {"cookie": cookie_json(T0), "n": 1})
    cookie = Cookie.create(max_age_ms=5000, now=T0)
    await store.touch("sid", {"cookie": cookie})
    assert store._sessions["sid"][0] == json.dumps(
        {"cookie": cookie.to_json(), "n": 1}, separators=(",", ":"), ensure_ascii=False
    )
    await store.touch("sid", {})  # no cookie: stored as null, kept until destroyed (no ttl)
    assert store._sessions["sid"] == ('{"cookie":null,"n":1}', None)


class UpperSerializer(JSONSerializer):
    """Another serializer: MemoryStore must not splice its text."""

    def dumps(self, session: Any) -> str:
        return super().dumps({key: (v.upper() if isinstance(v, str) else v) for key, v in session.items()})


async def test_touch_with_another_serializer_takes_the_long_way() -> None:
    store = MemoryStore(serializer=UpperSerializer())
    await store.set("sid", {"cookie": cookie_json(T0), "name": "abc"})
    await store.touch("sid", {"cookie": cookie_json(T0 + 5000)})
    stored = await store.get("sid")
    assert stored is not None
    assert stored["name"] == "ABC"
    assert stored["cookie"] == cookie_json(T0 + 5000)


def test_encode_uri_component_is_quote_for_every_ascii_character() -> None:
    for code in range(128):
        char = chr(code)
        for value in (char, f"s:{char}x+/=", f"{char}{char}abc:+/=", f"%{char}:"):
            assert encode_uri_component(value) == quote(value, safe="!'()*-._~"), repr(value)
    assert encode_uri_component("s:é+/") == quote("s:é+/", safe="!'()*-._~")


@pytest.mark.parametrize("secret", ["keyboard cat", b"\xffraw key", "clé"])
def test_signatures_match_hmac_every_time(secret: str | bytes) -> None:
    key = secret.encode() if isinstance(secret, str) else secret
    for value in ("abc", "abc", "é😀", ""):
        mac = hmac.new(key, value.encode("utf-8"), hashlib.sha256).digest()
        assert sign(value, secret) == f"{value}.{base64.b64encode(mac).decode().rstrip('=')}"


def test_a_bytearray_secret_is_read_each_time() -> None:
    secret = bytearray(b"first key")
    signed = sign("sid", secret)  # type: ignore[arg-type]
    assert signed == sign("sid", b"first key")
    secret[:5] = b"other"
    assert sign("sid", secret) == sign("sid", b"other key")  # type: ignore[arg-type]


def test_many_secrets_sign_and_verify_beyond_the_remembered_ones() -> None:
    secrets = [f"secret {index}" for index in range(100)]
    for secret in secrets:
        signed = sign("sid", secret)
        assert unsign(signed, secrets) == "sid"
        assert unsign(signed, [s for s in secrets if s != secret]) is None


VALUES: list[Any] = [
    {"cookie": {"originalMaxAge": 1, "expires": None}, "n": 1},
    "text é",
    [1, 2.5, None, True, {"a": []}],
    {"nested": {"deeper": {"deepest": [1, {"x": "y"}]}}},
    3,
]


@pytest.mark.parametrize("value", VALUES)
def test_compact_json_is_the_encoder(value: Any) -> None:
    assert CompactJSON()(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_compact_json_raises_the_encoders_errors_and_works_afterwards() -> None:
    encode = CompactJSON(allow_nan=False)
    circular: dict[str, Any] = {"a": [1]}
    circular["self"] = circular
    with pytest.raises(ValueError, match="Circular reference"):
        encode(circular)
    with pytest.raises(ValueError, match="Out of range float"):
        encode({"x": [float("nan")]})
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode({"x": object()})
    shared = [1, 2]
    assert encode({"a": shared, "b": shared}) == '{"a":[1,2],"b":[1,2]}'  # no stale marks
    assert encode({"a": circular["a"]}) == '{"a":[1]}'


def test_data_json_writes_the_repr_of_what_json_cannot_carry() -> None:
    when = Cookie.create(max_age_ms=1, now=T0).expires
    assert data_json({"when": when}) == json.dumps(
        {"when": repr(when)}, ensure_ascii=False, separators=(",", ":")
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a":1}', {"a": 1}),
        ('  {"a":1}  ', {"a": 1}),
        ('{"a":9007199254740993}', {"a": 9007199254740992.0}),
        ('{"a":[1,{"b":12345678901234567890}]}', {"a": [1, {"b": 1.2345678901234567e19}]}),
    ],
)
def test_loads_reads_what_decode_reads(text: str, expected: SessionData) -> None:
    assert JSONSerializer().loads(text) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"a":1} x', "Extra data"),
        ('{"a":1}{}', "Extra data"),
        ("", "Expecting value"),
        ("  ", "Expecting value"),
        ('{"a":NaN}', "NaN is not valid JSON"),
        ("[1]", "must be a JSON object"),
    ],
)
def test_loads_refuses_what_decode_refuses(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        JSONSerializer().loads(text)


def test_set_cookie_attributes_are_checked_for_each_combination() -> None:
    strict = Cookie(same_site=True, expires=None).serialize("n", "v")
    assert strict == "n=v; Path=/; HttpOnly; SameSite=Strict"
    with pytest.raises(ValueError, match="sameSite"):
        Cookie(same_site=1).serialize("n", "v")  # type: ignore[arg-type]  # == True, but not True
    with pytest.raises(ValueError, match="priority"):
        Cookie(priority="urgent").serialize("n", "v")
    with pytest.raises(ValueError, match="domain"):
        Cookie(domain="a;b").serialize("n", "v")
    assert Cookie(domain="example.com", secure=True, priority="high").serialize("n", "v") == (
        "n=v; Domain=example.com; Path=/; HttpOnly; Secure; Priority=High"
    )


def test_expires_dates_of_successive_seconds() -> None:
    first = Cookie.create(max_age_ms=0, now=T0)
    second = Cookie.create(max_age_ms=0, now=T0 + 1000)
    again = Cookie.create(max_age_ms=0, now=T0 + 999)
    assert "Expires=Fri, 01 Jan 2100 00:00:00 GMT" in first.serialize("n", "v")
    assert "Expires=Fri, 01 Jan 2100 00:00:01 GMT" in second.serialize("n", "v")
    assert "Expires=Fri, 01 Jan 2100 00:00:00 GMT" in again.serialize("n", "v")
