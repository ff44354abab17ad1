"""The contract's decided edges on SurrealDB: corrupt records, calls after close(), sids that are no str.

* a record that is no session is skipped by every listing (one WARNING naming its sid,
  never its content) and not counted by ``length()``; ``get`` of it raises
  ``SessionDecodeError`` (a NUL byte in a stored field included);
* ``close()`` releases the connections and the sweep task, and the next call opens them
  again: a ``surrealkv://`` directory keeps its sessions, a ``mem://`` database (it lives
  in the engine the store owns) starts again empty, a client the caller passed is never closed;
* a sid that is not a ``str`` raises ``TypeError`` before any I/O.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from surrealdb import AsyncSurreal

from connectstore import SessionDecodeError
from connectstore_conformance import make_session
from connectstore_surrealdb import SurrealDBStore
from tests.adapters.surrealdb.helpers import everywhere, listed, raw_query, rid

SECRET_CONTENT = "do-not-log-me"


@pytest_asyncio.fixture
async def store() -> AsyncIterator[SurrealDBStore]:
    async with SurrealDBStore("mem://", batch_size=2) as store:
        yield store


#: Ways a record of the store's shape can hold something that is no session.
CORRUPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "sess-not-json": ("UPDATE $r SET sess = $v RETURN NONE", {"v": "{" + SECRET_CONTENT}),
    "sess-not-an-object": ("UPDATE $r SET sess = $v RETURN NONE", {"v": f'["{SECRET_CONTENT}"]'}),
    "sess-with-a-nul-byte": (
        "UPDATE $r SET sess = $v RETURN NONE",
        {"v": '{"a":"\x00' + SECRET_CONTENT + '"}'},
    ),
    "cookie-not-json": ("UPDATE $r SET cookie = $v RETURN NONE", {"v": "{" + SECRET_CONTENT}),
    "cookie-with-a-nul-byte": ("UPDATE $r SET cookie = $v RETURN NONE", {"v": '{"\x00":1}'}),
    "cookie-missing": ("UPDATE $r UNSET cookie RETURN NONE", {}),
    "cookie-a-number": ("UPDATE $r SET cookie = 7 RETURN NONE", {}),
}


@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
async def test_listings_skip_a_corrupt_record_and_get_reports_it(
    store: SurrealDBStore, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    for sid in ("a", "b", "c", "d", "e"):  # "c" is corrupted: pages of 2 around it
        await store.set(sid, make_session(3600, n=1))
    statement, variables = CORRUPTIONS[how]
    await raw_query(store, statement, {"r": rid(store, "c"), **variables})
    with pytest.raises(SessionDecodeError) as info:
        await store.get("c")
    assert info.value.sid == "c"
    with caplog.at_level(logging.WARNING, logger="connectstore"):
        assert await listed(store) == everywhere("a", "b", "d", "e")
    warned = [r for r in caplog.records if r.name == "connectstore"]
    assert len(warned) == 4  # one per listing that met it
    for record in warned:
        assert record.levelno == logging.WARNING
        assert "'c'" in record.getMessage()
        assert SECRET_CONTENT not in record.getMessage()
    assert (await store.get("b") or {}).get("n") == 1
    await store.set("c", make_session(3600, n=2))  # set() replaces it
    assert (await store.get("c") or {}).get("n") == 2
    await raw_query(store, statement, {"r": rid(store, "c"), **variables})
    await store.destroy("c")  # destroy() removes it
    assert await store.get("c") is None
    assert await listed(store) == everywhere("a", "b", "d", "e")


async def test_clear_removes_a_corrupt_record(store: SurrealDBStore) -> None:
    await store.set("c", make_session(3600))
    await raw_query(store, CORRUPTIONS["sess-with-a-nul-byte"][0], {"r": rid(store, "c"), "v": "\x00"})
    await store.clear()
    assert await raw_query(store, "SELECT * FROM type::table($t)", {"t": store.table}) == []


async def test_every_call_works_after_close_and_mem_starts_empty() -> None:
    store = SurrealDBStore("mem://")
    await store.set("before", make_session(3600, n=1))
    await store.close()
    assert await store.get("before") is None  # the engine that held it is closed
    await store.set("after", make_session(3600, n=2))
    assert (await store.get("after") or {}).get("n") == 2
    assert await store.length() == 1
    await store.close()
    await store.close()
    assert await store.length() == 0


async def test_surrealkv_keeps_its_sessions_through_close(tmp_path: Path) -> None:
    store = SurrealDBStore(f"surrealkv://{tmp_path / 'kv'}")
    await store.set("before", make_session(3600, n=1))
    await store.close()
    assert (await store.get("before") or {}).get("n") == 1  # the files are opened again
    await store.set("after", make_session(3600, n=2))
    await store.close()
    assert sorted(await store.all()) == ["after", "before"]
    await store.close()


async def test_a_given_client_is_never_closed() -> None:
    client = AsyncSurreal("mem://")
    await client.connect("mem://")
    await client.use("main", "main")
    try:
        store = SurrealDBStore("mem://", client=client)
        await store.set("a", make_session(3600, n=1))
        await store.close()
        assert await client.query("RETURN 1") == 1  # still open
        assert (await store.get("a") or {}).get("n") == 1  # the same engine: nothing was lost
        assert store.client is client
        await store.close()
    finally:
        await client.close()


@pytest.mark.parametrize("sid", [7, None, b"bytes", ["a"]])
async def test_a_sid_that_is_no_str_raises_type_error_before_any_io(sid: Any) -> None:
    # A server nobody listens on: any I/O would be StoreUnavailableError, not TypeError.
    store = SurrealDBStore("ws://127.0.0.1:1/rpc", timeout=30)
    session = make_session(3600)
    calls = [store.get(sid), store.set(sid, session), store.destroy(sid), store.touch(sid, session)]
    for pending in calls:
        with pytest.raises(TypeError, match=f"a session id is a str, not {type(sid).__name__}"):
            await pending
    assert store.client is None  # no connection was even tried
    await store.close()


async def test_close_waits_for_a_call_its_cancelled_caller_left_in_flight() -> None:
    """A cancelled caller's SDK call runs on (a torn frame would break the connection); close()
    awaits it, so that no task is left pending.
    """
    before = asyncio.all_tasks()
    store = SurrealDBStore("mem://")
    await store.set("a", make_session(3600))
    slow = "DEFINE EVENT slow ON TABLE user_session WHEN $event = 'DELETE' THEN { sleep(2s); }"
    await raw_query(store, slow)
    caller = asyncio.create_task(store.destroy("a"))
    await asyncio.sleep(0.5)  # the DELETE is in flight (or, on a very slow machine, not yet sent)
    caller.cancel()
    await asyncio.wait({caller})
    await store.close()
    assert asyncio.all_tasks() - before == set()
