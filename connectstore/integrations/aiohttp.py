"""aiohttp middleware: express-session for aiohttp web applications.

``web.Application(middlewares=[session_middleware(store, secret=...)])`` gives every request
a :class:`~connectstore.Session`, read with :func:`get_session` (a plain function, not a
coroutine: the session is loaded before the handler runs) or ``request[SESSION_KEY]``.
:func:`remove_session` (or ``request[SESSION_KEY] = None``) is express's
``req.session = null``. When the handler returns, or raises a ``web.HTTPException`` such as
a redirect, the engine does the store work and the ``Set-Cookie`` header is added to that
response. A handler that prepares its response itself (streaming, WebSocket) calls
:func:`commit_session` before ``prepare()`` so that the cookie can still be sent.

Any other exception leaves the store untouched (the changes of a failed request are
dropped) and propagates: aiohttp answers 500. So does a store error while loading, unless
the engine's ``on_store_error="continue"``. A :class:`~connectstore.SessionConflictError`
while ending the request (a concurrent request changed the session and this request's
changes were not written: ``on_conflict="raise"``, or a merge that gave up) is answered
409 with ``{"error": "SessionConflictError"}`` and logged as one WARNING line.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from connectstore.engine import RequestInfo, SessionEngine
from connectstore.errors import SessionConflictError
from connectstore.request_session import RequestSession
from connectstore.session import Session
from connectstore.store import Store

__all__ = ["SESSION_KEY", "commit_session", "get_session", "remove_session", "session_middleware"]

logger = logging.getLogger("connectstore")


def _request_key(name: str) -> Any:
    """A ``web.RequestKey`` (aiohttp >= 3.14 warns about plain string keys), else the string."""
    key_type = getattr(web, "RequestKey", None)
    return name if key_type is None else key_type(name)


SESSION_KEY: web.RequestKey[Session | None] = _request_key("connectstore_session")
"""Where the request's session is: ``request[SESSION_KEY]``; ``None`` when it has none."""
_STATE: web.RequestKey[_RequestState] = _request_key("connectstore_session_state")


class _RequestState:
    """The engine's state of one request and whether its end has been dealt with."""

    def __init__(self, sessions: RequestSession) -> None:
        self.sessions = sessions
        self.committed = False


def session_middleware(
    store: Store | None = None, *, engine: SessionEngine | None = None, **options: Any
) -> Middleware:
    """The aiohttp middleware: ``session_middleware(store, secret=..., ...)``.

    Takes a store and the options of :class:`~connectstore.SessionEngine` (``secret``,
    ``name``, ``resave``, ``save_uninitialized``, ``rolling``, ``unset``, ``genid``,
    ``cookie``, ``trust_proxy``, ``store_timeout``, ``on_store_error``,
    ``max_session_bytes``), or a ready engine as ``engine=``. HTTPS is ``request.secure``,
    or ``X-Forwarded-Proto: https`` when ``trust_proxy=True``; ``genid`` and a callable
    ``cookie`` receive the ``web.Request``. An empty ``secret`` raises :class:`ValueError`
    here, when the middleware is made.
    """
    if engine is None:
        if store is None:
            raise TypeError("session_middleware needs a store (or a ready engine=)")
        engine = SessionEngine(store, **options)
    elif store is not None or options:
        raise TypeError("pass either engine= or a store with options, not both")
    ready: SessionEngine = engine

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        headers = request.headers
        info = RequestInfo(
            cookie_header=headers.getall("Cookie", []),
            path=request.path,
            secure=request.secure,
            forwarded_proto=headers.get("X-Forwarded-Proto"),
            request=request if ready.uses_request else None,
        )
        sessions = await ready.open(info)
        request[SESSION_KEY] = sessions.session
        request[_STATE] = _RequestState(sessions)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            await _commit_or_conflict(request, exc)
            raise
        await _commit_or_conflict(request, response)
        return response

    return middleware


async def _commit_or_conflict(request: web.Request, response: web.StreamResponse) -> None:
    """:func:`commit_session`, with a conflict answered 409 (``web.HTTPConflict``)."""
    try:
        await commit_session(request, response)
    except SessionConflictError as exc:
        logger.warning("the request's session changes were not written: %s", exc)
        body = json.dumps({"error": "SessionConflictError"})
        raise web.HTTPConflict(text=body, content_type="application/json") from None


def get_session(request: web.Request) -> Session | None:
    """The request's session; ``None`` when sessions do not apply to it (path outside the
    cookie path, store failure with ``on_store_error="continue"``) or after it was
    removed or destroyed. ``RuntimeError`` when the middleware is not installed.
    """
    state = _state(request)
    return state.sessions.session if request.get(SESSION_KEY) is not None else None


def remove_session(request: web.Request) -> None:
    """Drop the request's session (express's ``req.session = null``): with the engine's
    ``unset="destroy"`` it is deleted from the store, with ``"keep"`` it is left as stored.
    """
    _state(request)
    request[SESSION_KEY] = None


async def commit_session(request: web.Request, response: web.StreamResponse) -> None:
    """End the request's session now: the store work, then the ``Set-Cookie`` header on
    ``response``. The middleware calls it; call it yourself before ``response.prepare()``
    when the handler streams. Only the first call per request does anything.
    """
    state = _state(request)
    if state.committed:
        return
    state.committed = True
    if request.get(SESSION_KEY) is None:
        state.sessions.remove()
    headers = await state.sessions.commit()
    if headers and response.prepared:
        logger.warning(
            "the response to %s was prepared before the session was committed; its Set-Cookie "
            "header is lost (call connectstore.integrations.aiohttp.commit_session before prepare())",
            request.path,
        )
        return
    for value in headers:
        response.headers.add("Set-Cookie", value)


def _state(request: web.Request) -> _RequestState:
    state: _RequestState | None = request.get(_STATE)
    if state is None:
        raise RuntimeError("no session: connectstore's aiohttp session_middleware is not installed")
    return state
