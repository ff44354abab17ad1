"""RedisStore and the real connect-redis 9 (express-session 1.19, node-redis) share one Redis.

The npm packages are installed once into the npm cache folder (tests/node.py). Sessions
written by either side are read by the other with equal data and the same TTL (+/- 1 s);
touch on either side is seen by the other (connect-redis's touch, EXPIRE only, as far as
the stored cookie allows, or fully with ``trust_key_ttl``); length, all and clear agree.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from connectstore import now_ms
from connectstore.cookie import format_expires, parse_expires
from connectstore_redis import RedisStore
from tests.adapters.redis.conftest import unique_prefix
from tests.node import npm_project, run_node

PACKAGES = ("express-session@1.19.0", "connect-redis@9.0.0", "redis@6.3.1")

# Runs a list of operations with connect-redis on the given Redis and prefix, printing one
# JSON object of results. Sessions are built as express-session builds them: a Session
# with a real Cookie (store.createSession for loaded ones), so the bytes are Node's own.
NODE_SCRIPT = r"""
const session = require('express-session');
const { RedisStore } = require('connect-redis');
const { createClient } = require('redis');
let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', async () => {
  const { url, prefix, ops } = JSON.parse(input);
  const client = createClient({ url });
  await client.connect();
  const store = new RedisStore({ client, prefix });
  const results = [];
  for (const op of ops) {
    if (op.op === 'set') {
      const req = { sessionID: op.sid, sessionStore: store };
      req.session = new session.Session(req);
      req.session.cookie = new session.Cookie(op.cookie);
      Object.assign(req.session, op.data);
      await store.set(op.sid, req.session);
      results.push(JSON.stringify(req.session));
    } else if (op.op === 'get') {
      results.push(await store.get(op.sid));
    } else if (op.op === 'touch') {
      const req = { sessionID: op.sid, sessionStore: store };
      const loaded = store.createSession(req, await store.get(op.sid));
      loaded.cookie.maxAge = op.maxAge;
      await store.touch(op.sid, loaded);
      results.push(null);
    } else if (op.op === 'ttl') {
      results.push(await client.ttl(prefix + op.sid));
    } else if (op.op === 'length') {
      results.push(await store.length());
    } else if (op.op === 'ids') {
      results.push((await store.ids()).sort());
    } else if (op.op === 'all') {
      results.push(await store.all());
    } else if (op.op === 'clear') {
      await store.clear();
      results.push(null);
    }
  }
  await client.quit();
  console.log(JSON.stringify(results));
});
"""


@pytest.fixture(scope="module")
def node_project() -> Path:
    return npm_project(*PACKAGES)


@pytest_asyncio.fixture
async def raw(shared_redis: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(shared_redis)
    yield client
    await client.aclose()


def node(project: Path, url: str, prefix: str, *ops: dict[str, Any]) -> list[Any]:
    """Run ``ops`` with connect-redis; one result per operation."""
    results: list[Any] = run_node(NODE_SCRIPT, {"url": url, "prefix": prefix, "ops": list(ops)}, cwd=project)
    return results


def python_session(max_age_ms: int, **data: Any) -> dict[str, Any]:
    """A session shaped as express-session stores it, with application data."""
    return {
        "cookie": {
            "originalMaxAge": max_age_ms,
            "expires": format_expires(now_ms() + max_age_ms),
            "httpOnly": True,
            "path": "/",
        },
        **data,
    }


DATA = {
    "views": 3,
    "user": {"id": 7, "name": "Zoë ✓ 日本語", "roles": ["admin", "ops"]},
    "cart": [{"sku": "A-1", "price": 9.99, "qty": 2}],
    "flags": {"beta": True, "none": None},
    "ratio": 0.1,
    "big": 2**53 - 1,
}


async def test_python_writes_connect_redis_reads(
    store: RedisStore, raw: Redis, node_project: Path, shared_redis: str
) -> None:
    started = now_ms()
    session = python_session(60_000, **DATA)
    browser = python_session(60_000, kind="browser")
    browser["cookie"].update(originalMaxAge=None, expires=None)
    await store.set("py-sid", session)
    await store.set("py-browser", browser)
    got, ttl, got_browser, browser_ttl = node(
        node_project,
        shared_redis,
        store.prefix,
        {"op": "get", "sid": "py-sid"},
        {"op": "ttl", "sid": "py-sid"},
        {"op": "get", "sid": "py-browser"},
        {"op": "ttl", "sid": "py-browser"},
    )
    assert got == session
    assert got_browser == browser
    assert abs(ttl - await raw.ttl(store.prefix + "py-sid")) <= 1
    assert_ttl(ttl, 60, started)
    assert_ttl(browser_ttl, 86400, started)


def assert_ttl(ttl: int, full: int, since_ms: int) -> None:
    """``ttl`` is what a key given ``full`` seconds at ``since_ms`` has left now: the bound
    comes from the clock around the calls (a Node process may take seconds to start on a
    loaded machine), never from how fast the machine is; 1 s more for Redis's rounding.
    """
    elapsed = -(-(now_ms() - since_ms) // 1000)
    assert full - 1 - elapsed <= ttl <= full, (ttl, full, elapsed)


async def test_connect_redis_writes_python_reads(
    store: RedisStore, raw: Redis, node_project: Path, shared_redis: str
) -> None:
    started = now_ms()
    (written,) = node(
        node_project,
        shared_redis,
        store.prefix,
        {"op": "set", "sid": "node-sid", "cookie": {"maxAge": 60_000, "sameSite": "lax"}, "data": DATA},
    )
    key = store.prefix + "node-sid"
    assert await raw.get(key) == written.encode("utf-8"), "Node stores JSON.stringify(session)"
    got = await store.get("node-sid")
    assert got is not None
    assert got == json.loads(written)
    assert store.serializer.dumps(got) == written, "re-serialized by Python: the same bytes"
    assert_ttl(await raw.ttl(key), 60, started)
    await store.set("node-sid", got)
    assert await raw.get(key) == written.encode("utf-8"), "a Python rewrite keeps Node's bytes"


async def test_touch_on_either_side_is_seen_by_the_other(
    store: RedisStore, raw: Redis, node_project: Path, shared_redis: str
) -> None:
    (_,) = node(
        node_project,
        shared_redis,
        store.prefix,
        {"op": "set", "sid": "n", "cookie": {"maxAge": 60_000}, "data": {"v": 1}},
    )
    written = python_session(60_000, v=2)
    await store.set("p", written)
    started = now_ms()
    # connect-redis touches the Python session to 10 minutes: EXPIRE only, stale value
    node(node_project, shared_redis, store.prefix, {"op": "touch", "sid": "p", "maxAge": 600_000})
    assert_ttl(await raw.ttl(store.prefix + "p"), 600, started)
    got = await store.get("p")
    assert got == written, "by default the stored cookie decides: alive, until its own expiry"
    async with RedisStore.from_url(shared_redis, prefix=store.prefix, trust_key_ttl=True) as trusting:
        trusted = await trusting.get("p")
        assert trusted is not None
        assert trusted["v"] == 2
        expires = parse_expires(trusted["cookie"]["expires"])
        assert expires is not None
        assert expires >= now_ms() + 595_000, "trust_key_ttl: get() reports the touched expiry"
    # Python touches the Node session to 10 minutes; connect-redis sees the new TTL and cookie
    started = now_ms()
    touched = python_session(600_000, v=999)
    await store.touch("n", touched)
    got_n, ttl = node(
        node_project, shared_redis, store.prefix, {"op": "get", "sid": "n"}, {"op": "ttl", "sid": "n"}
    )
    assert got_n["v"] == 1
    assert got_n["cookie"] == touched["cookie"]
    assert_ttl(ttl, 600, started)


async def test_length_all_and_clear_agree_across_the_two(
    shared_redis: str, node_project: Path, raw: Redis
) -> None:
    prefix = unique_prefix("interop", glob=False)  # connect-redis cannot list a glob prefix
    foreign = prefix.removesuffix(":") + "-foreign:x"  # a neighbour key with a longer prefix
    await raw.set(foreign, "not a session", ex=60)
    async with RedisStore.from_url(shared_redis, prefix=prefix) as store:
        for i in range(5):
            await store.set(f"py-{i}", python_session(60_000, i=i))
        node(
            node_project,
            shared_redis,
            prefix,
            *(
                {"op": "set", "sid": f"node-{i}", "cookie": {"maxAge": 60_000}, "data": {"i": i}}
                for i in range(4)
            ),
        )
        length, ids, listed = node(
            node_project, shared_redis, prefix, {"op": "length"}, {"op": "ids"}, {"op": "all"}
        )
        ours = await store.all()
        assert length == await store.length() == 9
        assert ids == sorted(ours) == sorted([sid async for sid in store.ids()])
        assert {entry.pop("id"): entry for entry in listed} == ours
        await store.clear()
        (length_after,) = node(node_project, shared_redis, prefix, {"op": "length"})
        assert length_after == 0
        await store.set("py-again", python_session(60_000))
        node(node_project, shared_redis, prefix, {"op": "clear"})
        assert await store.length() == 0
    assert await raw.get(foreign) == b"not a session"
    await raw.delete(foreign)


async def test_connect_redis_cannot_list_a_glob_prefix_that_redisstore_lists(
    store: RedisStore, node_project: Path, shared_redis: str
) -> None:
    """The bug this adapter fixes: connect-redis passes ``[*?]`` to SCAN MATCH unescaped."""
    assert "[*?]" in store.prefix
    await store.set("s", python_session(60_000))
    (length,) = node(node_project, shared_redis, store.prefix, {"op": "length"})
    assert length == 0
    assert await store.length() == 1
