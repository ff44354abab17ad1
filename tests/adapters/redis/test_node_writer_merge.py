"""A Node app (express-session + connect-redis 9) saves a session while a Python request has it open.

The real connect-redis from npm loads the same session from the same Redis, changes other
keys and saves it, as an Express app's request would, between the Python request's load and
its save: the scenario of :mod:`tests.interop.node_merge` (merged under this store's default
``on_conflict="merge"``, lost under ``"overwrite"``; a Node logout stays a logout).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from connectstore_redis import RedisStore
from tests.adapters.redis.conftest import unique_prefix
from tests.adapters.redis.test_node_interop import PACKAGES
from tests.interop.node_merge import (
    check_a_node_logout_stays_a_logout,
    check_a_node_save_is_merged,
    check_overwrite_loses_the_node_save,
)
from tests.node import npm_project, run_node

# express-session's own load -> change -> save of one session, through connect-redis.
NODE_SCRIPT = r"""
const session = require('express-session');
const { RedisStore } = require('connect-redis');
const { createClient } = require('redis');
let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', async () => {
  const { url, prefix, op, sid, set, remove } = JSON.parse(input);
  const client = createClient({ url });
  await client.connect();
  const store = new RedisStore({ client, prefix });
  let result = null;
  if (op === 'change') {  // what a request's handler and express-session's save do
    const req = { sessionID: sid, sessionStore: store };
    const sess = store.createSession(req, await store.get(sid));
    Object.assign(sess, set);
    for (const key of remove) delete sess[key];
    await new Promise((resolve, reject) => sess.save((err) => (err ? reject(err) : resolve())));
    result = JSON.parse(JSON.stringify(sess));
  } else if (op === 'destroy') {
    await store.destroy(sid);
  } else if (op === 'get') {
    result = (await store.get(sid)) ?? null;
  }
  await client.quit();
  console.log(JSON.stringify(result));
});
"""


@pytest.fixture(scope="module")
def node_project() -> Path:
    return npm_project(*PACKAGES)


@pytest_asyncio.fixture
async def store(shared_redis: str) -> AsyncIterator[RedisStore]:
    async with RedisStore.from_url(shared_redis, prefix=unique_prefix("merge"), timeout=30.0) as store:
        yield store
        await store.clear()


async def node(project: Path, store: RedisStore, url: str, op: str, sid: str, **payload: Any) -> Any:
    """Run one operation of :data:`NODE_SCRIPT` (off the event loop, which keeps serving)."""
    request = {"url": url, "prefix": store.prefix, "op": op, "sid": sid, "set": {}, "remove": [], **payload}
    return await asyncio.to_thread(run_node, NODE_SCRIPT, request, cwd=project, timeout=60)


def node_of(project: Path, store: RedisStore, url: str) -> Callable[..., Awaitable[Any]]:
    """The scenario's ``node(op, sid, **payload)`` on this store."""
    return functools.partial(node, project, store, url)


async def test_a_node_save_between_our_read_and_our_write_is_merged(
    store: RedisStore, node_project: Path, shared_redis: str
) -> None:
    await check_a_node_save_is_merged(store, node_of(node_project, store, shared_redis))


async def test_the_same_interleaving_with_overwrite_loses_the_node_save(
    store: RedisStore, node_project: Path, shared_redis: str
) -> None:
    await check_overwrite_loses_the_node_save(store, node_of(node_project, store, shared_redis))


async def test_a_node_logout_between_our_read_and_our_write_stays_a_logout(
    store: RedisStore, node_project: Path, shared_redis: str
) -> None:
    await check_a_node_logout_stays_a_logout(store, node_of(node_project, store, shared_redis))
