"""RedisStore behind connectstore's sync bridge, as a WSGI app (Flask, Django) uses it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from connectstore import BlockingStore, StoreUnavailableError
from connectstore_conformance import make_session
from connectstore_redis import RedisStore
from tests.adapters.redis.conftest import unique_prefix
from tests.adapters.redis.servers import RedisServer


def test_threads_share_one_store_through_the_bridge(shared_redis: str) -> None:
    prefix = unique_prefix("bridge")
    with BlockingStore(lambda: RedisStore.from_url(shared_redis, prefix=prefix)) as store:

        def request(i: int) -> int:
            store.set(f"s{i}", make_session(i=i))
            got = store.get(f"s{i}")
            assert got is not None
            store.touch(f"s{i}", make_session())
            value: int = got["i"]
            return value

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert sorted(pool.map(request, range(100))) == list(range(100))
        assert store.length() == 100
        assert sorted(store.ids(), key=lambda sid: int(sid[1:])) == [f"s{i}" for i in range(100)]
        store.clear()
        assert store.all() == {}


def test_redis_down_behind_the_bridge_fails_fast_and_recovers(own_redis: RedisServer) -> None:
    with BlockingStore(lambda: RedisStore.from_url(own_redis.url, timeout=0.5)) as store:
        store.set("s", make_session(v=1))
        own_redis.kill()
        with pytest.raises(StoreUnavailableError):
            store.get("s")
        own_redis.start()
        deadline = time.monotonic() + 15  # the breaker lets a probe through every 0.25 s
        while True:
            try:
                store.set("s", make_session(v=2))
                break
            except StoreUnavailableError:
                assert time.monotonic() < deadline, "service did not resume after Redis came back"
                time.sleep(0.05)
        assert (store.get("s") or {}).get("v") == 2
