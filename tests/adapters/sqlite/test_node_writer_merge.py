"""A Node app (express-session + connect-sqlite3) saves a session while a Python request has it open.

The real connect-sqlite3 from npm loads the same session from the same file, changes other
keys and saves it, as an Express app's request would, between the Python request's load and
its save: the scenario of :mod:`tests.interop.node_merge` (merged under this store's default
``on_conflict="merge"``, lost under ``"overwrite"``; a Node logout stays a logout).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from connectstore_sqlite import SQLiteStore
from tests.interop.node_merge import (
    check_a_node_logout_stays_a_logout,
    check_a_node_save_is_merged,
    check_overwrite_loses_the_node_save,
)
from tests.node import npm_project, run_node

from .test_node_interop import PACKAGES

# Runs express-session's own load -> change -> save of one session through connect-sqlite3.
NODE_SCRIPT = r"""
const session = require('express-session');
const SQLiteStore = require('connect-sqlite3')(session);
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const store = new SQLiteStore({ dir: input.dir, db: input.db, concurrentDb: true });
const call = (f) => new Promise((resolve, reject) => f((err, value) => err ? reject(err) : resolve(value)));

store.client.once('connect', async () => {
  let result = null;
  if (input.op === 'change') {  // what a request's handler and express-session's save do
    const sess = await call((cb) => store.load(input.sid, cb));
    Object.assign(sess, input.set);
    for (const key of input.remove) delete sess[key];
    await call((cb) => sess.save(cb));
    result = JSON.parse(JSON.stringify(sess));
  } else if (input.op === 'destroy') {
    await call((cb) => store.destroy(input.sid, cb));
  } else if (input.op === 'get') {
    result = (await call((cb) => store.get(input.sid, cb))) ?? null;
  }
  store.db.close(() => console.log(JSON.stringify(result)));
});
"""


@pytest.fixture(scope="module")
def node_project() -> Path:
    with pytest.MonkeyPatch.context() as patch:
        if "npm_config_nodedir" not in os.environ and Path("/usr/include/node/node.h").exists():
            patch.setenv("npm_config_nodedir", "/usr")  # build sqlite3 from source, no download
        return npm_project(*PACKAGES)


async def node(project: Path, db_path: Path, op: str, sid: str, **payload: Any) -> Any:
    """Run one operation of :data:`NODE_SCRIPT` (off the event loop, which keeps serving)."""
    request = {
        "dir": str(db_path.parent),
        "db": db_path.name,
        "op": op,
        "sid": sid,
        "set": {},
        "remove": [],
        **payload,
    }
    return await asyncio.to_thread(run_node, NODE_SCRIPT, request, cwd=project, timeout=60)


def node_of(project: Path, db_path: Path) -> Callable[..., Awaitable[Any]]:
    """The scenario's ``node(op, sid, **payload)`` on this file."""
    return functools.partial(node, project, db_path)


async def test_a_node_save_between_our_read_and_our_write_is_merged(
    node_project: Path, db_path: Path
) -> None:
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        await check_a_node_save_is_merged(store, node_of(node_project, db_path))


async def test_the_same_interleaving_with_overwrite_loses_the_node_save(
    node_project: Path, db_path: Path
) -> None:
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        await check_overwrite_loses_the_node_save(store, node_of(node_project, db_path))


async def test_a_node_logout_between_our_read_and_our_write_stays_a_logout(
    node_project: Path, db_path: Path
) -> None:
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        await check_a_node_logout_stays_a_logout(store, node_of(node_project, db_path))
