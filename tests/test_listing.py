"""Listings from items(): all/ids/length agree, and a corrupt record is skipped, never fatal."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest

from connectstore import JSONSerializer, SessionData, SessionDecodeError, decode_session, supports
from connectstore.listing import ListingFromItems, decode_listed


class RawStore(ListingFromItems):
    """Keeps serialized text per sid, so a test can plant a corrupt record."""

    capabilities: ClassVar[frozenset[str]] = frozenset({"all", "ids", "items", "length"})

    def __init__(self) -> None:
        self.serializer = JSONSerializer()
        self.records: dict[str, str] = {}

    def __repr__(self) -> str:
        return "RawStore()"

    async def get(self, sid: str) -> SessionData | None:
        text = self.records.get(sid)
        return None if text is None else self.serializer.loads(text)

    async def set(self, sid: str, session: SessionData) -> None:
        self.records[sid] = self.serializer.dumps(session)

    async def get_strict(self, sid: str) -> SessionData:
        """Decode a record as ``get`` must: a corrupt one raises SessionDecodeError."""
        return decode_session(self.serializer, sid, self.records[sid])

    async def destroy(self, sid: str) -> None:
        self.records.pop(sid, None)

    async def items(self) -> AsyncIterator[tuple[str, SessionData]]:
        for sid, text in list(self.records.items()):
            session = decode_listed(self.serializer, sid, text, store=self)
            if session is not None:
                yield sid, session


async def test_all_ids_and_length_come_from_items() -> None:
    store = RawStore()
    assert supports(store, "all")
    assert supports(store, "length")
    assert await store.all() == {}
    assert await store.length() == 0
    for n in range(3):
        await store.set(f"s{n}", {"cookie": {"expires": None}, "n": n})
    assert await store.all() == {f"s{n}": {"cookie": {"expires": None}, "n": n} for n in range(3)}
    assert [sid async for sid in store.ids()] == ["s0", "s1", "s2"]
    assert await store.length() == 3


async def test_a_corrupt_record_is_skipped_with_a_warning_naming_only_the_sid(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = RawStore()
    await store.set("good", {"cookie": {"expires": None}})
    store.records["bad"] = '{"cookie": {"expires": null}, "secret": "hunter2"'  # cut short
    with caplog.at_level(logging.WARNING, logger="connectstore"):
        assert list(await store.all()) == ["good"]
        assert await store.length() == 1
    warnings = [record.getMessage() for record in caplog.records]
    assert warnings
    assert all("'bad'" in text and "RawStore()" in text for text in warnings)
    assert not any("hunter2" in text for text in caplog.text.splitlines())
    with pytest.raises(SessionDecodeError):
        await store.get_strict("bad")


def test_decode_listed_returns_the_session_when_it_decodes() -> None:
    text = '{"cookie":{"expires":null},"n":1}'
    assert decode_listed(JSONSerializer(), "s", text, store="x") == {"cookie": {"expires": None}, "n": 1}
