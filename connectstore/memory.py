"""MemoryStore: express-session's in-process store, with its exact semantics.

Sessions are kept as serialized JSON text, as express-session's MemoryStore keeps them,
so nothing a caller does to a dict it passed in or got back changes what is stored.
Expired sessions vanish when they are read or listed; there is no background sweep.
``close()`` releases nothing and forgets nothing: the store works as before after it.
For tests and single-process development, not for production.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable

from connectstore.expiry import now_ms, session_expires
from connectstore.listing import ListingFromItems, decode_listed
from connectstore.serializer import JSONSerializer, Serializer, SessionData, decode_session
from connectstore.store import NO_VERSION, Versioned, check_sid

__all__ = ["MemoryStore"]

_COOKIE_FIRST = '{"cookie":'
_DECODER = json.JSONDecoder()  # only finds where the stored cookie ends


class MemoryStore(ListingFromItems):
    """A dict of sid -> serialized session.

    ``ttl`` (seconds) bounds sessions whose cookie has no expiry; the default ``None``
    keeps them until destroyed, as express-session does. ``clock`` returns the current
    time in epoch milliseconds (tests may pass a fake one).
    """

    capabilities = frozenset(
        {"touch", "all", "clear", "length", "ids", "items", "get_versioned", "set_if", "create"}
    )

    def __init__(
        self,
        *,
        ttl: float | None = None,
        serializer: Serializer | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        if ttl is not None and (
            isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0 < ttl < math.inf
        ):
            raise ValueError(f"ttl must be a positive number of seconds or None, not {ttl!r}")
        self.ttl = ttl
        self.serializer: Serializer = serializer or JSONSerializer()
        self._clock = clock
        self._sessions: dict[str, tuple[str, int | None]] = {}

    async def get(self, sid: str) -> SessionData | None:
        """The live session under ``sid``, or None; an expired one is deleted on the way."""
        return self._load(check_sid(sid))

    async def set(self, sid: str, session: SessionData) -> None:
        """Store a copy of ``session``; an expiry already past deletes it instead."""
        self._write(check_sid(sid), session)

    async def get_versioned(self, sid: str) -> Versioned | None:
        """The live session under ``sid`` and its version (the stored text itself), or None."""
        text = self._live_text(check_sid(sid))
        return None if text is None else Versioned(decode_session(self.serializer, sid, text), text)

    async def set_if(self, sid: str, session: SessionData, version: str) -> str | None:
        """Store ``session`` only if the live text under ``sid`` is still ``version``.

        Atomic: nothing between the comparison and the write yields to the event loop.
        """
        check_sid(sid)
        text = self.serializer.dumps(session)  # raises before the comparison, as set does
        if self._live_text(sid) != version:
            return None
        return self._put(sid, session, text)

    async def create(self, sid: str, session: SessionData) -> str | None:
        """Store ``session`` only if no live session is stored under ``sid``."""
        check_sid(sid)
        text = self.serializer.dumps(session)
        if self._live_text(sid) is not None:
            return None
        return self._put(sid, session, text)

    def _write(self, sid: str, session: SessionData) -> None:
        self._put(sid, session, self.serializer.dumps(session))

    def _put(self, sid: str, session: SessionData, text: str) -> str:
        """Store ``text`` (``session`` serialized) and return its version."""
        deadline = self._deadline(session)
        if deadline is not None and deadline <= self._clock():
            self._sessions.pop(sid, None)
            return NO_VERSION
        self._sessions[sid] = (text, deadline)
        return text

    async def destroy(self, sid: str) -> None:
        """Forget ``sid``; a missing sid is fine."""
        self._sessions.pop(check_sid(sid), None)

    async def touch(self, sid: str, session: SessionData) -> None:
        """Replace only the stored ``cookie`` of a live session (express-session's rule)."""
        text = self._live_text(check_sid(sid))
        if text is None:
            return
        cookie = session.get("cookie")
        spliced = self._with_cookie(text, cookie)
        if spliced is None:
            current = decode_session(self.serializer, sid, text)
            current["cookie"] = cookie
            self._write(sid, current)
        else:
            self._put(sid, {"cookie": cookie}, spliced)

    def _with_cookie(self, text: str, cookie: object) -> str | None:
        """``text`` with its ``cookie`` member replaced by ``cookie``, without decoding and
        encoding the rest, or None where that is not sure to give what decoding, replacing
        and encoding would: only :class:`JSONSerializer`'s text with the cookie first (what
        the engine stores). Re-encoding decoded JSON that this serializer wrote gives the
        same text back, except for escaped surrogate pairs (decoding joins them), which go
        the long way.
        """
        if type(self.serializer) is not JSONSerializer or not text.startswith(_COOKIE_FIRST):
            return None
        if "\\ud" in text:
            return None
        try:
            end = _DECODER.scan_once(text, len(_COOKIE_FIRST))[1]  # type: ignore[attr-defined]
        except (StopIteration, ValueError):
            return None
        if text[end : end + 1] not in (",", "}"):
            return None
        head = self.serializer.dumps({"cookie": cookie})
        return head[:-1] + text[end:]

    async def clear(self) -> None:
        """Drop every session."""
        self._sessions.clear()

    async def items(self) -> AsyncIterator[tuple[str, SessionData]]:
        """``(sid, session)`` for live sessions; expired ones are deleted on the way, and a
        corrupt one is skipped with a warning (``all``, ``ids`` and ``length`` come from here).
        """
        for sid in list(self._sessions):
            text = self._live_text(sid)
            session = None if text is None else decode_listed(self.serializer, sid, text, store=self)
            if session is not None:
                yield sid, session

    def _deadline(self, session: SessionData) -> int | None:
        expires = session_expires(session)
        if expires is None and self.ttl is not None:
            return self._clock() + int(self.ttl * 1000)
        return expires

    def _load(self, sid: str) -> SessionData | None:
        text = self._live_text(sid)
        return None if text is None else decode_session(self.serializer, sid, text)

    def _live_text(self, sid: str) -> str | None:
        """The stored text of a live ``sid``, or None (an expired one is deleted)."""
        entry = self._sessions.get(sid)
        if entry is None:
            return None
        text, deadline = entry
        if deadline is not None and deadline <= self._clock():
            del self._sessions[sid]
            return None
        return text
