"""The adapter's own arithmetic: which expiry get() reports, deadlines.

``live_session`` decides between the cookie and the key's TTL. ``Bounded`` cancels overdue
calls with one timer per store: an overdue call becomes StoreUnavailableError, and the
caller's task is left usable.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from connectstore import StoreUnavailableError, ttl_seconds
from connectstore.cookie import format_expires
from connectstore_redis import RedisStore
from connectstore_redis.expiry import live_session
from connectstore_redis.failures import Bounded
from tests.tools import free_port

PORT = free_port()  # nothing listens there
MS_RANGE = st.integers(min_value=-(10**13), max_value=253402300799999)  # up to 9999-12-31


@given(MS_RANGE, st.integers(min_value=1, max_value=10**6))
def test_the_store_writes_connect_redis_ttls(ms: int, default: int) -> None:
    """Every key's TTL is ttl_seconds (connect-redis's rule, from the core), with the
    store's ``ttl`` for a cookie without expiry.
    """
    store = RedisStore(Redis(port=PORT), ttl=default)  # nothing connects
    session = {"cookie": {"expires": format_expires(ms)}}
    assert abs(store._ttl_for(session) - ttl_seconds(session, default)) <= 1  # the clock moved
    assert store._ttl_for({"cookie": {"expires": None}}) == default


def at(ms: int) -> dict[str, Any]:
    return {"cookie": {"originalMaxAge": 1000, "expires": format_expires(ms)}, "v": 1}


NOW = 1_800_000_000_000


def test_untouched_key_reports_the_cookie_and_dies_with_it() -> None:
    session = at(NOW + 10_000)
    assert live_session(at(NOW + 10_000), pttl=10_600, now=NOW) == session  # EX rounded up
    assert live_session(at(NOW - 300), pttl=400, now=NOW) is None  # cookie past, key lingers


def test_a_past_cookie_is_expired_whatever_the_ttl() -> None:
    """The rule of every store: a key extended by EXPIRE (connect-redis's touch), written
    with a ttl function or a foreign TTL, never revives a session whose cookie has passed.
    """
    assert live_session(at(NOW - 60_000), pttl=600_000, now=NOW) is None
    assert live_session(at(NOW - 1), pttl=86_400_000, now=NOW) is None
    assert live_session(at(NOW), pttl=5_000, now=NOW) is None
    alive = live_session(at(NOW + 60_000), pttl=86_400_000, now=NOW)  # a ttl function's long TTL
    assert alive is not None
    assert alive["cookie"]["expires"] == format_expires(NOW + 60_000), "the cookie, not the TTL"


def test_trust_key_ttl_reports_an_extended_key_with_its_deadline() -> None:
    got = live_session(at(NOW - 60_000), pttl=600_000, now=NOW, trust_key_ttl=True)
    assert got is not None
    assert got["cookie"]["expires"] == format_expires(NOW + 600_000)


def test_shortened_key_reports_its_deadline() -> None:
    got = live_session(at(NOW + 3_600_000), pttl=30_000, now=NOW)
    assert got is not None
    assert got["cookie"]["expires"] == format_expires(NOW + 30_000)


def test_key_without_ttl_follows_the_cookie() -> None:
    assert live_session(at(NOW + 1), pttl=-1, now=NOW) is not None
    assert live_session(at(NOW), pttl=-1, now=NOW) is None


def test_browser_session_cookie_never_gets_an_expiry() -> None:
    session = {"cookie": {"originalMaxAge": None, "expires": None}}
    assert live_session(dict(session), pttl=5_000, now=NOW) == session


async def test_overdue_call_raises_and_leaves_the_task_usable() -> None:
    bounded = Bounded(timeout=0.2, limit=4)
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match=r"within 0\.2 s"):
        await bounded(lambda: asyncio.sleep(30))
    assert time.monotonic() - started < 20, "the deadline, not the 30 s sleep, ended the call"
    if sys.version_info >= (3, 11):
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0
    await asyncio.sleep(0.01)  # no stray cancellation is delivered afterwards
    assert await bounded(lambda: asyncio.sleep(0.01, result="ok")) == "ok"


async def test_outside_cancellation_is_not_turned_into_an_error() -> None:
    bounded = Bounded(timeout=5, limit=4)
    call = asyncio.ensure_future(bounded(lambda: asyncio.sleep(30)))
    await asyncio.sleep(0.05)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call


async def test_many_concurrent_calls_each_get_their_own_deadline() -> None:
    bounded = Bounded(timeout=1.0, limit=100)  # a loaded machine may stall a loop for 0.2 s

    async def slow_or_fast(i: int) -> str:
        return await bounded(lambda: asyncio.sleep(30 if i % 2 else 0, result="ok"))

    results = await asyncio.gather(*(slow_or_fast(i) for i in range(50)), return_exceptions=True)
    assert results[::2] == ["ok"] * 25
    assert all(isinstance(result, StoreUnavailableError) for result in results[1::2])
