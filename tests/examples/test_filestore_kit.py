"""The example FileStore follows the contract's decided edges with the store author's kit:
its URL options (``URLOptions``), a sid that is no ``str``, and corrupt files met by a listing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest

from connectstore import StoreURLError, now_ms, open_store
from connectstore_filestore import FileStore, open_from_url

DAY_MS = 86_400_000


def session(n: int, expires: object = None) -> dict[str, object]:
    return {"cookie": {"originalMaxAge": None, "expires": expires, "httpOnly": True, "path": "/"}, "n": n}


def test_the_url_carries_ttl_and_keywords_win(tmp_path: Path) -> None:
    assert open_from_url(f"file://{tmp_path}?ttl=60").ttl == 60
    assert open_from_url(f"file://{tmp_path}?ttl=60", ttl=5).ttl == 5
    store = open_store(f"file://{tmp_path}?ttl=2.5")
    assert isinstance(store, FileStore)
    assert store.ttl == 2.5


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("ttl=0", "option 'ttl'"),
        ("ttl=soon", "option 'ttl'"),
        ("tll=5", "unknown option 'tll'"),
        ("ttl=5&ttl=6", "given twice"),
    ],
)
def test_bad_url_options_are_store_url_errors(tmp_path: Path, query: str, message: str) -> None:
    with pytest.raises(StoreURLError, match=message):
        open_from_url(f"file://{tmp_path}?{query}")


def test_a_bad_ttl_keyword_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ttl must be a positive number"):
        FileStore(tmp_path, ttl=0)
    with pytest.raises(StoreURLError, match="ttl must be a positive number"):
        open_from_url(f"file://{tmp_path}", ttl=-1)


@pytest.mark.parametrize("sid", [1, b"a", None])
async def test_a_sid_that_is_not_a_str_is_a_type_error_before_any_file(tmp_path: Path, sid: object) -> None:
    store = FileStore(tmp_path / "s")
    for call in (
        store.get(sid),  # type: ignore[arg-type]
        store.set(sid, session(1)),  # type: ignore[arg-type]
        store.touch(sid, session(1)),  # type: ignore[arg-type]
        store.destroy(sid),  # type: ignore[arg-type]
    ):
        with pytest.raises(TypeError, match=f"^a session id is a str, not {type(sid).__name__}$"):
            await call
    assert await asyncio.to_thread(lambda: list((tmp_path / "s").iterdir())) == []


def file_of(folder: Path, sid: str) -> Path:
    return folder / (hashlib.sha256(sid.encode()).hexdigest() + ".json")


async def test_listings_skip_corrupt_files_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with FileStore(tmp_path) as store:
        for n, sid in enumerate(["live", "garbage", "bad-sess", "bad-cookie"]):
            await store.set(sid, session(n))
        await asyncio.to_thread(file_of(tmp_path, "garbage").write_bytes, b"\xff{secret not json")
        bad_sess = {"sid": "bad-sess", "expires": now_ms() + DAY_MS, "sess": "{secret not json"}
        await asyncio.to_thread(file_of(tmp_path, "bad-sess").write_text, json.dumps(bad_sess))
        bad_cookie = {
            "sid": "bad-cookie",
            "expires": now_ms() + DAY_MS,
            "sess": json.dumps(session(3, "never")),
        }
        await asyncio.to_thread(file_of(tmp_path, "bad-cookie").write_text, json.dumps(bad_cookie))
        with caplog.at_level("WARNING", logger="connectstore"):
            assert list(await store.all()) == ["live"]
        messages = [record.getMessage() for record in caplog.records if record.name == "connectstore"]
        assert len(messages) == 3, messages
        assert await store.length() == 1
        assert any(file_of(tmp_path, "garbage").name in message for message in messages)
        assert any("'bad-sess'" in message for message in messages)
        assert any("'bad-cookie'" in message for message in messages)
        assert "secret" not in caplog.text
        await store.clear()
        assert await asyncio.to_thread(lambda: list(tmp_path.glob("*.json"))) == []
