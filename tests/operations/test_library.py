"""The operations library (:mod:`connectstore.operations`) on MemoryStore and a SQLite file,
checked against figures computed here from the sessions written.
"""

from __future__ import annotations

import io
import json
import math
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from connectstore import MemoryStore, SerializationError, UnsupportedOperationError, open_store
from connectstore.operations import (
    Progress,
    copy,
    is_empty,
    percentile,
    prune,
    redact,
    remove,
    revoke,
    sessions,
    stats,
)
from tests.operations.conftest import HOUR_MS, session, sqlite_url


def stored_size(data: dict[str, Any]) -> int:
    """JSON.stringify's size for the plain values these tests write (compact, raw UTF-8)."""
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())


def nearest_rank(sizes: list[int], fraction: float) -> int:
    ordered = sorted(sizes)
    return ordered[math.ceil(fraction * len(ordered)) - 1]


def population(count: int, seed: int) -> dict[str, dict[str, Any]]:
    """Sessions of random sizes, users (some numeric, some none) and expiries."""
    rng = random.Random(seed)
    made = {}
    for index in range(count):
        user = rng.choice([None, "ada", "bob", 7, 8, "zoé"])
        expires_in = rng.choice([None, HOUR_MS // 2, 5 * HOUR_MS, 48 * HOUR_MS])
        made[f"sid-{index}"] = session(user, expires_in_ms=expires_in, note="é" * rng.randrange(0, 300))
    return made


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_stats_match_the_figures_computed_from_the_sessions(backend: str, tmp_path: Path) -> None:
    written = population(400, seed=16)
    url = "memory://" if backend == "memory" else sqlite_url(tmp_path / "s.db")
    async with open_store(url) as store:
        for sid, data in written.items():
            await store.set(sid, data)
        found = await stats(store)
    sizes = [stored_size(data) for data in written.values()]
    users = {json.dumps(data["passport"]["user"]) for data in written.values() if "passport" in data}
    expiries = Counter(data["cookie"]["originalMaxAge"] for data in written.values())
    assert found.sessions == 400
    assert found.users == len(users) == 5
    assert found.anonymous == sum("passport" not in data for data in written.values())
    assert found.bytes == sum(sizes)
    assert (found.p50, found.p90, found.p99, found.max) == (
        nearest_rank(sizes, 0.5),
        nearest_rank(sizes, 0.9),
        nearest_rank(sizes, 0.99),
        max(sizes),
    )
    assert found.expiring_1h == expiries[HOUR_MS // 2]
    assert found.expiring_24h == expiries[HOUR_MS // 2] + expiries[5 * HOUR_MS]
    assert found.as_json()["sessions"] == 400


async def test_stats_of_an_empty_store_and_another_user_key() -> None:
    async with MemoryStore() as store:
        empty = await stats(store)
        assert (empty.sessions, empty.users, empty.bytes, empty.p50, empty.max) == (0, 0, 0, 0, 0)
        await store.set("a", session(None, account={"id": "u1"}))
        await store.set("b", session("passport-user", account={"id": "u1"}))
        await store.set("c", session(None, account={"id": "u2"}))
        found = await stats(store, user_key="account.id")
        assert (found.sessions, found.users, found.anonymous) == (3, 2, 0)


def test_percentile_is_nearest_rank() -> None:
    sizes = Counter({10: 1, 20: 1, 30: 1, 40: 1})
    assert [percentile(sizes, f) for f in (0.25, 0.5, 0.51, 0.99, 1.0)] == [10, 20, 30, 40, 40]
    assert percentile(Counter(), 0.5) == 0


async def test_sessions_lists_metadata_of_a_user_up_to_a_limit() -> None:
    async with MemoryStore() as store:
        await store.set("a", session(7, secret="s3cret"))
        await store.set("b", session("7"))
        await store.set("c", session("ada"))
        await store.set("d", session(None, expires_in_ms=None))
        listed = [info async for info in sessions(store)]
        assert {info.sid for info in listed} == {"a", "b", "c", "d"}
        shown = {info.sid: info.as_json() for info in listed}
        assert shown["d"] == {
            "sid": "d",
            "user": None,
            "expires": None,
            "size": stored_size(session(None, expires_in_ms=None)),
        }
        assert "s3cret" not in json.dumps(shown)
        assert shown["a"]["user"] == "7"
        assert {info.sid async for info in sessions(store, user="7")} == {"a", "b"}  # 7 and "7" read alike
        assert {info.sid async for info in sessions(store, user=7)} == {"a", "b"}
        assert len([info async for info in sessions(store, user="7", limit=1)]) == 1
        assert [info async for info in sessions(store, user="nobody")] == []


def test_redact_keeps_keys_and_the_cookie_only() -> None:
    data = session("ada", cart=[1, 2], profile={"email": "a@b.c", "tags": ["x"], "deep": {"n": 1}}, flag=None)
    shown = redact(data)
    assert shown["cookie"] == data["cookie"]
    assert shown["passport"] == {"user": "***"}
    assert shown["cart"] == "***"
    assert shown["profile"] == {"email": "***", "tags": "***", "deep": {"n": "***"}}
    assert shown["flag"] == "***"
    assert data["passport"] == {"user": "ada"}  # the session itself is unchanged


async def test_remove_counts_the_sessions_that_existed() -> None:
    async with MemoryStore() as store:
        await store.set("a", session("ada"))
        await store.set("b", session("bob"))
        assert await remove(store, ["a", "missing", "a", "b"]) == 2
        assert await store.length() == 0
        assert await remove(store, ["a"]) == 0


async def test_revoke_destroys_a_users_sessions_but_the_kept_one(tmp_path: Path) -> None:
    async with open_store(sqlite_url(tmp_path / "r.db")) as store:
        for index in range(30):
            await store.set(f"ada-{index}", session("ada"))
            await store.set(f"bob-{index}", session("bob"))
        revoked = await revoke(store, "ada", keep={"ada-3"})
        assert sorted(revoked) == sorted(f"ada-{index}" for index in range(30) if index != 3)
        assert sorted([sid async for sid in store.ids()]) == sorted(
            ["ada-3", *(f"bob-{i}" for i in range(30))]
        )
        assert await revoke(store, "nobody") == []


async def test_prune_says_none_for_a_store_that_expires_sessions_itself() -> None:
    async with MemoryStore() as store:
        assert await prune(store) is None


class PlainStore(MemoryStore):
    """A MemoryStore declaring only what a minimal store has: no listings, no create."""

    capabilities = frozenset({"touch"})


async def test_copy_never_overwrites_and_resumes() -> None:
    async with MemoryStore() as source, MemoryStore() as target:
        for index in range(25):
            await source.set(f"s{index}", session(f"u{index}"))
        newer = session("u3", note="newer at the destination")
        await target.set("s3", newer)
        assert not await is_empty(target)
        report = await copy(source, target, batch=4)
        assert (report.copied, report.skipped, report.expired, report.read) == (24, 1, 0, 25)
        assert await target.get("s3") == newer
        assert await target.get("s4") == await source.get("s4")
        again = await copy(source, target)
        assert (again.copied, again.skipped) == (0, 25)


async def test_copy_into_a_store_without_create_reads_first() -> None:
    async with MemoryStore() as source, PlainStore() as target:
        await source.set("a", session("ada"))
        await source.set("b", session("bob"))
        await target.set("b", session("bob", note="kept"))
        report = await copy(source, target, batch=1)
        assert (report.copied, report.skipped) == (1, 1)
        assert (await target.get("b") or {}).get("note") == "kept"
        with pytest.raises(UnsupportedOperationError):
            await stats(target)
        with pytest.raises(ValueError, match="batch"):
            await copy(source, target, batch=0)


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_is_drawn_on_a_terminal_only() -> None:
    piped, terminal = io.StringIO(), Terminal()
    for stream in (piped, terminal):
        with Progress("scanning", stream=stream) as progress:
            progress.advance(3)
        assert progress.count == 3
    assert piped.getvalue() == ""
    assert "scanning" in terminal.getvalue()


class PickyStore(MemoryStore):
    """A destination refusing any session holding the key ``"odd"`` (as a store refuses a
    value it cannot carry faithfully).
    """

    async def create(self, sid: str, session: dict[str, Any]) -> str | None:
        if "odd" in session:
            raise SerializationError("not storable here", path="$.odd")
        return await super().create(sid, session)


async def test_copy_counts_and_logs_a_session_the_destination_refuses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with MemoryStore() as source, PickyStore() as target:
        await source.set("fine", session("ada"))
        await source.set("strange", session("bob", odd=1))
        report = await copy(source, target)
        assert (report.copied, report.refused, report.read) == (1, 1, 2)
        assert await target.get("strange") is None
        assert "'strange'" in caplog.text
        assert "$.odd" in caplog.text
