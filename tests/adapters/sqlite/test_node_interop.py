"""One SQLite file shared with the real connect-sqlite3 and express-session from npm.

connect-sqlite3 needs the native ``sqlite3`` npm module; where its prebuilt binary cannot
be downloaded, npm builds it from source against the local Node headers
(``npm_config_nodedir``), which this module points at ``/usr`` when they are there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from connectstore import JSONSerializer, is_expired, now_ms
from connectstore.cookie import format_expires
from connectstore_sqlite import SQLiteStore
from tests.node import npm_project, run_node

from .helpers import FakeClock, raw_rows

PACKAGES = ("express-session@1.19.0", "connect-sqlite3@0.9.18")

# Runs a list of operations through connect-sqlite3 on DIR/DB and prints what each returned.
NODE_SCRIPT = r"""
const session = require('express-session');
const SQLiteStore = require('connect-sqlite3')(session);
const { Cookie, Session } = session;
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const store = new SQLiteStore({ dir: input.dir, db: input.db, table: input.table, concurrentDb: true });
const call = (f) => new Promise((resolve, reject) => f((err, value) => err ? reject(err) : resolve(value)));

function generate(sid, maxAge, data) {  // what express-session's store.generate() does
  const req = { sessionID: sid, sessionStore: store };
  req.session = new Session(req);
  req.session.cookie = new Cookie(maxAge === null ? {} : { maxAge });
  Object.assign(req.session, data);
  return req.session;
}

// The cookie ran out while it was being saved (a 1 ms maxAge on a loaded machine): its
// expires is `ago` ms past and the store reads maxAge 0, so connect-sqlite3 writes
// `expired = now + oneDay`. Made deterministic instead of racing the clock.
function ranOutWhileSaved(cookie, maxAge, ago) {
  cookie.expires = new Date(Date.now() - ago);
  cookie.originalMaxAge = maxAge;
  Object.defineProperty(cookie, 'maxAge', { value: 0 });
}

store.client.once('connect', async () => {
  const results = [];
  for (const op of input.ops) {
    if (op.op === 'set') {
      const sess = generate(op.sid, op.maxAge, op.data);
      if (op.ranOutAgo !== undefined) ranOutWhileSaved(sess.cookie, op.maxAge, op.ranOutAgo);
      await call((cb) => store.set(op.sid, sess, cb));
      results.push(JSON.parse(JSON.stringify(sess)));
    } else if (op.op === 'get') {
      results.push((await call((cb) => store.get(op.sid, cb))) ?? null);
    } else if (op.op === 'load') {  // express-session's own path: Store#load -> createSession
      const loaded = await call((cb) => store.load(op.sid, cb));
      results.push(loaded ? { id: loaded.id, expires: loaded.cookie.expires.toISOString(),
                              maxAgePositive: loaded.cookie.maxAge > 0, json: loaded } : null);
    } else if (op.op === 'touch') {
      const sess = await call((cb) => store.get(op.sid, cb));
      sess.cookie = new Cookie({ maxAge: op.maxAge });
      await call((cb) => store.touch(op.sid, sess, cb));
      results.push(JSON.parse(JSON.stringify(sess.cookie)));
    }
  }
  store.db.close(() => console.log(JSON.stringify(results)));
});
"""


@pytest.fixture(scope="module")
def node_project() -> Path:
    with pytest.MonkeyPatch.context() as patch:
        if "npm_config_nodedir" not in os.environ and Path("/usr/include/node/node.h").exists():
            patch.setenv("npm_config_nodedir", "/usr")  # build sqlite3 from source, no download
        return npm_project(*PACKAGES)


def node(project: Path, db_path: Path, *ops: dict[str, Any], table: str = "sessions") -> list[Any]:
    payload = {"dir": str(db_path.parent), "db": db_path.name, "table": table, "ops": list(ops)}
    result: list[Any] = run_node(NODE_SCRIPT, payload, cwd=project, timeout=60)
    return result


APP_DATA: dict[str, Any] = {
    "views": 3,
    "user": {"id": 42, "name": "Zoë ✓ 日本語 😀", "roles": ["admin", "editor"]},
    "cart": [1, 2.5, None, True, "x", {"deep": [[]]}],
    "ratio": 1e-7,
    "html": "<b>&</b> \u2028",
}


async def test_sessions_written_by_connect_sqlite3_are_read_here(node_project: Path, db_path: Path) -> None:
    written = node(
        node_project,
        db_path,
        {"op": "set", "sid": "with-expiry", "maxAge": 60_000, "data": APP_DATA},
        {"op": "set", "sid": "browser-session", "maxAge": None, "data": {"n": 1}},
    )
    rows = dict(raw_rows(db_path, "SELECT sid, typeof(expired) FROM sessions"))
    assert rows == {"with-expiry": "real", "browser-session": "real"}, "node-sqlite3 writes REAL"
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        assert await store.get("with-expiry") == written[0]
        assert await store.get("browser-session") == written[1]
        assert written[1]["cookie"]["expires"] is None
        assert await store.all() == {"with-expiry": written[0], "browser-session": written[1]}
        assert await store.length() == 2
        [(text,)] = raw_rows(db_path, "SELECT sess FROM sessions WHERE sid = 'with-expiry'")
        assert JSONSerializer().dumps(await store.get("with-expiry") or {}) == text, "same bytes both ways"


async def test_sessions_written_here_are_read_by_connect_sqlite3(node_project: Path, db_path: Path) -> None:
    expires = format_expires(now_ms() + 60_000)
    cookie = {"originalMaxAge": 60_000, "expires": expires, "httpOnly": True, "path": "/"}
    sessions = {
        "py-1": {"cookie": cookie, **APP_DATA},
        "py-no-expiry": {"cookie": {**cookie, "originalMaxAge": None, "expires": None}, "n": 2},
        "o'brien; DROP TABLE sessions": {"cookie": cookie, "n": 3},
    }
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        for sid, session in sessions.items():
            await store.set(sid, session)
        # the Python store stays open (WAL) while Node reads the same file
        got = node(node_project, db_path, *({"op": "get", "sid": sid} for sid in sessions))
        loaded = node(node_project, db_path, {"op": "load", "sid": "py-1"})[0]
    assert got == list(sessions.values())
    assert loaded["id"] == "py-1"
    assert loaded["expires"] == expires
    assert loaded["maxAgePositive"] is True
    assert loaded["json"] == sessions["py-1"]


async def test_touch_from_either_side_is_seen_by_the_other(node_project: Path, db_path: Path) -> None:
    [node_written] = node(
        node_project, db_path, {"op": "set", "sid": "n", "maxAge": 300_000, "data": {"v": 1}}
    )
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        new_expires = format_expires(now_ms() + 600_000)
        new_cookie = {**node_written["cookie"], "originalMaxAge": 600_000, "expires": new_expires}
        await store.touch("n", {"cookie": new_cookie, "v": "ignored"})
        [seen_by_node] = node(node_project, db_path, {"op": "get", "sid": "n"})
        assert seen_by_node == {"cookie": new_cookie, "v": 1}, "the stored cookie tells the new expiry"

        await store.set(
            "p", {"cookie": {**new_cookie, "expires": format_expires(now_ms() + 300_000)}, "v": 2}
        )
        before = now_ms()
        [touched_cookie, after_touch] = node(
            node_project, db_path, {"op": "touch", "sid": "p", "maxAge": 900_000}, {"op": "get", "sid": "p"}
        )
        after = now_ms()
        assert after_touch["v"] == 2
        [(expired,)] = raw_rows(db_path, "SELECT expired FROM sessions WHERE sid = 'p'")
        assert before + 900_000 <= expired <= after + 900_000, "connect-sqlite3 moved the expiry"
        assert touched_cookie["originalMaxAge"] == 900_000
        assert await store.get("p") == after_touch


async def test_expired_rows_of_connect_sqlite3_are_invisible_here(node_project: Path, db_path: Path) -> None:
    """Whatever connect-sqlite3 wrote in ``expired``, a session whose cookie expired is gone here.

    "ran-out" is the CI failure made deterministic: its cookie ran out while it was saved,
    so connect-sqlite3 gave the row a whole day. "short" expires by its column too. The
    store reads at a clock two minutes on, so the machine's speed does not matter.
    """
    node(
        node_project,
        db_path,
        {"op": "set", "sid": "ran-out", "maxAge": 1, "data": {}, "ranOutAgo": 10_000},
        {"op": "set", "sid": "short", "maxAge": 60_000, "data": {}},
        {"op": "set", "sid": "long", "maxAge": 3_600_000, "data": {}},
    )
    [(expired, sess)] = raw_rows(db_path, "SELECT expired, sess FROM sessions WHERE sid = 'ran-out'")
    assert expired > now_ms() + 12 * 3_600_000, "connect-sqlite3 gave it a day"
    assert is_expired(json.loads(sess)), "while its cookie has expired"
    later = FakeClock(now_ms() + 120_000)
    async with SQLiteStore(db_path, clock=later, sweep_interval=None) as store:
        assert await store.get("ran-out") is None
        assert await store.get("short") is None
        assert (await store.get("long") or {})["cookie"]["originalMaxAge"] == 3_600_000
        assert await store.length() == 1
        assert list(await store.all()) == ["long"]
        assert [sid async for sid in store.ids()] == ["long"]
        assert await store.sweep() == 2
    assert raw_rows(db_path, "SELECT sid FROM sessions") == [("long",)]


async def test_custom_table_name_is_shared(node_project: Path, db_path: Path) -> None:
    [written] = node(
        node_project,
        db_path,
        {"op": "set", "sid": "x", "maxAge": 60_000, "data": {"a": 1}},
        table="web_sessions",
    )
    async with SQLiteStore(db_path, table="web_sessions", sweep_interval=None) as store:
        assert await store.get("x") == written
        await store.set("y", written)
    assert node(node_project, db_path, {"op": "get", "sid": "y"}, table="web_sessions") == [written]
