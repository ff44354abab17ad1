"""A Node app (express-session + connect-sqlite3) saves a session while a Python request has it open.

The Python request loads the session through the engine (``get_versioned``), changes it,
and before it saves, the real connect-sqlite3 from npm loads the same session from the
same file, changes other keys and saves it, as an Express app's request would. With
``on_conflict="merge"`` (the default on this store) the Python save finds the row changed
(``set_if`` writes nothing), reloads it and applies only its own changes: both requests'
changes are kept, and a key both changed ends with the Python request's (later) value.
The same interleaving with ``on_conflict="overwrite"`` (express-session's last write wins)
loses the Node change, which shows that the interleaving really happens. A Node logout
in between stays a logout.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectstore import Session, SessionEngine
from connectstore.integrations.asgi import SessionMiddleware
from connectstore_sqlite import SQLiteStore
from tests.engine.apps import call
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
    for (const key of input.delete) delete sess[key];
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

START = {"base": 1, "both": "start", "python_deletes": 1, "node_deletes": 1}


@pytest.fixture(scope="module")
def node_project() -> Path:
    with pytest.MonkeyPatch.context() as patch:
        if "npm_config_nodedir" not in os.environ and Path("/usr/include/node/node.h").exists():
            patch.setenv("npm_config_nodedir", "/usr")  # build sqlite3 from source, no download
        return npm_project(*PACKAGES)


async def node(project: Path, db_path: Path, op: str, sid: str, **payload: Any) -> Any:
    """Run one operation of :data:`NODE_SCRIPT` (off the event loop, which keeps serving)."""
    request = {"dir": str(db_path.parent), "db": db_path.name, "op": op, "sid": sid, **payload}
    return await asyncio.to_thread(run_node, NODE_SCRIPT, request, cwd=project, timeout=60)


def app_with_node_in_between(store: SQLiteStore, project: Path, db_path: Path, **options: Any) -> Starlette:
    """``/start`` makes a session; ``/race`` changes it while the Node app saves it meanwhile;
    ``/logout-race`` changes it while the Node app destroys it; ``/`` shows it.
    """

    def session_of(request: Request) -> Session:
        session: Session | None = request.scope.get("session")
        assert session is not None
        return session

    async def start(request: Request) -> Response:
        session_of(request).update(START)
        return JSONResponse({"id": session_of(request).id})

    async def race(request: Request) -> Response:
        session = session_of(request)  # loaded by the engine: the version is remembered
        session["python"] = "py"
        session["both"] = "python"
        del session["python_deletes"]
        node_saved = await node(
            project,
            db_path,
            "change",
            session.id,
            set={"node": "js", "both": "node"},
            delete=["node_deletes"],
        )
        return JSONResponse({"node_saved": node_saved})

    async def logout_race(request: Request) -> Response:
        session = session_of(request)
        session["python"] = "py"
        await node(project, db_path, "destroy", session.id)
        return JSONResponse({})

    async def show(request: Request) -> Response:
        session = session_of(request)
        return JSONResponse({"id": session.id, "data": {k: v for k, v in session.items() if k != "cookie"}})

    routes = [
        Route("/start", start),
        Route("/race", race),
        Route("/logout-race", logout_race),
        Route("/", show),
    ]
    engine = SessionEngine(store, secret="keyboard cat", save_uninitialized=False, resave=False, **options)
    return Starlette(routes=routes, middleware=[Middleware(SessionMiddleware, engine=engine)])


def app_data(session: dict[str, Any] | None) -> dict[str, Any] | None:
    """The application's keys of ``session`` (its cookie left out), or None."""
    return None if session is None else {k: v for k, v in session.items() if k != "cookie"}


async def started(app: Starlette) -> tuple[str, str]:
    """The cookie and sid of a session made by ``/start``."""
    reply = await call(app, "/start")
    assert reply.status == 200, reply
    assert reply.cookie is not None
    return reply.cookie, reply.json["id"]


async def test_a_node_save_between_our_read_and_our_write_is_merged(
    node_project: Path, db_path: Path
) -> None:
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        app = app_with_node_in_between(store, node_project, db_path, on_conflict="merge")
        cookie, sid = await started(app)
        reply = await call(app, "/race", cookie)
        assert reply.status == 200, reply
        assert app_data(reply.json["node_saved"]) == {
            "base": 1,
            "both": "node",
            "python_deletes": 1,
            "node": "js",
        }
        merged = {"base": 1, "both": "python", "python": "py", "node": "js"}
        assert app_data(await store.get(sid)) == merged, "both requests' changes are kept"
        assert app_data(await node(node_project, db_path, "get", sid)) == merged, "Node reads the merge"
        shown = await call(app, "/", cookie)
        assert shown.json == {"id": sid, "data": merged}


async def test_the_same_interleaving_with_overwrite_loses_the_node_save(
    node_project: Path, db_path: Path
) -> None:
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        app = app_with_node_in_between(store, node_project, db_path, on_conflict="overwrite")
        cookie, sid = await started(app)
        reply = await call(app, "/race", cookie)
        assert reply.status == 200, reply
        assert reply.json["node_saved"]["node"] == "js", "Node saved its change"
        assert app_data(await store.get(sid)) == {
            "base": 1,
            "both": "python",
            "python": "py",
            "node_deletes": 1,
        }


async def test_a_node_logout_between_our_read_and_our_write_stays_a_logout(
    node_project: Path, db_path: Path
) -> None:
    async with SQLiteStore(db_path, sweep_interval=None) as store:
        app = app_with_node_in_between(store, node_project, db_path)  # "merge": this store's default
        cookie, sid = await started(app)
        reply = await call(app, "/logout-race", cookie)
        assert reply.status == 200, reply
        assert await store.get(sid) is None, "the destroyed session was not written back"
        assert await node(node_project, db_path, "get", sid) is None
