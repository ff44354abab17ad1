"""The commands across backends: Redis to SQLite and back keeping every session's bytes and
expiry, a resumed copy, and SurrealDB's embedded ``surrealkv://`` store.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import redis

from connectstore import open_store
from connectstore.cookie import now_ms, parse_expires
from connectstore.serializer import JSONSerializer
from tests.adapters.redis.servers import SHARED_URL
from tests.operations.conftest import HOUR_MS, RedisTarget, cli, cli_json, fill, session, sqlite_url

SERIALIZER = JSONSerializer()


def written_sessions(count: int) -> dict[str, dict[str, object]]:
    """Sessions with distinct expiries (one without), users and non-ASCII data."""
    made: dict[str, dict[str, object]] = {
        f"s{i}": session(f"u{i % 4}", expires_in_ms=(i + 2) * HOUR_MS, note="ü" * i) for i in range(count)
    }
    made["browser"] = session("u0", expires_in_ms=None)
    return made


def sqlite_rows(path: Path) -> dict[str, tuple[str, int]]:
    with sqlite3.connect(path) as db:
        return {
            sid: (sess, expired)
            for sid, sess, expired in db.execute("SELECT sid, sess, expired FROM sessions")
        }


async def test_redis_to_sqlite_keeps_bytes_and_expiry(redis_target: RedisTarget, tmp_path: Path) -> None:
    written = written_sessions(30)
    await fill(redis_target.url, written)
    target = tmp_path / "copy.db"
    assert cli_json("copy", redis_target.url, sqlite_url(target), "--batch", "8") == {
        "copied": 31,
        "skipped": 0,
        "expired": 0,
        "refused": 0,
        "read": 31,
    }
    direct = tmp_path / "direct.db"
    await fill(sqlite_url(direct), written)  # what a plain set() of each session writes
    rows, reference = sqlite_rows(target), sqlite_rows(direct)
    raw = redis.Redis.from_url(SHARED_URL)
    try:
        for sid, data in written.items():
            stored, expired = rows[sid]
            assert stored.encode() == raw.get(redis_target.prefix + sid) == SERIALIZER.dumps(data).encode()
            if sid != "browser":  # (a cookie without expiry gets the default lifetime from now)
                assert expired == reference[sid][1]
    finally:
        raw.close()
    assert cli_json("stats", sqlite_url(target))["bytes"] == cli_json("stats", redis_target.url)["bytes"]


async def test_sqlite_to_redis_keeps_bytes_and_ttl_and_resumes(
    redis_target: RedisTarget, tmp_path: Path
) -> None:
    written = written_sessions(30)
    source = sqlite_url(tmp_path / "src.db")
    await fill(source, written)
    # An interrupted earlier copy: ten sessions made it, one of them was changed since.
    newer = session("u3", note="changed at the destination")
    await fill(redis_target.url, {sid: written[sid] for sid in list(written)[:10]} | {"s3": newer})
    refused = cli("copy", source, redis_target.url)
    assert refused.returncode == 2
    assert "--resume" in refused.stderr
    resumed = cli_json("copy", source, redis_target.url, "--resume")
    assert (resumed["copied"], resumed["skipped"]) == (21, 10)
    raw = redis.Redis.from_url(SHARED_URL)
    try:
        for sid, data in written.items():
            stored = raw.get(redis_target.prefix + sid)
            expected = newer if sid == "s3" else data
            assert stored == SERIALIZER.dumps(expected).encode()
            ttl_ms = raw.pttl(redis_target.prefix + sid)
            if sid == "browser":
                assert 0 < ttl_ms <= 86_400_000  # the destination's default lifetime
            else:
                deadline = parse_expires(expected["cookie"]["expires"])  # type: ignore[index]
                assert deadline is not None
                assert abs(deadline - now_ms() - ttl_ms) < 60_000  # the cookie's own expiry, to a minute
    finally:
        raw.close()
    again = cli_json("copy", source, redis_target.url, "--resume")
    assert (again["copied"], again["skipped"]) == (0, 31)


async def test_every_command_on_redis(redis_target: RedisTarget) -> None:
    url = redis_target.url
    await fill(url, {f"ada-{i}": session("ada", secret="x") for i in range(4)} | {"bob": session("bob")})
    assert cli_json("stats", url)["users"] == 2
    assert {item["sid"] for item in cli_json("ls", url, "--user", "ada")} == {f"ada-{i}" for i in range(4)}
    assert cli_json("revoke", url, "--user", "ada", "--except", "ada-0")["revoked"] == 3
    assert cli("show", url, "ada-0").stdout.count('"***"') == 2
    assert cli("rm", url, "ada-0", "ada-1").stdout == "removed 1 of 2 sessions (1 did not exist)\n"
    assert [item["sid"] for item in cli_json("ls", url)] == ["bob"]


async def test_surrealkv_store(tmp_path: Path) -> None:
    url = f"surrealdb+surrealkv://{tmp_path / 'kv'}"
    source = sqlite_url(tmp_path / "src.db")
    written = written_sessions(12)
    await fill(source, written)
    assert cli_json("copy", source, url)["copied"] == 13
    figures = cli_json("stats", url)
    assert (figures["sessions"], figures["users"]) == (13, 4)
    assert figures["bytes"] == cli_json("stats", source)["bytes"]
    assert cli_json("revoke", url, "--user", "u1")["revoked"] == 3
    assert cli_json("prune", url) == {"pruned": 0}
    async with open_store(url) as store:
        assert await store.get("s2") == written["s2"]
        assert await store.get("s1") is None
