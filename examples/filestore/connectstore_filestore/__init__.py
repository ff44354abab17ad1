"""An example third-party store: one JSON file per session in a folder.

Written only against connectstore's public API, with the store author's kit: ``check_sid``,
``expiry_ms``, ``ListingFromItems``/``decode_listed`` and ``URLOptions``. Blocking file I/O
runs in worker threads (``asyncio.to_thread``) so the event loop never waits on the disk.
It holds no connection, so ``close()`` has nothing to release and every call after it works.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import os
import re
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from connectstore import (
    JSONSerializer,
    SerializationError,
    Serializer,
    SessionData,
    SessionDecodeError,
    StoreURLError,
    decode_session,
    is_expired,
    now_ms,
    redact_url,
)
from connectstore.expiry import DEFAULT_TTL, expiry_ms
from connectstore.listing import ListingFromItems, decode_listed
from connectstore.store import check_sid
from connectstore.url_options import URLOptions, open_with_options, positive_number

__all__ = ["FileStore", "open_from_url"]

logger = logging.getLogger("connectstore")

#: How many file names :meth:`FileStore.items` reads from the folder at a time.
LISTING_BATCH = 100
_SESSION_FILE = re.compile(r"[0-9a-f]{64}\.json")


def _session_names(entries: Iterator[os.DirEntry[str]], count: int) -> list[str]:
    """Up to ``count`` more session file names from a folder listing (fewer at its end)."""
    names: list[str] = []
    for entry in entries:
        if _SESSION_FILE.fullmatch(entry.name):
            names.append(entry.name)
            if len(names) == count:
                break
    return names


class FileStore(ListingFromItems):
    """Sessions as files in ``folder``; ``ttl`` seconds (above zero) for sessions without
    cookie expiry. ``all()``, ``ids()`` and ``length()`` come from :meth:`items`.
    """

    capabilities = frozenset({"touch", "all", "clear", "length", "ids", "items"})

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        ttl: float = DEFAULT_TTL,
        serializer: Serializer | None = None,
    ) -> None:
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0 < ttl < math.inf:
            raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ttl = ttl
        self.serializer: Serializer = serializer or JSONSerializer()
        #: Held while a session file is written or deleted, and across touch()'s read and
        #: write-back, so a set() or destroy() landing in between is never undone.
        self._files_lock = threading.RLock()

    async def get(self, sid: str) -> SessionData | None:
        """The live session under ``sid``, or None."""
        try:
            record = await asyncio.to_thread(self._read, self._path(check_sid(sid)))
        except SessionDecodeError as exc:
            raise SessionDecodeError(str(exc), sid=sid) from exc
        if record is None or record["sid"] != sid:
            return None
        return self._live(record)

    async def set(self, sid: str, session: SessionData) -> None:
        """Write the session; an expiry already past deletes it instead."""
        check_sid(sid)
        text = self.serializer.dumps(session)  # raises SerializationError before any write
        expires = expiry_ms(session, self.ttl)
        if expires <= now_ms():
            await self.destroy(sid)
            return
        await asyncio.to_thread(self._write, self._path(sid), {"sid": sid, "expires": expires, "sess": text})

    async def destroy(self, sid: str) -> None:
        """Delete the session's file; a missing one is fine."""
        await asyncio.to_thread(self._unlink, self._path(check_sid(sid)))

    async def touch(self, sid: str, session: SessionData) -> None:
        """Move a live session's expiry and rewrite its stored cookie; data stays as stored
        (read and written back under the files lock: a racing set() is never undone).
        """
        check_sid(sid)
        try:
            await asyncio.to_thread(self._touch, sid, session["cookie"])
        except SessionDecodeError as exc:
            raise SessionDecodeError(str(exc), sid=sid) from exc

    def _touch(self, sid: str, cookie: Any) -> None:
        with self._files_lock:
            path = self._path(sid)
            record = self._read(path)
            current = None if record is None or record["sid"] != sid else self._live(record)
            if current is None:
                return
            current["cookie"] = cookie
            text = self.serializer.dumps(current)
            expires = expiry_ms(current, self.ttl)
            if expires <= now_ms():
                self._unlink(path)
            else:
                self._write(path, {"sid": sid, "expires": expires, "sess": text})

    def _unlink(self, path: Path) -> None:
        with self._files_lock:
            path.unlink(missing_ok=True)

    async def clear(self) -> None:
        """Delete every session file of this folder (and nothing else in it)."""
        for path in await asyncio.to_thread(self._session_files):
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def items(self) -> AsyncIterator[tuple[str, SessionData]]:
        """``(sid, session)`` for every live session, one file at a time; the folder is read
        ``LISTING_BATCH`` names at a time, so memory stays bounded however many there are.
        A corrupt file is skipped with one warning (the contract's rule for listings).
        """
        entries = await asyncio.to_thread(os.scandir, self.folder)
        try:
            while batch := await asyncio.to_thread(_session_names, entries, LISTING_BATCH):
                for name in batch:
                    pair = await asyncio.to_thread(self._listed, self.folder / name)
                    if pair is not None:
                        yield pair
        finally:
            entries.close()

    def _listed(self, path: Path) -> tuple[str, SessionData] | None:
        """The live ``(sid, session)`` of a file a listing met, or None: gone, expired or
        corrupt (skipped with a warning naming the sid, or the file when its sid is unreadable).
        """
        try:
            record = self._read(path)
        except SessionDecodeError:
            logger.warning("%r: skipping the unreadable session file %s in a listing", self, path.name)
            return None
        if record is None:
            return None
        session = self._live(record, listed=True)
        return None if session is None else (record["sid"], session)

    def _live(self, record: dict[str, Any], *, listed: bool = False) -> SessionData | None:
        """The record's session, or None when it has expired: by the file's ``expires`` or by
        the session's own ``cookie.expires``, whichever comes first (a file written by
        another program may disagree with the cookie; the cookie is never overruled).
        A corrupt session raises :class:`SessionDecodeError`, or (``listed``) is None.
        """
        now = now_ms()
        if record["expires"] <= now:
            return None
        sid = record["sid"]
        if listed:
            session = decode_listed(self.serializer, sid, record["sess"], store=self)
            if session is None:
                return None
        else:
            session = decode_session(self.serializer, sid, record["sess"])
        try:
            expired = is_expired(session, now=now)
        except SerializationError as exc:
            if listed:
                logger.warning(
                    "%r: skipping the session %r in a listing: unreadable cookie.expires", self, sid
                )
                return None
            raise SessionDecodeError(f"unreadable cookie.expires: {exc}", sid=sid) from exc
        return None if expired else session

    def __repr__(self) -> str:
        return f"FileStore({str(self.folder)!r})"

    def _path(self, sid: str) -> Path:
        return self.folder / (hashlib.sha256(sid.encode("utf-8", "surrogatepass")).hexdigest() + ".json")

    def _session_files(self) -> list[Path]:
        return sorted(self.folder.glob("[0-9a-f]" * 64 + ".json"))

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            record: dict[str, Any] = json.loads(data.decode("utf-8"))  # UnicodeDecodeError is a ValueError
        except ValueError as exc:
            raise SessionDecodeError(f"{path.name} is not a session file: {exc}") from exc
        if not isinstance(record, dict) or not {"sid", "expires", "sess"} <= record.keys():
            raise SessionDecodeError(f"{path.name} is not a session file: not a session record")
        return record

    def _write(self, path: Path, record: dict[str, Any]) -> None:
        fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(record, out, ensure_ascii=False)
            with self._files_lock:
                os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


#: The options a store URL may carry: ``file:///var/sessions?ttl=3600``.
URL_OPTIONS = URLOptions({"ttl": positive_number})


def open_from_url(url: str, **options: Any) -> FileStore:
    """``file:///absolute/folder[?ttl=SECONDS]``: a :class:`FileStore` on that folder;
    keyword ``options`` win over the URL's.
    """
    parts = urlsplit(url)
    shown = redact_url(url)
    if parts.netloc not in ("", "localhost") or not parts.path:
        raise StoreURLError(f"{shown!r}: expected file:///absolute/folder")
    from_url = URL_OPTIONS.parse(parts.query, shown=shown)
    return open_with_options(FileStore, unquote(parts.path), url=url, from_url=from_url, options=options)
