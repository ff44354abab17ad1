"""Looking at sessions without exposing them: ``sessions(store)`` lists metadata (sid, user,
expiry, size: never the data) and ``redact(session)`` hides every value but the cookie's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from connectstore.cookie import format_expires
from connectstore.operations.common import (
    DEFAULT_USER_KEY,
    Progress,
    expires_of,
    require,
    session_size,
    user_of,
    user_text,
)
from connectstore.redaction import REDACTED
from connectstore.serializer import SessionData
from connectstore.store import Store

__all__ = ["SessionInfo", "redact", "sessions"]


@dataclass(frozen=True)
class SessionInfo:
    """One session's metadata, as ``connectstore ls`` shows it."""

    sid: str
    user: str | None
    """The user's text (see :func:`~connectstore.operations.common.user_text`), None for none."""
    expires: int | None
    """``cookie.expires`` in epoch milliseconds; None for a browser-session cookie."""
    size: int
    """Bytes of the session's JSON."""

    def as_json(self) -> dict[str, Any]:
        """A JSON object: the expiry as ISO text (as express-session writes it) or null."""
        expires = None if self.expires is None else format_expires(self.expires)
        return {"sid": self.sid, "user": self.user, "expires": expires, "size": self.size}


async def sessions(
    store: Store,
    *,
    user: object | None = None,
    user_key: str = DEFAULT_USER_KEY,
    limit: int | None = None,
    progress: Progress | None = None,
) -> AsyncIterator[SessionInfo]:
    """Stream the metadata of ``store``'s sessions (of ``user`` only, when given), at most
    ``limit`` of them, through :meth:`~connectstore.Store.items`.
    """
    require(store, "items")
    if limit is not None and limit <= 0:
        return
    wanted = None if user is None else user_text(user)
    found = 0
    async for sid, session in store.items():
        if progress is not None:
            progress.advance()
        value = user_of(session, user_key)
        shown = None if value is None else user_text(value)
        if wanted is not None and shown != wanted:
            continue
        yield SessionInfo(sid, shown, expires_of(session), session_size(session))
        found += 1
        if limit is not None and found >= limit:
            return


def redact(session: SessionData) -> SessionData:
    """``session`` with every value replaced by ``"***"``: keys are kept at every depth of
    objects (a list is one value), and the ``cookie`` is kept whole (its metadata is no secret).
    """
    shown: SessionData = {}
    for key, value in session.items():
        shown[key] = value if key == "cookie" and isinstance(value, Mapping) else _masked(value)
    return shown


def _masked(value: object) -> object:
    if isinstance(value, Mapping):
        return {key: _masked(inner) for key, inner in value.items()}
    return REDACTED
