"""express-session's algorithm: one request's session and the rules that end the request.

:meth:`SessionEngine.open <connectstore.engine.SessionEngine.open>` makes a
:class:`RequestSession`, which reads the cookie and loads or generates the session;
:meth:`RequestSession.commit` then decides, with express-session's exact rules, whether to
destroy, save or touch the session and whether to send a ``Set-Cookie`` header. This module
is the one place those rules are written (the ``_is_*`` and ``_should_*`` methods, named
after ``index.js`` of express-session 1.19):

* a session is *modified* when its id or its data's JSON (cookie excluded) changed
  since it was loaded; it is *saved* when it was stored with exactly this data;
* ``unset="destroy"`` and the application removed the session: destroy it in the store;
* save when the session is not saved yet, except that with ``save_uninitialized=False`` a
  new session is saved only once modified; otherwise, for a loaded session, touch it;
* send the cookie for a new session if ``save_uninitialized`` or it was modified; for a
  loaded one if ``rolling``, or if it was modified and the cookie has an expiry.

A stored session that cannot be decoded is replaced by a new one and logged
(:func:`log_corrupt_session`, shared with the integrations that load sessions themselves).

Under ``on_conflict="merge"``/``"raise"`` the same calls are conditional (``get_versioned``,
``set_if``, ``create`` for ``get`` and ``set``): :mod:`connectstore.conflicts`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping
from types import CoroutineType
from typing import TYPE_CHECKING, Any, TypeVar

from connectstore.conflicts import ConditionalWrites
from connectstore.cookie import Cookie, cookie_value
from connectstore.errors import SessionDecodeError, SessionNotFoundError, SessionTooLargeError
from connectstore.serializer import JSONSerializer, SessionData
from connectstore.session import Session, data_json
from connectstore.signing import sign_cookie, unsign_cookie_key
from connectstore.timeouts import STEP_FIRST, first_step, within, within_rest

if TYPE_CHECKING:
    from connectstore.engine import RequestInfo, SessionEngine

__all__ = ["RequestSession", "log_corrupt_session"]

logger = logging.getLogger("connectstore")
T = TypeVar("T")

_JSON = JSONSerializer()


def log_corrupt_session(sid: str, error: SessionDecodeError, *, show_sid: bool = True) -> None:
    """Log (a WARNING on the ``connectstore`` logger) that the stored session ``sid`` is
    corrupt and a new session starts in its place. ``show_sid=False`` masks the id, for an
    integration whose cookie carries the bare id (a credential there).
    """
    if show_sid:
        logger.warning("session %r in the store is corrupt; starting a new session: %s", sid, error)
        return
    reason = str(error).replace(repr(sid), "<id>").replace(sid, "<id>")
    logger.warning("a session in the store is corrupt; starting a new session: %s", reason)


class RequestSession:
    """The session state of one request (express-session's closure variables), made by
    :meth:`SessionEngine.open <connectstore.engine.SessionEngine.open>`.

    An integration hands :attr:`session` to the application, calls :meth:`remove` when the
    application drops it (express's ``req.session = null``) and :meth:`commit` at the end
    of the request; :attr:`is_new` and :attr:`is_modified` answer a framework's flags. The
    :class:`~connectstore.Session`'s methods call :meth:`save`, :meth:`reload`,
    :meth:`regenerate` and :meth:`destroy`.
    """

    def __init__(self, engine: SessionEngine, info: RequestInfo) -> None:
        self._engine = engine
        self._info = info
        self._session: Session | None = None
        self._sid: str | None = None  # req.sessionID; changes on regenerate()
        self._cookie_id: str | None = None  # the id the request's cookie carried, signature verified
        self._cookie_echo: str | None = None  # that cookie's value, when the first secret signed it
        self._stored_expires: int | None = None  # the stored cookie's expiry (for touch_after)
        self._original_id: str | None = None
        # The data's JSON (data_json) when loaded and when last saved: express-session keeps
        # SHA-1 hashes of it; comparing the texts themselves tells the same, without hashing.
        self._original_text: str | None = None
        self._saved_text: str | None = None
        # Under on_conflict "merge"/"raise": the version and data of the record read or written.
        self._writes = None if engine.on_conflict == "overwrite" else ConditionalWrites(engine)
        # False when sessions do not apply to this request (path outside the cookie path, or
        # the store failed and on_store_error="continue").
        self._active = False
        self._touched = False
        self._store_seconds = 0.0
        self._removed = False
        self._started = False
        self._loading: asyncio.Lock | None = None  # made by a lazy request's first load()

    def __repr__(self) -> str:
        return f"RequestSession(session={self._session!r})"

    @property
    def loaded(self) -> bool:
        """Whether :meth:`start` ran: always after ``SessionEngine.open``, only after the
        first :meth:`load` with ``open(info, lazy=True)``.
        """
        return self._started

    async def load(self) -> Session | None:
        """The request's session, loading it first if this is the first call (lazy mode);
        later calls return :attr:`session` without a store call. Concurrent first calls
        share one load.
        """
        if self._started and self._loading is None:
            return self._session
        if self._loading is None:
            self._loading = asyncio.Lock()
        async with self._loading:
            if not self._started:
                await self.start()
        return self._session

    async def start(self) -> None:
        """Load or generate the request's session (once: by ``SessionEngine.open``, or by the
        first :meth:`load` of a lazy request).
        """
        if self._started:
            return
        try:
            engine, info = self._engine, self._info
            if not info.path.startswith(engine.cookie_path(info)):
                return
            self._active = True
            raw = cookie_value(info.cookie_header, engine.name)
            found = unsign_cookie_key(raw, engine.secrets) if raw is not None else None
            if found is None:
                self._generate()
                return
            sid = self._sid = self._cookie_id = found[0]
            if found[1] == 0:
                self._cookie_echo = raw
            try:
                stored, version = await self._read(sid)
            except SessionDecodeError as exc:
                log_corrupt_session(sid, exc)
                stored = version = None
            except Exception:
                if engine.on_store_error == "raise":
                    raise
                logger.exception("the session store failed; serving the request without a session")
                self._active = False
                self._sid = None
                return
            if stored is None:
                self._generate()
            else:
                self._inflate(sid, stored, version)
        finally:
            self._started = True

    @property
    def session(self) -> Session | None:
        """The request's session (``req.session``); None when sessions do not apply to the
        request (path outside the cookie path, the store failed with
        ``on_store_error="continue"``) or after it was removed or destroyed.
        """
        return self._session

    @property
    def is_new(self) -> bool:
        """Whether the request's session was made in this request (not loaded from the store)."""
        return self._cookie_id is None or self._cookie_id != self._original_id

    @property
    def is_modified(self) -> bool:
        """Whether the session's id or data changed in this request (express's rule); a
        removed or destroyed session counts as modified.
        """
        if self._session is None:
            return self._original_id is not None
        return self._is_modified(self._session, data_json(self._session.data))

    def remove(self) -> None:
        """The application removed the session (express's ``req.session = null``)."""
        if self._session is not None:
            self._session = None
            self._removed = True

    async def commit(self) -> list[str]:
        """End the request: destroy, save or touch the session in the store as the rules say,
        and return the ``Set-Cookie`` header values to send (zero or one).
        """
        engine = self._engine
        if not self._active or self._sid is None:
            return []  # includes a lazy request that never loaded its session
        session = self._session
        if session is None:
            if engine.unset == "destroy" and self._removed:
                await self._call(engine.store.destroy(self._sid))
            return []
        headers: list[str] = []
        current = data_json(session.data)  # the data cannot change until the store call
        if self._should_set_cookie(session, current):
            if session.cookie.secure and not engine.is_secure(self._info):
                logger.warning(
                    "not sending the Secure session cookie over plain HTTP (the session will not "
                    "come back): serve HTTPS, use secure='auto', or trust_proxy=True behind a TLS proxy"
                )
            else:
                self._touch_once(session)
                value = self._cookie_echo if session.id == self._cookie_id else None
                if value is None:
                    value = sign_cookie(session.id, engine.secrets[0])
                headers.append(session.cookie.serialize(engine.name, value))
        self._touch_once(session)
        if self._should_save(session, current):
            await self.save(session, current)
            if self._session is None:
                return []  # "merge" found the session destroyed by another request: no cookie
        elif engine.store_touches and self._should_touch(session) and self._touch_due(session):
            await self._call(engine.store.touch(session.id, session.to_store()))
        return headers

    # --- what Session's methods do -------------------------------------------------------

    async def save(self, session: Session, current: str | None = None) -> None:
        """Store ``session`` now and remember its data as saved; a session larger than
        ``max_session_bytes`` raises :class:`SessionTooLargeError` and nothing is written.
        ``current`` is the data's ``data_json`` when the caller has it. Under
        ``"merge"``/``"raise"``: :meth:`_save_conditionally`.
        """
        stored = session.to_store()
        self._check_size(stored)
        if current is None:
            current = data_json(session.data)
        if self._writes is not None:
            await self._save_conditionally(session, stored, current)
            return
        self._saved_text = current
        self._stored_expires = session.cookie.expires_ms
        await self._call(self._engine.store.set(session.id, stored))

    async def reload(self, session: Session) -> None:
        """Replace ``session``'s data and cookie with what the store holds."""
        stored, version = await self._read(session.id)
        if stored is None:
            raise SessionNotFoundError(f"failed to load session {session.id!r}")
        cookie, data = _split(session.id, stored)
        session.cookie = cookie
        self._stored_expires = cookie.expires_ms
        session.data.clear()
        session.data.update(data)
        if self._writes is not None:
            self._writes.loaded(version, data_json(data))

    async def regenerate(self, session: Session) -> None:
        """Destroy ``session`` in the store and turn it into a new, empty one with a new id."""
        await self._call(self._engine.store.destroy(session.id))
        old = session.id
        self._sid = session.id = self._engine.new_sid(self._info.request)
        if self._writes is not None:
            self._writes.regenerated(old, session.id)  # the new id is created, never merged
        session.cookie = self._engine.new_cookie(self._info)
        session.data.clear()
        self._session = session

    async def destroy(self, session: Session) -> None:
        """Delete ``session`` from the store; the request has no session afterwards."""
        if self._session is session:
            self._session = None
        if self._writes is not None:
            self._writes.dropped(session.id)
        await self._call(self._engine.store.destroy(session.id))

    async def _read(self, sid: str) -> tuple[SessionData | None, str | None]:
        """The stored session under ``sid`` (None when missing) and, unless the policy is
        ``"overwrite"`` (plain ``get``), its version: one store call either way.
        """
        store = self._engine.store
        if self._engine.on_conflict == "overwrite":
            return await self._call(store.get(sid)), None
        found = await self._call(store.get_versioned(sid))
        return (None, None) if found is None else found

    def _check_size(self, stored: SessionData) -> None:
        limit = self._engine.max_session_bytes
        if limit is not None:
            size = len(_JSON.dumps(stored).encode("utf-8"))
            if size > limit:
                raise SessionTooLargeError(size, limit)

    async def _save_conditionally(self, session: Session, stored: SessionData, text: str) -> None:
        """``save`` under ``"merge"``/``"raise"`` (:class:`~connectstore.conflicts.ConditionalWrites`):
        afterwards ``session`` holds what is stored (merged), or, if another request destroyed
        it, nothing was written and the request has no session any more.
        """
        assert self._writes is not None
        saved = await self._writes.save(self, session, stored, text)
        if saved is None:
            if self._session is session:
                self._session = None  # destroyed by another request: this one has none any more
            return
        self._saved_text = saved.text
        self._stored_expires = saved.expires

    async def _call(self, operation: Awaitable[T]) -> T:
        """A store call within what is left of this request's store time (``store_timeout``
        bounds the request's store calls together, not each one).
        """
        limit = self._engine.store_timeout
        if limit is None:
            return await operation
        left = limit - self._store_seconds
        started = time.monotonic()
        try:
            what = type(self._engine.store).__name__
            if STEP_FIRST and left > 0 and type(operation) is CoroutineType:
                # within()'s own steps without its coroutine: most in-process store calls end
                # in the first step
                finished, value = first_step(operation, left, what)
                if finished:
                    return value  # type: ignore[no-any-return]
                return await within_rest(left, started, operation, value, what)  # type: ignore[no-any-return]
            return await within(max(left, 0.0), operation, what)
        finally:
            self._store_seconds += time.monotonic() - started

    def _time_left(self) -> float | None:
        """Seconds of ``store_timeout`` this request has not spent yet (None: no bound)."""
        limit = self._engine.store_timeout
        return None if limit is None else limit - self._store_seconds

    # --- express-session's decision functions -------------------------------------------

    def _generate(self) -> None:
        if self._writes is not None:
            self._writes.loaded(None, "{}")
        sid = self._engine.new_sid(self._info.request)
        self._sid = sid
        self._session = Session(sid, self._engine.new_cookie(self._info), {}, self)
        self._original_id = sid
        self._original_text = "{}"  # data_json of the new session's empty data

    def _inflate(self, sid: str, stored: SessionData, version: str | None) -> None:
        try:
            cookie, data = _split(sid, stored)
        except SessionDecodeError as exc:
            log_corrupt_session(sid, exc)
            self._generate()
            return
        self._session = Session(sid, cookie, data, self)
        self._stored_expires = cookie.expires_ms
        self._original_id = sid
        text = data_json(data)
        self._original_text = text
        if self._writes is not None:
            self._writes.loaded(version, text)
        if not self._engine.resave:
            self._saved_text = text

    # Each takes ``current``, the data's data_json, computed once per decision.

    def _is_modified(self, session: Session, current: str) -> bool:
        return self._original_id != session.id or self._original_text != current

    def _is_saved(self, session: Session, current: str) -> bool:
        return self._original_id == session.id and self._saved_text == current

    def _should_save(self, session: Session, current: str) -> bool:
        if not self._engine.save_uninitialized and self._saved_text is None and self._cookie_id != session.id:
            return self._is_modified(session, current)
        return not self._is_saved(session, current)

    def _should_touch(self, session: Session) -> bool:
        """express's ``shouldTouch`` for a session ``_should_save`` declined (the only
        caller): the session the request's cookie named.
        """
        return self._cookie_id == session.id

    def _should_set_cookie(self, session: Session, current: str) -> bool:
        if self._cookie_id != session.id:
            return self._engine.save_uninitialized or self._is_modified(session, current)
        if self._engine.rolling:
            return True
        return session.cookie.expires is not None and self._is_modified(session, current)

    def _touch_due(self, session: Session) -> bool:
        """``touch_after`` (beyond express-session): touch only once the new expiry has moved
        at least that far past the stored one. Without an expiry on either side the engine
        cannot tell when it last touched, so it touches.
        """
        after = self._engine.touch_after
        if after is None:
            return True
        new, stored = session.cookie.expires_ms, self._stored_expires
        if new is None or stored is None:
            return True
        return new - stored >= after * 1000

    def _touch_once(self, session: Session) -> None:
        if not self._touched:
            session.touch()
            self._touched = True


def _split(sid: str, stored: SessionData) -> tuple[Cookie, dict[str, Any]]:
    """A stored session's cookie and data; a record without a usable cookie is corrupt."""
    cookie_json = stored.get("cookie")
    if not isinstance(cookie_json, Mapping):
        raise SessionDecodeError("the stored session has no cookie object", sid=sid)
    try:
        cookie = Cookie.from_json(cookie_json)
    except ValueError as exc:
        raise SessionDecodeError(f"the stored cookie is invalid: {exc}", sid=sid) from exc
    return cookie, {k: v for k, v in stored.items() if k != "cookie"}
