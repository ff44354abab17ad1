"""The session engine: express-session's middleware, framework-neutral.

:class:`SessionEngine` holds the options; per request, :meth:`SessionEngine.open` returns a
:class:`~connectstore.request_session.RequestSession` that has read and unsigned the cookie
and loaded or generated the session, and whose :meth:`commit
<connectstore.request_session.RequestSession.commit>` ends the request. Framework
integrations only translate their request (:class:`RequestInfo`) and response to and from
these two calls. express-session's rules themselves are written in one place:
:mod:`connectstore.request_session` (its module documentation lists them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from connectstore.conflicts import ConflictPolicy, MergeTurns, check_conflict_retries, resolve_on_conflict
from connectstore.cookie import Cookie
from connectstore.request_session import RequestSession
from connectstore.signing import Secrets, generate_sid
from connectstore.store import Store, supports

__all__ = ["CookieOptions", "RequestInfo", "SessionEngine"]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_UNSAFE_SID = re.compile(r"[\x00-\x1f\x7f]")
MAX_SID_LENGTH = 1024


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
    """The framework's request object, passed to ``genid`` and a callable ``cookie``
    (integrations leave it None when the engine has neither: :attr:`SessionEngine.uses_request`).
    """


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
    * ``touch_after`` (seconds, ``None``: touch on every request, as express-session does;
      connect-mongo's ``touchAfter``): a loaded session the request did not modify has its
      expiry written to the store (``touch``) at most once per ``touch_after`` seconds. The
      engine knows when it last touched from the stored cookie's ``expires``: it skips the
      touch while the new expiry is less than ``touch_after`` seconds past the stored one
      (no extra field is stored). The cookie still rolls as configured, so the stored
      session may expire up to ``touch_after`` seconds before the browser's cookie says;
      keep it well under the cookie's max age. A session whose cookie has no expiry is
      touched every time (its store TTL is all that keeps it). Modified sessions, and
      every session with ``resave=True``, are saved as before.
    * ``on_conflict`` (``None``: ``"merge"`` when the store has the conditional writes
      ``get_versioned``, ``set_if`` and ``create``, else ``"overwrite"``; also ``"overwrite"``
      when a subclass changed ``get`` or ``set`` but inherits the conditional writes, see
      :func:`~connectstore.conflicts.conditional_writes_match`; resolved once, here, and kept
      as :attr:`on_conflict`): what a save does when another request wrote the
      session since this one loaded it. ``"overwrite"`` is express-session's last write wins
      (plain ``get``/``set``); ``"merge"`` writes only over the record it loaded, and on a
      conflict applies this request's changed and deleted top-level keys to the record there
      now (a session destroyed meanwhile stays destroyed: nothing is written, no cookie is
      sent); ``"raise"`` raises :class:`SessionConflictError` instead. A new session is
      written with ``create``, whose conflict raises :class:`SessionConflictError` under both.
      ``"merge"`` or ``"raise"`` on a store without those capabilities raises
      :class:`ValueError`. See ``docs/concurrency.md``.
    * ``conflict_retries`` (``50``): how many times ``"merge"`` reloads and writes again
      before it raises :class:`SessionConflictError`, pausing between attempts (1 ms doubling
      to 50 ms, jittered); the pauses count against ``store_timeout``. ``0`` gives up at the
      first conflict, as ``"raise"`` does.

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
        touch_after: float | None = None,
        on_conflict: ConflictPolicy | None = None,
        conflict_retries: int = 50,
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
        self.touch_after = check_touch_after(touch_after)
        self.on_conflict: ConflictPolicy = resolve_on_conflict(store, on_conflict)
        self.conflict_retries = check_conflict_retries(conflict_retries)
        self.merge_turns = MergeTurns()  # "merge": one merge of a session at a time, in process
        self.store_touches = supports(store, "touch")
        # Fixed cookie options are checked once, here, and not resolved again per request.
        self._fixed_options = None if callable(self.cookie) else _cookie_options(self.cookie)
        self._fixed_path = None if self._fixed_options is None else self._fixed_options.path or "/"

    async def open(self, info: RequestInfo, *, lazy: bool = False) -> RequestSession:
        """Start a request: read and unsign the cookie, then load the session or make one.

        ``lazy=True`` does none of that yet: the session is loaded by the first
        :meth:`RequestSession.load`, and a request that never calls it makes no store call,
        sends no cookie and stores nothing (as if sessions did not apply to it).
        """
        request = RequestSession(self, info)
        if not lazy:
            await request.start()
        return request

    @property
    def uses_request(self) -> bool:
        """Whether the engine hands the framework's request to the application (``genid``,
        a callable ``cookie``): the one use of :attr:`RequestInfo.request`. Integrations pass
        the request only then, so that otherwise a request and the engine's state of it
        (which the request usually holds) make no reference cycle, and are freed when the
        response is sent rather than by the cyclic garbage collector.
        """
        return self.genid is not None or callable(self.cookie)

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
        options = self._options(info)
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
        if self._fixed_path is not None:
            return self._fixed_path
        return self._options(info).path or "/"

    def _options(self, info: RequestInfo) -> CookieOptions:
        if self._fixed_options is not None:
            return self._fixed_options
        return _cookie_options(self.cookie(info.request) if callable(self.cookie) else self.cookie)


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


def check_touch_after(value: float | None) -> float | None:
    """``touch_after`` checked: None or a non-negative finite number of seconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"touch_after must be a number of seconds or None, not {type(value).__name__}")
    if not 0 <= value < float("inf"):
        raise ValueError(f"touch_after must be a finite number of seconds >= 0, not {value!r}")
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
