"""The session engine: express-session's algorithm, framework-neutral.

:class:`SessionEngine` holds the options; per request, :meth:`SessionEngine.open` reads and
unsigns the cookie and loads or generates the session, and :meth:`RequestSessions.commit`
decides, with express-session's exact rules, whether to destroy, save or touch the
session and whether to send a ``Set-Cookie`` header. Framework integrations only translate
their request and response to and from these two calls.

The rules (``index.js`` of express-session 1.19): a session is *modified* when its id or
the hash of its data (cookie excluded) changed since it was loaded; it is *saved* when it
was stored with exactly this data. At the end of a request:

* ``unset="destroy"`` and the application removed the session: destroy it in the store.
* save when the session is not saved yet, except that with ``save_uninitialized=False`` a
  new session is saved only once modified; otherwise, for a loaded session, touch it;
* send the cookie for a new session if ``save_uninitialized`` or it was modified; for a
  loaded one if ``rolling``, or if it was modified and the cookie has an expiry.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar, cast

from connectstore.cookie import Cookie
from connectstore.cookies import parse_cookie_header
from connectstore.errors import SessionDecodeError, SessionTooLargeError
from connectstore.serializer import JSONSerializer, SessionData
from connectstore.session import Session, SessionNotFoundError, session_hash
from connectstore.signing import Secrets, generate_sid, sign_cookie, unsign_cookie
from connectstore.store import Store, supports
from connectstore.timeouts import within

__all__ = ["CookieOptions", "RequestInfo", "RequestSessions", "SessionEngine"]

logger = logging.getLogger("connectstore")
T = TypeVar("T")

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_UNSAFE_SID = re.compile(r"[\x00-\x1f\x7f]")
MAX_SID_LENGTH = 1024
_JSON = JSONSerializer()


@dataclass(frozen=True)
class CookieOptions:
    """The session cookie's attributes, express-session's ``cookie`` option in Python style.

    ``max_age`` is in **seconds** (express uses milliseconds; the stored
    ``originalMaxAge`` is still milliseconds). ``None`` makes a browser-session cookie
    (no ``Expires``) unless ``expires`` fixes a date; ``max_age`` wins when both are set.
    ``secure="auto"`` means "secure when the request is HTTPS"; ``same_site="auto"`` means
    ``"none"`` on HTTPS and ``"lax"`` otherwise.
    """

    max_age: float | None = None
    expires: datetime | None = None
    secure: bool | Literal["auto"] = False
    http_only: bool = True
    domain: str | None = None
    path: str = "/"
    same_site: bool | Literal["lax", "strict", "none", "auto"] | None = None
    partitioned: bool | None = None
    priority: Literal["low", "medium", "high"] | None = None


@dataclass(frozen=True)
class RequestInfo:
    """What the engine needs to know about a request; integrations fill it in."""

    cookie_header: str | Sequence[str] | None
    path: str = "/"
    secure: bool = False
    """The connection itself is TLS."""
    forwarded_proto: str | None = None
    """The ``X-Forwarded-Proto`` header, believed only when the engine trusts the proxy."""
    request: Any = None
    """The framework's request object, passed to ``genid`` and a callable ``cookie``."""


CookieSetting = (
    CookieOptions | Mapping[str, Any] | Callable[[Any], "CookieOptions | Mapping[str, Any]"] | None
)


class SessionEngine:
    """express-session's middleware, without the framework.

    ``store`` and ``secret`` are required (``secret`` may be a list: the first signs, any
    verifies). The other options and their defaults are express-session's:

    * ``name``: the cookie name (``"connect.sid"``).
    * ``resave`` (``True``): store a loaded session on every request even when unchanged.
    * ``save_uninitialized`` (``True``): store (and send the cookie of) a new session even
      when the request did not modify it.
    * ``rolling`` (``False``): send the cookie on every response, restarting its life.
    * ``unset`` (``"keep"``): what removing the request's session means: ``"destroy"``
      deletes it from the store, ``"keep"`` leaves the store as it is.
    * ``genid``: ``genid(request) -> str`` makes new session ids (default: 24 random bytes,
      URL-safe base64). Its result is checked: a non-empty string of at most 1024
      characters without control characters.
    * ``cookie``: :class:`CookieOptions`, a mapping of its fields, or a callable of the
      request returning either.
    * ``trust_proxy`` (``False``): believe ``X-Forwarded-Proto`` for ``secure``.

    Beyond express-session:

    * ``store_timeout`` (seconds, default 10): the time a request may spend in store calls,
      all of them together (loading, saving, ``regenerate()``...); past it the call fails
      with :class:`StoreUnavailableError`, so a hung store never hangs the request.
    * ``on_store_error`` (``"raise"``): a store error while loading propagates (the
      framework answers 500, as express does); ``"continue"`` serves the request without
      a session instead (the handler sees ``None``) and logs the error.
    * ``max_session_bytes`` (``None``: no limit, as in express-session): the largest stored
      form of a session, in bytes of its JSON (UTF-8, what ``JSON.stringify`` writes). A
      larger session is refused with :class:`SessionTooLargeError` before anything is
      written, by ``session.save()`` and at the end of the request alike (where the
      integration answers as for any store error: 500); the store keeps what it had.

    ``secret`` must not be empty: ``""``, ``b""``, an empty list or a list holding an empty
    secret raise :class:`ValueError` (a cookie signed with an empty key can be forged by
    anyone); a secret that is not str or bytes raises :class:`TypeError`.

    A stored session that cannot be decoded (corrupt data, no cookie) is logged and
    replaced by a new session rather than failing every request of that user.
    """

    def __init__(
        self,
        store: Store,
        *,
        secret: Secrets,
        name: str = "connect.sid",
        resave: bool = True,
        save_uninitialized: bool = True,
        rolling: bool = False,
        unset: Literal["keep", "destroy"] = "keep",
        genid: Callable[[Any], str] | None = None,
        cookie: CookieSetting = None,
        trust_proxy: bool = False,
        store_timeout: float | None = 10.0,
        on_store_error: Literal["raise", "continue"] = "raise",
        max_session_bytes: int | None = None,
    ) -> None:
        if not isinstance(store, Store):
            raise TypeError(f"store must be a connectstore.Store, not {type(store).__name__}")
        secrets = check_secrets(secret)
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"invalid cookie name {name!r}")
        if unset not in ("keep", "destroy"):
            raise ValueError(f'unset must be "keep" or "destroy", not {unset!r}')
        if on_store_error not in ("raise", "continue"):
            raise ValueError(f'on_store_error must be "raise" or "continue", not {on_store_error!r}')
        self.store = store
        self.secrets: list[str | bytes] = secrets
        self.name = name
        self.resave = resave
        self.save_uninitialized = save_uninitialized
        self.rolling = rolling
        self.unset = unset
        self.genid = genid
        self.cookie = cookie if cookie is not None else CookieOptions()
        self.trust_proxy = trust_proxy
        self.store_timeout = store_timeout
        self.on_store_error = on_store_error
        self.max_session_bytes = check_session_bytes(max_session_bytes)
        self.store_touches = supports(store, "touch")
        if not callable(self.cookie):
            _cookie_options(self.cookie)  # validate once, early

    async def open(self, info: RequestInfo) -> RequestSessions:
        """Start a request: read and unsign the cookie, then load the session or make one."""
        request = RequestSessions(self, info)
        await request.start()
        return request

    def is_secure(self, info: RequestInfo) -> bool:
        """Whether the request came over HTTPS (through a trusted proxy's header if allowed)."""
        if info.secure:
            return True
        if not self.trust_proxy or not info.forwarded_proto:
            return False
        return info.forwarded_proto.split(",")[0].strip().lower() == "https"

    def new_sid(self, request: Any) -> str:
        """A new session id from ``genid`` (checked) or the default generator."""
        sid = generate_sid() if self.genid is None else self.genid(request)
        if not isinstance(sid, str) or not sid or len(sid) > MAX_SID_LENGTH or _UNSAFE_SID.search(sid):
            raise ValueError(
                f"genid returned an unsafe session id {sid!r:.80}: it must be a non-empty string of "
                f"at most {MAX_SID_LENGTH} characters without control characters"
            )
        return sid

    def new_cookie(self, info: RequestInfo) -> Cookie:
        """The cookie of a new session, from the options (resolved for this request)."""
        options = _cookie_options(self.cookie(info.request) if callable(self.cookie) else self.cookie)
        secure_request = self.is_secure(info)
        same_site = options.same_site
        if same_site == "auto":
            same_site = "none" if secure_request else "lax"
        max_age_ms = None if options.max_age is None else round(options.max_age * 1000)
        cookie = Cookie.create(
            max_age_ms=max_age_ms,
            secure=secure_request if options.secure == "auto" else (options.secure or None),
            http_only=options.http_only,
            domain=options.domain,
            path=options.path,
            same_site=same_site,
            partitioned=options.partitioned,
            priority=options.priority,
        )
        if max_age_ms is None and options.expires is not None:
            cookie.expires = options.expires  # as Node's setter: originalMaxAge = time left
            cookie.original_max_age = cookie.max_age_ms
        return cookie

    def cookie_path(self, info: RequestInfo) -> str:
        """The cookie path this request is judged against (from the options)."""
        options = _cookie_options(self.cookie(info.request) if callable(self.cookie) else self.cookie)
        return options.path or "/"


@dataclass
class RequestSessions:
    """The session state of one request (express-session's closure variables)."""

    engine: SessionEngine
    info: RequestInfo
    session: Session | None = None
    sid: str | None = None
    """The request's session id (``req.sessionID``); changes on ``regenerate()``."""
    cookie_id: str | None = None
    """The session id the request's cookie carried (after verifying its signature)."""
    original_id: str | None = None
    original_hash: str | None = None
    saved_hash: str | None = None
    active: bool = False
    """False when sessions do not apply to this request (path outside the cookie path,
    or the store failed and ``on_store_error="continue"``)."""
    _touched: bool = field(default=False, repr=False)
    _store_seconds: float = field(default=0.0, repr=False)
    _removed: bool = field(default=False, repr=False)

    async def start(self) -> None:
        """Load or generate the request's session."""
        engine = self.engine
        if not self.info.path.startswith(engine.cookie_path(self.info)):
            return
        self.active = True
        raw = parse_cookie_header(self.info.cookie_header).get(engine.name)
        self.cookie_id = unsign_cookie(raw, engine.secrets) if raw is not None else None
        self.sid = self.cookie_id
        if self.cookie_id is None:
            self._generate()
            return
        try:
            stored = await self._call(engine.store.get(self.cookie_id))
        except SessionDecodeError as exc:
            logger.warning(
                "session %r in the store is corrupt; starting a new session: %s", self.cookie_id, exc
            )
            stored = None
        except Exception:
            if engine.on_store_error == "raise":
                raise
            logger.exception("the session store failed; serving the request without a session")
            self.active = False
            self.sid = None
            return
        if stored is None:
            self._generate()
        else:
            self._inflate(self.cookie_id, stored)

    @property
    def is_new(self) -> bool:
        """Whether the request's session was made in this request (not loaded from the store)."""
        return self.cookie_id is None or self.cookie_id != self.original_id

    def is_modified(self) -> bool:
        """Whether the session's id or data changed in this request (express's rule); a
        removed or destroyed session counts as modified.
        """
        if self.session is None:
            return self.original_id is not None
        return self._is_modified(self.session)

    def remove(self) -> None:
        """The application removed the session (express's ``req.session = null``)."""
        if self.session is not None:
            self.session = None
            self._removed = True

    async def commit(self) -> list[str]:
        """End the request: destroy, save or touch the session in the store as the rules say,
        and return the ``Set-Cookie`` header values to send (zero or one).
        """
        engine = self.engine
        if not self.active or self.sid is None:
            return []
        session = self.session
        if session is None:
            if engine.unset == "destroy" and self._removed:
                await self._call(engine.store.destroy(self.sid))
            return []
        headers: list[str] = []
        if self._should_set_cookie(session):
            if session.cookie.secure and not engine.is_secure(self.info):
                logger.warning(
                    "not sending the Secure session cookie over plain HTTP (the session will not "
                    "come back): serve HTTPS, use secure='auto', or trust_proxy=True behind a TLS proxy"
                )
            else:
                self._touch_once(session)
                value = sign_cookie(session.id, engine.secrets[0])
                headers.append(session.cookie.serialize(engine.name, value))
        self._touch_once(session)
        if self._should_save(session):
            await self.save(session)
        elif engine.store_touches and self._should_touch(session):
            await self._call(engine.store.touch(session.id, session.to_store()))
        return headers

    # --- what Session's methods do -------------------------------------------------------

    async def save(self, session: Session) -> None:
        """Store ``session`` now and remember its data as saved; a session larger than
        ``max_session_bytes`` raises :class:`SessionTooLargeError` and nothing is written.
        """
        stored = session.to_store()
        limit = self.engine.max_session_bytes
        if limit is not None:
            size = len(_JSON.dumps(stored).encode("utf-8"))
            if size > limit:
                raise SessionTooLargeError(size, limit)
        self.saved_hash = session_hash(session.data)
        await self._call(self.engine.store.set(session.id, stored))

    async def reload(self, session: Session) -> None:
        """Replace ``session``'s data and cookie with what the store holds."""
        stored = await self._call(self.engine.store.get(session.id))
        if stored is None:
            raise SessionNotFoundError(f"failed to load session {session.id!r}")
        cookie, data = _split(session.id, stored)
        session.cookie = cookie
        session.data.clear()
        session.data.update(data)

    async def regenerate(self, session: Session) -> None:
        """Destroy ``session`` in the store and turn it into a new, empty one with a new id."""
        await self._call(self.engine.store.destroy(session.id))
        self.sid = session.id = self.engine.new_sid(self.info.request)
        session.cookie = self.engine.new_cookie(self.info)
        session.data.clear()
        self.session = session

    async def destroy(self, session: Session) -> None:
        """Delete ``session`` from the store; the request has no session afterwards."""
        if self.session is session:
            self.session = None
        await self._call(self.engine.store.destroy(session.id))

    async def _call(self, operation: Awaitable[T]) -> T:
        """A store call within what is left of this request's store time (``store_timeout``
        bounds the request's store calls together, not each one).
        """
        limit = self.engine.store_timeout
        if limit is None:
            return await operation
        left = limit - self._store_seconds
        started = time.monotonic()
        try:
            return await within(max(left, 0.0), operation, type(self.engine.store).__name__)
        finally:
            self._store_seconds += time.monotonic() - started

    # --- express-session's decision functions -------------------------------------------

    def _generate(self) -> None:
        sid = self.engine.new_sid(self.info.request)
        self.sid = sid
        self.session = Session(sid, self.engine.new_cookie(self.info), {}, self)
        self.original_id = sid
        self.original_hash = session_hash(self.session.data)

    def _inflate(self, sid: str, stored: SessionData) -> None:
        try:
            cookie, data = _split(sid, stored)
        except SessionDecodeError as exc:
            logger.warning("session %r in the store is corrupt; starting a new session: %s", sid, exc)
            self._generate()
            return
        self.session = Session(sid, cookie, data, self)
        self.original_id = sid
        self.original_hash = session_hash(data)
        if not self.engine.resave:
            self.saved_hash = self.original_hash

    def _is_modified(self, session: Session) -> bool:
        return self.original_id != session.id or self.original_hash != session_hash(session.data)

    def _is_saved(self, session: Session) -> bool:
        return self.original_id == session.id and self.saved_hash == session_hash(session.data)

    def _should_save(self, session: Session) -> bool:
        if not self.engine.save_uninitialized and self.saved_hash is None and self.cookie_id != session.id:
            return self._is_modified(session)
        return not self._is_saved(session)

    def _should_touch(self, session: Session) -> bool:
        return self.cookie_id == session.id and not self._should_save(session)

    def _should_set_cookie(self, session: Session) -> bool:
        if self.cookie_id != session.id:
            return self.engine.save_uninitialized or self._is_modified(session)
        return self.engine.rolling or (session.cookie.expires is not None and self._is_modified(session))

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


def check_secrets(secret: Secrets) -> list[str | bytes]:
    """The secrets as a list, checked: each a non-empty str or bytes, at least one
    (:class:`ValueError` for an empty one, :class:`TypeError` for another type).
    """
    if isinstance(secret, (str, bytes)):
        secrets: list[str | bytes] = [secret]
    elif isinstance(secret, Sequence):
        secrets = list(cast("Sequence[str | bytes]", secret))
    else:
        raise TypeError(f"secret must be str, bytes or a list of them, not {type(secret).__name__}")
    if not secrets:
        raise ValueError("secret is required: a string, bytes, or a non-empty list of them")
    for index, value in enumerate(secrets):
        if not isinstance(value, (str, bytes)):
            raise TypeError(f"secret must be str or bytes (or a list of them), not {type(value).__name__}")
        if not value:
            where = "secret" if isinstance(secret, (str, bytes)) else f"secret[{index}]"
            raise ValueError(
                f"{where} is empty: a cookie signed with an empty secret can be forged by anyone"
            )
    return secrets


def check_session_bytes(value: int | None) -> int | None:
    """``max_session_bytes`` checked: None or a positive int."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"max_session_bytes must be an int or None, not {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"max_session_bytes must be positive, not {value}")
    return value


def _cookie_options(value: CookieOptions | Mapping[str, Any]) -> CookieOptions:
    if isinstance(value, CookieOptions):
        return value
    if isinstance(value, Mapping):
        try:
            return CookieOptions(**value)
        except TypeError as exc:
            raise ValueError(f"invalid cookie options: {exc}") from None
    raise TypeError(f"cookie options must be CookieOptions or a mapping, not {type(value).__name__}")
