"""The example FileStore obeys the rule of every store: a session whose own ``cookie.expires``
is past is expired, whatever the file's ``expires`` field says (a file written behind the
store's back, as another program sharing the folder could write it).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest

from connectstore import Cookie, SessionDecodeError, now_ms
from connectstore.cookie import format_expires
from connectstore_filestore import FileStore

DAY_MS = 86_400_000


def write_behind_the_back(folder: Path, sid: str, file_expires: int, cookie_expires: object) -> None:
    """A session file as the README describes it, named by the SHA-256 of the sid."""
    session = {"cookie": {"originalMaxAge": 1, "expires": cookie_expires, "httpOnly": True, "path": "/"}}
    record = {"sid": sid, "expires": file_expires, "sess": json.dumps(session)}
    name = hashlib.sha256(sid.encode()).hexdigest() + ".json"
    (folder / name).write_text(json.dumps(record), encoding="utf-8")


async def test_a_past_cookie_expiry_wins_over_the_files_expires(tmp_path: Path) -> None:
    async with FileStore(tmp_path) as store:
        await store.set("live", {"cookie": Cookie.create(max_age_ms=DAY_MS).to_json(), "n": 1})
        now = now_ms()
        await asyncio.to_thread(
            write_behind_the_back, tmp_path, "stale", now + DAY_MS, format_expires(now - 1000)
        )
        assert await store.get("stale") is None
        assert await store.length() == 1
        assert list(await store.all()) == ["live"]
        assert [sid async for sid in store.ids()] == ["live"]
        assert [sid async for sid, _ in store.items()] == ["live"]


async def test_a_future_cookie_expiry_within_the_files_expires_is_live(tmp_path: Path) -> None:
    async with FileStore(tmp_path) as store:
        now = now_ms()
        await asyncio.to_thread(
            write_behind_the_back, tmp_path, "fresh", now + DAY_MS, format_expires(now + DAY_MS)
        )
        assert await store.get("fresh") is not None
        assert await store.length() == 1


async def test_an_unreadable_cookie_expiry_is_a_decode_error_naming_the_session(tmp_path: Path) -> None:
    async with FileStore(tmp_path) as store:
        await asyncio.to_thread(write_behind_the_back, tmp_path, "bad", now_ms() + DAY_MS, "not a date")
        with pytest.raises(SessionDecodeError) as info:
            await store.get("bad")
        assert info.value.sid == "bad"
