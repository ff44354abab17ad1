"""No error message, traceback, repr or log line of the SurrealDB adapter carries a credential.

Every error path is driven for real (bad URLs and options, nothing listening, a wrong
password, a server that stops answering, an open breaker, a failing sweep), and the whole
rendered traceback (causes included) and every log record are searched for the secret.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

from connectstore import StoreError, StoreUnavailableError, StoreURLError, open_store
from connectstore_conformance import make_session
from connectstore_surrealdb import RootAuth, SurrealDBStore, TokenAuth, options_from_url
from tests.adapters.surrealdb.helpers import eventually, holds
from tests.adapters.surrealdb.server import ROOT_USER, LoopbackSurreal
from tests.tools import free_port

SECRET = "hunter2"
TIMEOUT = 2.0
BOUND = TIMEOUT + 30.0  # a call that takes longer has hung


def rendered(error: BaseException) -> str:
    """Everything a log handler or a crash would print about ``error``."""
    return "".join(traceback.format_exception(type(error), error, error.__traceback__)) + repr(error)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record of every logger, DEBUG and up, with its traceback."""
    with caplog.at_level(logging.DEBUG):
        yield caplog


def assert_no_secret(text: str) -> None:
    assert SECRET not in text, text


def logged(caplog: pytest.LogCaptureFixture) -> str:
    lines = [caplog.text]
    for record in caplog.records:
        lines.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            lines.append(rendered(record.exc_info[1]))
    return "\n".join(lines)


@pytest.mark.parametrize(
    "url",
    [
        f"surrealdb+ws://root:{SECRET}@db:8000/rpc?ttl=-1",
        f"surrealdb+ws://root:{SECRET}@db:8000/rpc?ttl=soon",
        f"surrealdb+ws://root:{SECRET}@db:99999/rpc",
        f"surrealdb+ws://root:{SECRET}@[db/rpc",
        f"surrealdb+ws://root:{SECRET}@db/rpc?colour=blue",
        f"surrealdb+ws://root:{SECRET}@db/rpc?auth=admin",
        f"surrealdb+ws://root:{SECRET}@db/rpc?token=t",
        f"surrealdb+ws://root:{SECRET}@db/rpc?table=no%20spaces",
        f"surrealdb+ws://root:{SECRET}@db/rpc?batch_size=0",
        f"surrealdb+ws://root:{SECRET}@db/rpc?failure_threshold=0",
        f"surrealdb+ws://db/rpc?token={SECRET}&timeout=-1",
        f"surrealdb+ftp://root:{SECRET}@db/rpc",
        f"surreal://root:{SECRET}@db/rpc",
        f"surrealdb+ws://root:{SECRET}@/rpc",
        f"surrealdb+wss://root:{SECRET}@:8000/rpc?ttl=1",
    ],
)
def test_bad_store_urls(url: str, logs: pytest.LogCaptureFixture) -> None:
    with pytest.raises(StoreURLError) as info:
        open_store(url)
    assert_no_secret(rendered(info.value))
    assert_no_secret(logged(logs))


@pytest.mark.parametrize(
    "url", [f"ws://root:{SECRET}@db:8000/rpc", f"ftp://root:{SECRET}@db/rpc", f"root:{SECRET}@db"]
)
def test_bad_sdk_urls(url: str) -> None:
    with pytest.raises(StoreURLError) as info:
        SurrealDBStore(url, auth=RootAuth("root", SECRET))
    assert_no_secret(rendered(info.value))


@pytest.mark.parametrize(
    "options",
    [
        {"ttl": -1},
        {"timeout": 0},
        {"batch_size": 0},
        {"sweep_interval": 0},
        {"table": "bad table"},
        {"namespace": ""},
        {"failure_threshold": 0},
        {"retry_interval": -1},
    ],
)
@pytest.mark.parametrize("auth", [RootAuth("root", SECRET), TokenAuth(SECRET), {"token": SECRET}])
def test_bad_options(options: dict[str, Any], auth: Any) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        SurrealDBStore("ws://127.0.0.1:1/rpc", auth=auth, **options)
    assert_no_secret(rendered(info.value))


def test_reprs() -> None:
    store = open_store(f"surrealdb+ws://root:{SECRET}@127.0.0.1:1/rpc?failure_threshold=3")
    assert isinstance(store, SurrealDBStore)
    assert store.breaker is not None
    for text in (
        repr(store),
        str(store),
        repr(store.breaker),
        repr(store._connection.auth),
        repr(options_from_url(f"surrealdb+ws://root:{SECRET}@h")),
        repr(options_from_url(f"surrealdb+ws://h?token={SECRET}")),
        repr(TokenAuth(SECRET)),
    ):
        assert_no_secret(text)


async def test_nothing_listening(logs: pytest.LogCaptureFixture) -> None:
    store = SurrealDBStore(
        f"ws://127.0.0.1:{free_port()}/rpc", auth=RootAuth(ROOT_USER, SECRET), timeout=TIMEOUT
    )
    try:
        for _ in range(4):  # failures, then the open breaker's fail-fast errors
            with pytest.raises(StoreUnavailableError) as info:
                await asyncio.wait_for(store.get("a"), BOUND)
            assert_no_secret(rendered(info.value))
    finally:
        await store.close()
    assert_no_secret(logged(logs))


@pytest.mark.parametrize("auth", [RootAuth(ROOT_USER, SECRET), TokenAuth(SECRET)], ids=["password", "token"])
async def test_failed_signin(
    surreal_server: LoopbackSurreal,
    logs: pytest.LogCaptureFixture,
    auth: Any,
) -> None:
    store = SurrealDBStore(surreal_server.url, auth=auth, timeout=TIMEOUT)
    try:
        with pytest.raises(StoreError) as info:
            await asyncio.wait_for(store.get("a"), BOUND)
        assert not isinstance(info.value, StoreUnavailableError)
        assert_no_secret(rendered(info.value))
    finally:
        await store.close()
    assert_no_secret(logged(logs))


async def test_timeouts_and_the_open_breaker(
    surreal_server: LoopbackSurreal,
    logs: pytest.LogCaptureFixture,
) -> None:
    await surreal_server.rpc("query", [f"DEFINE USER other ON ROOT PASSWORD '{SECRET}' ROLES OWNER", {}])
    store = SurrealDBStore(surreal_server.url, auth=RootAuth("other", SECRET), timeout=TIMEOUT)
    try:
        await store.set("a", make_session(3600))
        surreal_server.hold = True
        errors: list[StoreUnavailableError] = []
        for _ in range(3):
            with pytest.raises(StoreUnavailableError) as info:
                await asyncio.wait_for(store.get("a"), BOUND)
            errors.append(info.value)
        assert "did not answer" in str(errors[0])
        assert "failing fast" in str(errors[-1])
        for error in errors:
            assert_no_secret(rendered(error))
    finally:
        surreal_server.hold = False
        await store.close()
    assert_no_secret(logged(logs))


async def test_a_failing_sweep_logs_no_secret(
    surreal_server: LoopbackSurreal,
    logs: pytest.LogCaptureFixture,
) -> None:
    store = SurrealDBStore(
        surreal_server.url,
        auth=RootAuth(ROOT_USER, SECRET),  # wrong: every sweep fails to sign in
        auto_sweep_expired=True,
        sweep_interval=0.05,
        timeout=TIMEOUT,
    )
    try:
        with pytest.raises(StoreError):
            await asyncio.wait_for(store.open(), BOUND)
        await eventually(lambda: holds(lambda: any("sweeping" in r.getMessage() for r in logs.records)))
    finally:
        await store.close()
    assert_no_secret(logged(logs))
