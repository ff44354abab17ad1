"""The session object a request handler sees: express-session's ``req.session`` in Python.

A :class:`Session` is a ``MutableMapping`` of the application's data plus ``id`` and
``cookie`` attributes and express-session's methods (``regenerate``, ``destroy``,
``save``, ``reload``, ``touch``). The request's :class:`SessionEngine` creates it and
decides at the end of the request what to store and which cookie to send.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from connectstore.cookie import Cookie
from connectstore.serializer import CompactJSON, SessionData

if TYPE_CHECKING:
    from connectstore.request_session import RequestSession

__all__ = ["Session", "data_json", "hash_json", "session_hash", "value_json"]


def session_hash(data: MutableMapping[str, Any] | dict[str, Any]) -> str:
    """express-session's change detector: SHA-1 of the JSON of the data without ``cookie``."""
    return hash_json(data_json(data))


def data_json(data: MutableMapping[str, Any] | dict[str, Any]) -> str:
    """The JSON text :func:`session_hash` hashes: the data without ``cookie``, compact.

    The engine keeps it as the snapshot of a loaded session under ``on_conflict="merge"``
    (it is computed for the hash anyway), to tell later which keys a request changed.
    """
    if type(data) is not dict or "cookie" in data:
        data = {k: v for k, v in data.items() if k != "cookie"}
    return value_json(data)


def value_json(value: Any) -> str:
    """One value's JSON as :func:`data_json` writes it (compact, unescaped, ``repr`` for
    what JSON cannot carry): equal texts mean the value did not change.
    """
    return _DATA_ENCODER(value)


def hash_json(text: str) -> str:
    """:func:`session_hash` of data whose :func:`data_json` is ``text``."""
    return hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


# One encoder for every data text (json.dumps with options builds a new one per call).
_DATA_ENCODER = CompactJSON(default=repr)


class Session(MutableMapping[str, Any]):
    """One request's session: its data as a mapping, its ``id`` and its ``cookie``.

    The key ``"cookie"`` is not part of the data: the cookie is :attr:`cookie`. Changes to
    the data (not to the cookie) count as a modification, as in express-session.
    """

    def __init__(self, sid: str, cookie: Cookie, data: dict[str, Any], request: RequestSession) -> None:
        self.id = sid
        self.cookie = cookie
        self._data = data
        self._request = request

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "cookie":
            raise KeyError("'cookie' is not session data: use session.cookie")
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Session(id={self.id!r}, data={self._data!r})"

    @property
    def data(self) -> dict[str, Any]:
        """The application's data itself (a plain dict, without the cookie)."""
        return self._data

    def to_store(self) -> SessionData:
        """What the store receives: ``{"cookie": ..., **data}``, cookie first as Node writes it."""
        return {"cookie": self.cookie.to_json(), **self._data}

    def touch(self) -> None:
        """Restart the cookie's life (``expires = now + original max age``); no store call."""
        self.cookie.reset_max_age()

    async def save(self) -> None:
        """Store the session now (e.g. before a redirect). Not repeated at the end of the
        request unless the session is modified again afterwards.

        Under the engine's ``on_conflict="merge"`` another request's write since this one
        loaded the session is merged, and the session then holds the merged data (or, if
        another request destroyed it, nothing is written and the request has no session);
        ``"raise"`` raises :class:`~connectstore.errors.SessionConflictError` instead.
        """
        await self._request.save(self)

    async def reload(self) -> None:
        """Replace the data with what the store holds now;
        :class:`~connectstore.errors.SessionNotFoundError` if it is gone.
        """
        await self._request.reload(self)

    async def regenerate(self) -> None:
        """Destroy this session in the store and start afresh in this same object: a new id,
        a new cookie, empty data. Do it on login: it defeats session fixation.
        """
        await self._request.regenerate(self)

    async def destroy(self) -> None:
        """Delete the session from the store; the request then has no session and no cookie
        is sent.
        """
        await self._request.destroy(self)
