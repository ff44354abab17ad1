"""A Node app (express-session + connect-redis 9) saves a session while a Python request has it open.

The Python request loads the session through the engine (``get_versioned``), changes it,
and before it saves, the real connect-redis from npm loads the same session from the same
Redis, changes other keys and saves it, as an Express app's request would. With
``on_conflict="merge"`` (this store's default) the Python save finds the record changed
(``set_if`` writes nothing), reloads it and applies only its own changes: both requests'
changes are kept, and a key both changed ends with the Python request's (later) value.
The same interleaving with ``on_conflict="overwrite"`` (express-session's last write wins)
loses the Node change, which shows that the interleaving really happens. A Node logout in
between stays a logout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectstore import Session, SessionEngine
from connectstore.integrations.asgi import SessionMiddleware
from connectstore_redis import RedisStore
from tests.adapters.redis.conftest import unique_prefix
from tests.adapters.redis.test_node_interop import PACKAGES
from tests.engine.apps import call
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

START = {"base": 1, "both": "start", "python_deletes": 1, "node_deletes": 1}


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


def app_with_node_in_between(store: RedisStore, project: Path, url: str, **options: Any) -> Starlette:
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
        change = {"set": {"node": "js", "both": "node"}, "remove": ["node_deletes"]}
        node_saved = await node(project, store, url, "change", session.id, **change)
        return JSONResponse({"node_saved": node_saved})

    async def logout_race(request: Request) -> Response:
        session = session_of(request)
        session["python"] = "py"
        await node(project, store, url, "destroy", session.id)
        return JSONResponse({})

    async def show(request: Request) -> Response:
        session = session_of(request)
        return JSONResponse({"id": session.id, "data": app_data(dict(session))})

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
    store: RedisStore, node_project: Path, shared_redis: str
) -> None:
    app = app_with_node_in_between(store, node_project, shared_redis)  # "merge": the default here
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
    assert app_data(await node(node_project, store, shared_redis, "get", sid)) == merged, "Node reads it"
    shown = await call(app, "/", cookie)
    assert shown.json == {"id": sid, "data": merged}


async def test_the_same_interleaving_with_overwrite_loses_the_node_save(
    store: RedisStore, node_project: Path, shared_redis: str
) -> None:
    app = app_with_node_in_between(store, node_project, shared_redis, on_conflict="overwrite")
    cookie, sid = await started(app)
    reply = await call(app, "/race", cookie)
    assert reply.status == 200, reply
    assert reply.json["node_saved"]["node"] == "js", "Node saved its change"
    assert app_data(await store.get(sid)) == {"base": 1, "both": "python", "python": "py", "node_deletes": 1}


async def test_a_node_logout_between_our_read_and_our_write_stays_a_logout(
    store: RedisStore, node_project: Path, shared_redis: str
) -> None:
    app = app_with_node_in_between(store, node_project, shared_redis)
    cookie, sid = await started(app)
    reply = await call(app, "/logout-race", cookie)
    assert reply.status == 200, reply
    assert await store.get(sid) is None, "the destroyed session was not written back"
    assert await node(node_project, store, shared_redis, "get", sid) is None
