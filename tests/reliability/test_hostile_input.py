"""Hostile input, end to end over real HTTP (uvicorn on loopback) and real stores.

What an attacker controls is the request: the ``Cookie`` header (tampered, truncated,
oversized, duplicated), and, if the secret leaks or ``genid`` is careless, the session id
itself (glob, SQL and SurrealQL metacharacters, CR/LF, very long values). What a careless
application or a foreign writer controls is the session data and the store's content
(corrupt JSON, values JSON cannot carry) and the configuration (prefixes, table names).
Each case checks that the request is answered cleanly and that another user's session
(the "victim") is untouched. Existing unit tests cover the same rules below the HTTP
layer (tests/engine, tests/test_signing.py, tests/adapters/redis/test_prefixes.py,
tests/adapters/sqlite, tests/adapters/surrealdb); these tests add the attacker's position.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectstore import StoreURLError, open_store
from connectstore.signing import encode_uri_component, sign_cookie
from connectstore_redis import RedisStore
from tests.adapters.redis.conftest import shared_redis  # noqa: F401 (fixture)
from tests.reliability.app import SECRET, make_app, make_engine
from tests.reliability.hostile_site import Site, Target, User, cookie_for
from tests.reliability.services import served


def _tamperings(sid: str) -> dict[str, str]:
    value = sign_cookie(sid, SECRET)
    flipped = value[:-1] + ("A" if value[-1] != "A" else "B")
    return {
        "signature flipped": encode_uri_component(flipped),
        "signature truncated": encode_uri_component(value[:-5]),
        "value truncated to the sid": encode_uri_component(value.rsplit(".", 1)[0]),
        "truncated mid-sid": encode_uri_component(value[:10]),
        "unsigned sid": sid,
        "sid without s: prefix": encode_uri_component(value[2:]),
        "signature of another secret": encode_uri_component(sign_cookie(sid, "not the secret")),
        "signature moved to another sid": encode_uri_component("s:other." + value.rsplit(".", 1)[1]),
        "empty": "",
        "only s:": "s%3A",
        "only a dot": ".",
        "malformed escapes": "s%3A%E0%A4%A." + "%ff" * 10,
        "double encoded": encode_uri_component(encode_uri_component(value)),
        "extra equals": encode_uri_component(value) + "==",
        "sid with dots": encode_uri_component(sign_cookie(sid, SECRET).replace(sid, sid + ".x", 1)),
    }


async def test_tampered_and_truncated_cookies_start_a_new_session(site: Site) -> None:
    for label, value in _tamperings(site.victim_sid).items():
        reply = await site.send("GET", "/read", [f"connect.sid={value}"])
        assert reply.status_code == 200, label
        body = reply.json()
        assert body["id"] != site.victim_sid, label
        assert body["data"] == {}, label
        assert reply.headers.get_list("set-cookie") == [], label  # nothing saved for it
    await site.victim_is_intact()


async def test_oversized_cookie_headers_are_refused_or_ignored_never_a_crash(site: Site) -> None:
    huge = "x" * 200_000
    victim_data = {"owner": "victim", "sid": site.victim_sid, "n": 0}
    for cookies, allowed in (
        ([f"connect.sid={huge}"], ({}, None)),
        ([f"connect.sid=s%3A{huge}.sig"], ({}, None)),
        (["; ".join(f"c{i}=v" for i in range(5_000))], ({}, None)),
        # the victim's own valid cookie beside a huge one: h11 refuses the header, httptools
        # passes it on, and then the victim's session is read, intact, as for any request
        ([f"other={huge}", site.victim.cookie or ""], (victim_data,)),
    ):
        try:
            reply = await site.send("GET", "/read", cookies)
        except httpx.TransportError:
            continue  # the HTTP server refused the header by closing the connection
        assert reply.status_code in (200, 400, 413, 431), reply.status_code
        if reply.status_code == 200:
            assert reply.json()["data"] in allowed
    # a validly signed but very long sid (a leaked secret, or a genid gone wrong) reaches the store
    long_sid = "L" * 8_000
    reply = await site.send("GET", "/read", [cookie_for(long_sid)])
    assert reply.status_code == 200
    assert reply.json()["data"] == {}
    await site.victim_is_intact()


async def test_duplicated_cookies_first_occurrence_wins(site: Site) -> None:
    victim = site.victim.cookie or ""
    forged = cookie_for("attacker-chosen-sid")
    tampered = "connect.sid=" + encode_uri_component(sign_cookie(site.victim_sid, "wrong"))
    cases = [
        ([f"{victim}; {tampered}"], site.victim_sid),
        ([f"{tampered}; {victim}"], None),
        ([victim, tampered], site.victim_sid),  # two Cookie headers: the first header's wins
        ([tampered, victim], None),
        ([f"{forged}; {victim}"], None),
        ([victim.replace("connect.sid", "CONNECT.SID")], None),  # names are case-sensitive
        ([f"a=1 ;  {victim} ; b=2"], site.victim_sid),  # spaces around pairs are trimmed
        ([victim.replace("=", '="', 1) + '"'], site.victim_sid),  # a quoted value is unquoted
    ]
    for cookies, owner_sid in cases:
        reply = await site.send("GET", "/read", cookies)
        assert reply.status_code == 200, cookies
        body = reply.json()
        if owner_sid is None:
            assert body["id"] != site.victim_sid, cookies
            assert body["data"] == {}, cookies
        else:
            assert body["id"] == owner_sid, cookies
            assert body["data"]["owner"] == "victim", cookies
    await site.victim_is_intact()


HOSTILE_SIDS = [
    "*",
    "?",
    "[a-z]*",
    "\\*",
    "sess:*",
    "user_session:*",
    "%",
    "_",
    "' OR '1'='1",
    "'; DROP TABLE sessions; --",
    '" OR 1=1 --',
    "x' UNION SELECT sid, expired, sess FROM sessions --",
    "⟩; DELETE user_session; --",
    "`; REMOVE TABLE user_session; `",
    "a}; DELETE user_session WHERE true; {",
    "$table",
    "type::table('user_session')",
    "user_session:⟨victim⟩",
    "../../etc/passwd",
    " spaced ",
    "ü ✓ 😀 ⟨⟩",
    "k" * 1024,
]


@pytest.mark.parametrize("sid", HOSTILE_SIDS, ids=lambda s: repr(s)[:30])
async def test_genid_with_metacharacters_stays_in_its_own_session(target: Target, sid: str) -> None:
    """A ``genid`` returning a metacharacter-laden id: the session works under exactly that
    id, nothing else is read, written, listed or deleted, and logout removes only it.
    """
    victim_app = make_app(make_engine(target.store, store_timeout=5.0))
    hostile_app = make_app(make_engine(target.store, store_timeout=5.0, genid=lambda request: sid))
    async with (
        served(victim_app) as victim_base,
        served(hostile_app) as hostile_base,
        httpx.AsyncClient(base_url=victim_base) as v,
        httpx.AsyncClient(base_url=hostile_base) as h,
    ):
        victim, attacker = User(v, "victim"), User(h, "attacker")
        victim_sid = (await victim.get("/login", client="victim")).json()["id"]
        reply = await attacker.get("/login", client="attacker")
        assert reply.status_code == 200
        assert reply.json()["id"] == sid
        read = (await attacker.get("/read")).json()
        assert read == {"id": sid, "data": {"owner": "attacker", "sid": sid, "n": 0}}
        assert sorted([s async for s in target.store.ids()]) == sorted([victim_sid, sid])
        assert (await attacker.get("/logout")).status_code == 200
        assert [s async for s in target.store.ids()] == [victim_sid]
        assert (await victim.get("/read")).json()["data"] == {
            "owner": "victim",
            "sid": victim_sid,
            "n": 0,
        }


@pytest.mark.parametrize(
    "sid", ["a\r\nSet-Cookie: evil=1", "a\nb", "nul\x00byte", "tab\tsid", "", "d" * 1025]
)
async def test_genid_returning_an_unsafe_value_is_refused(target: Target, sid: str) -> None:
    app = make_app(make_engine(target.store, store_timeout=5.0, genid=lambda request: sid))
    async with served(app) as base, httpx.AsyncClient(base_url=base) as http:
        reply = await http.get("/login", params={"client": "x"})
    assert reply.status_code == 500
    assert all("evil" not in h for h in reply.headers.get_list("set-cookie"))
    assert reply.headers.get_list("set-cookie") == []
    assert await target.store.length() == 0


@pytest.mark.parametrize("sid", ["a\r\nb", "nul\x00byte", "\x7f", "\u2028", "\ud800"[:0] + "bell\x07"])
async def test_signed_cookie_with_control_characters_harms_nothing(site: Site, sid: str) -> None:
    """An attacker holding the secret sends an id with control characters (percent-encoded)."""
    reply = await site.send("GET", "/read", [cookie_for(sid)])
    assert reply.status_code == 200
    assert reply.json()["data"] == {}
    await site.victim_is_intact()


CORRUPT = {
    "truncated JSON": '{"views":',
    "not JSON": "<html>",
    "an array": "[1,2]",
    "a string": '"session"',
    "NaN": '{"n":NaN}',
    "empty": "",
    "deep nesting": "[" * 100_000 + "]" * 100_000,
}


@pytest.mark.parametrize("label", list(CORRUPT))
async def test_corrupt_record_is_logged_and_replaced_others_unaffected(
    target: Target, site: Site, label: str, caplog: pytest.LogCaptureFixture
) -> None:
    bad_sid = f"corrupt-{uuid.uuid4().hex[:8]}"
    await target.write_raw(bad_sid, CORRUPT[label])
    with caplog.at_level(logging.WARNING, logger="connectstore"):
        reply = await site.send("GET", "/read", [cookie_for(bad_sid)])
    assert reply.status_code == 200, reply.text
    assert reply.json()["id"] != bad_sid
    assert reply.json()["data"] == {}
    assert any(bad_sid in r.getMessage() and "corrupt" in r.getMessage() for r in caplog.records)
    # the holder of the bad record can log in again, and everyone else is unaffected
    reply = await site.send("GET", "/login", [cookie_for(bad_sid)], params={"client": "bad"})
    assert reply.status_code == 200
    await site.victim_is_intact()


@pytest.mark.parametrize(
    "kind", ["datetime", "bytes", "set", "nan", "infinity", "big_int", "int_key", "object"]
)
async def test_session_data_json_cannot_carry_is_refused_and_nothing_is_written(
    site: Site, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="connectstore"):
        reply = await site.send("POST", "/put-unstorable", [site.victim.cookie or ""], params={"kind": kind})
    assert reply.status_code == 500
    assert reply.json() == {"error": "SerializationError"}  # the class only: no internals to the client
    logged = [r.exc_info[1] for r in caplog.records if r.exc_info and r.exc_info[1] is not None]
    assert any(str(exc).startswith("$.value.nested[0]") for exc in logged), logged  # the path, in the log
    await site.victim_is_intact()


async def test_values_a_node_reader_needs_escaped_round_trip(site: Site) -> None:
    values: list[Any] = [
        "\ud800 lone surrogate",
        "\u2028\u2029",
        "\x00",
        2**53 - 1,
        -(2**53 - 1),
        1e21,
        5e-324,
    ]
    for value in values:
        body = json.dumps(value)  # \ud800 travels escaped, as JSON allows
        reply = await site.send("POST", "/put", [site.victim.cookie or ""], content=body)
        assert reply.status_code == 200
        read = await site.send("GET", "/read", [site.victim.cookie or ""])
        assert read.json()["data"]["value"] == value
    nested: Any = []
    for _ in range(600):
        nested = [nested]
    reply = await site.send("POST", "/put", [site.victim.cookie or ""], content=json.dumps(nested))
    assert reply.status_code == 500
    assert reply.json()["error"] == "SerializationError"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///{dir}/s.db?table=sessions;DROP TABLE sessions",
        "sqlite:///{dir}/s.db?table=sessions--",
        "sqlite:///{dir}/s.db?table=sqlite_master",
        'sqlite:///{dir}/s.db?table="sessions"',
        "sqlite:///{dir}/s.db?table=main.sessions",
        "surrealdb+mem://?table=user_session;DELETE user_session",
        "surrealdb+mem://?table=user_session:victim",
        "surrealdb+mem://?table=⟨user_session⟩",
        "surrealdb+mem://?table=`user_session`",
        "surrealdb+mem://?table=$table",
    ],
)
def test_table_names_crafted_to_reach_other_data_are_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(StoreURLError, match="table"):
        open_store(url.format(dir=tmp_path))


async def test_glob_prefix_reaches_no_other_prefix(shared_redis: str) -> None:  # noqa: F811
    """Over HTTP: an app whose prefix is ``X*`` and one whose prefix is ``Xa``, one Redis.
    Clearing or listing the first never sees the second's sessions.
    """
    base = f"cs-hostile-{uuid.uuid4().hex[:8]}"
    async with (
        RedisStore.from_url(shared_redis, prefix=base + "*") as globbing,
        RedisStore.from_url(shared_redis, prefix=base + "a") as other,
    ):
        app = make_app(make_engine(other, store_timeout=5.0))
        async with served(app) as url, httpx.AsyncClient(base_url=url) as http:
            victim = User(http, "victim")
            sid = (await victim.get("/login", client="victim")).json()["id"]
        assert await globbing.length() == 0
        assert await globbing.all() == {}
        await globbing.clear()
        assert (await other.get(sid) or {}).get("owner") == "victim"
        await other.clear()
