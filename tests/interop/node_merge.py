"""A Node app saves (or destroys) a session while a Python request has it open: the shared
scenario of the Node-writer merge tests of every store that Node apps share.

Each store's test module runs the real Node package (connect-redis, connect-sqlite3) with a
``node(op, sid, **payload)`` coroutine: ``"change"`` (express-session's own load, change
``set``/``remove`` keys, save), ``"destroy"`` and ``"get"``. The Python request loads the
session through the engine (``get_versioned``), changes it, and before it saves, the Node
app saves its own change. With ``on_conflict="merge"`` the Python save finds the record
changed, reloads it and applies only its own changes: both requests' changes are kept, and
a key both changed ends with the Python request's (later) value. The same interleaving with
``"overwrite"`` loses the Node change, which shows that the interleaving really happens. A
Node logout in between stays a logout.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectstore import Session, SessionEngine, Store
from connectstore.integrations.asgi import SessionMiddleware
from tests.engine.apps import call

NodeOp = Callable[..., Awaitable[Any]]
"""``node(op, sid, **payload)``: one operation of the Node app on the shared store."""

START = {"base": 1, "both": "start", "python_deletes": 1, "node_deletes": 1}


def app_with_node_in_between(store: Store, node: NodeOp, **options: Any) -> Starlette:
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
        saved = await node("change", session.id, set={"node": "js", "both": "node"}, remove=["node_deletes"])
        return JSONResponse({"node_saved": saved})

    async def logout_race(request: Request) -> Response:
        session = session_of(request)
        session["python"] = "py"
        await node("destroy", session.id)
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


async def check_a_node_save_is_merged(store: Store, node: NodeOp) -> None:
    """Under ``"merge"`` (the store's default) both requests' changes are kept."""
    app = app_with_node_in_between(store, node)
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
    assert app_data(await node("get", sid)) == merged, "Node reads the merge"
    shown = await call(app, "/", cookie)
    assert shown.json == {"id": sid, "data": merged}


async def check_overwrite_loses_the_node_save(store: Store, node: NodeOp) -> None:
    """The same interleaving under express-session's last write wins loses the Node change."""
    app = app_with_node_in_between(store, node, on_conflict="overwrite")
    cookie, sid = await started(app)
    reply = await call(app, "/race", cookie)
    assert reply.status == 200, reply
    assert reply.json["node_saved"]["node"] == "js", "Node saved its change"
    assert app_data(await store.get(sid)) == {"base": 1, "both": "python", "python": "py", "node_deletes": 1}


async def check_a_node_logout_stays_a_logout(store: Store, node: NodeOp) -> None:
    """A Node ``destroy`` between our read and our write is never undone."""
    app = app_with_node_in_between(store, node)
    cookie, sid = await started(app)
    reply = await call(app, "/logout-race", cookie)
    assert reply.status == 200, reply
    assert await store.get(sid) is None, "the destroyed session was not written back"
    assert await node("get", sid) is None
