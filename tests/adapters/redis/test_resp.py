"""The auto-pipeline's own packing and reply reading give what redis-py's own path gives.

Every command and reply kind the store uses (and a few more), on a real Redis, with
RESP2 and RESP3, raw bytes and ``decode_responses``: :func:`pack` writes the bytes of
redis-py's ``pack_command``, :func:`read_reply` returns the values of redis-py's
``read_response`` (an error reply as the same exception class and text).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ResponseError

from connectstore_redis.resp import pack, read_reply
from tests.adapters.redis.conftest import unique_prefix

KEY = unique_prefix("resp", glob=False) + "k"
COMMANDS: list[tuple[Any, ...]] = [
    ("SET", KEY, '{"cookie":{},"é":1}', "EX", 60),
    ("GET", KEY),
    ("GET", KEY + ":missing"),
    ("PTTL", KEY + ":missing"),
    ("EXISTS", KEY),
    ("DEL", KEY + ":missing"),
    ("EVAL", "return {1, 'two', false, {3}, redis.pcall('INCR', KEYS[1])}", 1, KEY),
    ("EVAL", "return redis.call('STRLEN', KEYS[1]) .. ' ' .. redis.call('GET', KEYS[1])", 1, KEY),
    ("EVAL", "return false", 0),
    ("EVALSHA", "0" * 40, 0),  # NOSCRIPT
    ("INCR", KEY),  # WRONGTYPE-free error: not an integer
    ("SET", KEY.encode(), b"\x00\r\n\xc3\xa9", "EX", 60),
    ("GET", KEY.encode()),
]
"""Each is sent twice (once per reader): none changes what the next one answers."""


@pytest_asyncio.fixture(
    params=[(2, False), (2, True), (3, False), (3, True)], ids=lambda p: f"resp{p[0]}-decode{p[1]}"
)
async def connections(
    request: pytest.FixtureRequest, shared_redis: str
) -> AsyncIterator[tuple[AbstractConnection, AbstractConnection]]:
    """Two connections of one client: one read by redis-py, one by the store's reader."""
    protocol, decode = request.param
    client = Redis.from_url(shared_redis, protocol=protocol, decode_responses=decode)
    theirs = await client.connection_pool.get_connection()  # type: ignore[no-untyped-call]
    ours = await client.connection_pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        yield theirs, ours
    finally:
        await client.delete(KEY)
        await client.connection_pool.release(theirs)
        await client.connection_pool.release(ours)
        await client.aclose()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, ResponseError) or isinstance(b, ResponseError):
        return type(a) is type(b) and str(a) == str(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


async def test_the_same_bytes_and_the_same_replies(
    connections: tuple[AbstractConnection, AbstractConnection],
) -> None:
    theirs, ours = connections
    for command in COMMANDS:
        assert pack(ours, command) == b"".join(theirs.pack_command(*command)), command
        await theirs.send_command(*command)
        try:
            expected: Any = await theirs.read_response()
        except ResponseError as exc:
            expected = exc
        writer, reader = ours._writer, ours._reader
        assert writer is not None
        assert reader is not None
        writer.write(pack(ours, command))
        got = await read_reply(reader, ours)
        assert _same(got, expected), (command, got, expected)


async def test_arguments_of_other_types_take_redis_pys_own_packing(
    connections: tuple[AbstractConnection, AbstractConnection],
) -> None:
    _, ours = connections
    commands: list[tuple[Any, ...]] = [
        ("SET", KEY, 1.5),
        ("SET", KEY, memoryview(b"v")),
        ("CONFIG GET", "maxmemory"),
    ]
    for command in commands:
        assert pack(ours, command) == b"".join(ours.pack_command(*command)), command
