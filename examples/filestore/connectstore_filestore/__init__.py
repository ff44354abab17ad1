"""An example third-party store: one JSON file per session in a folder.

Written only against connectstore's public API. Blocking file I/O runs in worker threads
(``asyncio.to_thread``) so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from connectstore import (
    DEFAULT_TTL,
    JSONSerializer,
    SerializationError,
    Serializer,
    SessionData,
    SessionDecodeError,
    Store,
    StoreURLError,
    decode_session,
    is_expired,
    now_ms,
    session_expires,
)

__all__ = ["FileStore", "open_from_url"]

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


class FileStore(Store):
    """Sessions as files in ``folder``; ``ttl`` seconds for sessions without cookie expiry."""

    capabilities = frozenset({"touch", "all", "clear", "length", "ids", "items"})

    def __init__(
        self, folder: str | os.PathLike[str], *, ttl: int = DEFAULT_TTL, serializer: Serializer | None = None
    ) -> None:
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
            record = await asyncio.to_thread(self._read, self._path(sid))
        except SessionDecodeError as exc:
            raise SessionDecodeError(str(exc), sid=sid) from exc
        if record is None or record["sid"] != sid:
            return None
        return self._live(record)

    async def set(self, sid: str, session: SessionData) -> None:
        """Write the session; an expiry already past deletes it instead."""
        text = self.serializer.dumps(session)  # raises SerializationError before any write
        expires = session_expires(session)
        if expires is None:
            expires = now_ms() + self.ttl * 1000
        if expires <= now_ms():
            await self.destroy(sid)
            return
        await asyncio.to_thread(self._write, self._path(sid), {"sid": sid, "expires": expires, "sess": text})

    async def destroy(self, sid: str) -> None:
        """Delete the session's file; a missing one is fine."""
        await asyncio.to_thread(self._unlink, self._path(sid))

    async def touch(self, sid: str, session: SessionData) -> None:
        """Move a live session's expiry and rewrite its stored cookie; data stays as stored
        (read and written back under the files lock: a racing set() is never undone).
        """
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
            expires = session_expires(current)
            if expires is None:
                expires = now_ms() + self.ttl * 1000
            if expires <= now_ms():
                self._unlink(path)
            else:
                self._write(path, {"sid": sid, "expires": expires, "sess": text})

    def _unlink(self, path: Path) -> None:
        with self._files_lock:
            path.unlink(missing_ok=True)

    async def all(self) -> dict[str, SessionData]:
        """Every live session keyed by sid."""
        return {sid: session async for sid, session in self.items()}

    async def clear(self) -> None:
        """Delete every session file of this folder (and nothing else in it)."""
        for path in await asyncio.to_thread(self._session_files):
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def length(self) -> int:
        """How many live sessions there are."""
        return len([sid async for sid in self.ids()])

    async def ids(self) -> AsyncIterator[str]:
        """Ids of live sessions."""
        async for sid, _ in self.items():
            yield sid

    async def items(self) -> AsyncIterator[tuple[str, SessionData]]:
        """``(sid, session)`` for every live session, one file at a time; the folder is read
        ``LISTING_BATCH`` names at a time, so memory stays bounded however many there are.
        """
        entries = await asyncio.to_thread(os.scandir, self.folder)
        try:
            while batch := await asyncio.to_thread(_session_names, entries, LISTING_BATCH):
                for name in batch:
                    record = await asyncio.to_thread(self._read, self.folder / name)
                    if record is None:
                        continue
                    session = self._live(record)
                    if session is not None:
                        yield record["sid"], session
        finally:
            entries.close()

    def _live(self, record: dict[str, Any]) -> SessionData | None:
        """The record's session, or None when it has expired: by the file's ``expires`` or by
        the session's own ``cookie.expires``, whichever comes first (a file written by
        another program may disagree with the cookie; the cookie is never overruled).
        """
        now = now_ms()
        if record["expires"] <= now:
            return None
        session = decode_session(self.serializer, record["sid"], record["sess"])
        try:
            expired = is_expired(session, now=now)
        except SerializationError as exc:
            raise SessionDecodeError(f"unreadable cookie.expires: {exc}", sid=record["sid"]) from exc
        return None if expired else session

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


def open_from_url(url: str, **options: Any) -> FileStore:
    """``file:///absolute/folder``: a :class:`FileStore` on that folder."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path:
        raise StoreURLError(f"{url!r}: expected file:///absolute/folder")
    return FileStore(unquote(parts.path), **options)
