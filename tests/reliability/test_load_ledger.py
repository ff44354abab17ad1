"""The soak's own clients: each user sends only its own cookie, so a ledger violation is the store's.

The soak's users share one ``httpx.AsyncClient``. httpx keeps every response's cookies in
the client's jar and adds them to a request without a ``Cookie`` header, so a user whose
first login failed (no cookie yet, e.g. a slow start under CPU pressure) logged in with
the last cookie any other user received: ``regenerate()`` destroyed that user's session,
whose next update then got 409 and the soak reported "session (sid, n) vanished" against
the store. These tests pin the harness down with an in-memory store (no fault, no timing).
"""

from __future__ import annotations

import random

import httpx
import pytest

from connectstore import MemoryStore
from tests.reliability.app import make_app, make_engine
from tests.reliability.client import Client, http_client
from tests.reliability.services import served


async def test_a_user_without_a_cookie_leaves_other_users_sessions_alone() -> None:
    store = MemoryStore()
    async with served(make_app(make_engine(store, store_timeout=1.0))) as url, http_client(2) as http:
        alice = Client("alice", [url], random.Random(1), http)
        bob = Client("bob", [url], random.Random(2), http)
        await alice.login()
        await alice.update()
        assert alice.state is not None
        assert alice.possible is None
        sid = alice.state[0]
        assert bob.cookie is None  # as after a first login that failed
        await bob.login()
        assert bob.state is not None
        assert bob.state[0] != sid
        await alice.update()
        assert alice.violations == []
        assert bob.violations == []
        assert alice.state == (sid, 2)
        stored = await store.get(sid)
        assert stored is not None
        assert (stored["owner"], stored["n"]) == ("alice", 2)


async def test_a_user_refuses_to_send_a_cookie_it_was_not_given() -> None:
    store = MemoryStore()
    async with served(make_app(make_engine(store, store_timeout=1.0))) as url, httpx.AsyncClient() as http:
        alice = Client("alice", [url], random.Random(1), http)
        bob = Client("bob", [url], random.Random(2), http)
        await alice.login()  # a client with a cookie jar now holds alice's cookie
        assert alice.state is not None
        with pytest.raises(AssertionError, match="not its own"):
            await bob.login()
        assert bob.records == []  # refused before sending: alice's session is untouched
        assert await store.get(alice.state[0]) is not None
