"""Reading the store's records back: the two stored JSON texts of a row, decoded into a session.

The queries return a record's ``cookie`` and ``sess`` as UTF-8 bytes (see
:mod:`connectstore_surrealdb.queries`); :func:`read_session` turns the row ``get`` and
``get_versioned`` read into the session (:func:`read_versioned` with its version), and
:class:`StoredText` is the serializer the listings decode each field with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectstore import (
    NO_VERSION,
    Serializer,
    SessionData,
    SessionDecodeError,
    Versioned,
    decode_session,
    session_expires,
)

__all__ = ["StoredText", "read_session", "read_versioned", "split_version", "version", "written_version"]


def read_session(serializer: Serializer, sid: str, row: Any, now: int) -> SessionData | None:
    """The session of the live record ``row`` read for ``sid``, or None when its cookie is past.

    A field that is no JSON session, or a cookie whose expiry cannot be read, raises
    :class:`~connectstore.SessionDecodeError` naming ``sid``.
    """
    read = _read(serializer, sid, row, now)
    return None if read is None else read[0]


def read_versioned(serializer: Serializer, sid: str, row: Any, now: int) -> Versioned | None:
    """:func:`read_session` with the record's version (``row["version"]``, SurrealDB's hash of
    the record, joined to the expiry of the cookie read: see :func:`version`).
    """
    read = _read(serializer, sid, row, now)
    return None if read is None else Versioned(read[0], version(row["version"], read[1]))


def version(digest: str, cookie_expires: int | None) -> str:
    """A record's version: SurrealDB's hash of it, and its cookie's expiry (epoch ms, or
    nothing), both functions of the record. The expiry lets ``set_if`` refuse a session whose
    cookie has expired since it was read without asking SurrealDB to parse the stored cookie.
    """
    return f"{digest}:{'' if cookie_expires is None else cookie_expires}"


def written_version(written: list[str], cookie_expires: int | None) -> str | None:
    """The version a conditional write returns, from what its statement returned: None when
    it wrote nothing (``[]``), NO_VERSION when it deleted (``['']``), else its hash joined to
    the written cookie's expiry.
    """
    if not written:
        return None
    return version(written[0], cookie_expires) if written[0] else NO_VERSION


def split_version(version: str) -> tuple[str, int | None] | None:
    """The hash and cookie expiry of a :func:`version`, or None for anything else."""
    digest, sep, expires = version.partition(":") if isinstance(version, str) else ("", "", "")
    if not sep or not digest:
        return None
    if not expires:
        return digest, None
    return (digest, int(expires)) if expires.isdigit() else None


def _read(serializer: Serializer, sid: str, row: Any, now: int) -> tuple[SessionData, int | None] | None:
    """The live session of ``row`` and its cookie's expiry, or None when the cookie is past."""
    text = StoredText(serializer)
    cookie = decode_session(text, sid, row.get("cookie"))
    try:  # the cookie's expiry, read once: unreadable, the record is corrupt
        expires = session_expires(cookie)
    except Exception as exc:
        raise SessionDecodeError(f"stored data cannot be decoded: {exc}", sid=sid) from exc
    if expires is not None and expires <= now:
        return None
    return {**cookie, **decode_session(text, sid, row.get("sess"))}, expires


class StoredText:
    """Reads a stored field with the store's serializer: the queries return it as UTF-8 bytes.

    (The embedded engine cannot return a string holding a NUL byte: as bytes, such a field
    is corrupt data like any other.) With ``cookie=True`` the field is the session's cookie,
    and an expiry that cannot be read makes it corrupt too.
    """

    __slots__ = ("_cookie", "_serializer")

    def __init__(self, serializer: Serializer, *, cookie: bool = False) -> None:
        self._serializer = serializer
        self._cookie = cookie

    def dumps(self, session: Mapping[str, Any]) -> str:
        """The serializer's text for ``session`` (never used by the store: reads only)."""
        return self._serializer.dumps(session)

    def loads(self, data: str | bytes) -> SessionData:
        """Decode one stored field; raises for anything that is no session (or cookie)."""
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        session = self._serializer.loads(text)
        if self._cookie:
            session_expires(session)  # raises SerializationError for an unreadable expiry
        return session
