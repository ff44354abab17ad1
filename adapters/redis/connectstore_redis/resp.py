"""The Redis protocol (RESP) of the auto-pipeline's commands and replies, without redis-py's
general path.

redis-py's ``pack_command`` handles what any caller may send (a command name holding
several words, memoryviews, floats, huge values cut into chunks); the store's commands are
a one-word name and arguments that are bytes, str or int, which :func:`pack` writes
directly in one ``bytes``, as redis-py would (same encoding, same bytes on the wire). Any
other argument goes through redis-py's own ``pack_command``.

:func:`read_reply` reads one reply straight from the connection's stream, as redis-py's
parsers give it (the same values, decoded as the client's encoder says, errors made by
redis-py's own ``parse_error``), for the reply types the store's commands and scripts
produce, RESP2 and RESP3 alike; any other type is a protocol error.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse

__all__ = ["pack", "read_reply"]


def pack(conn: AbstractConnection, args: tuple[Any, ...]) -> bytes:
    """``args`` (a command and its arguments) as RESP, encoded as ``conn``'s encoder would."""
    encoder = conn.encoder
    parts = [b"*%d\r\n" % len(args)]
    append = parts.append
    for arg in args:
        kind = type(arg)
        if kind is bytes:
            data = arg
        elif kind is str:
            data = arg.encode(encoder.encoding, encoder.encoding_errors)
        elif kind is int:
            data = b"%d" % arg
        else:  # anything else: redis-py's general path
            return b"".join(conn.pack_command(*args))
        append(b"$%d\r\n" % len(data))
        append(data)
        append(b"\r\n")
    if b" " in parts[2]:  # a command name of several words ("SCRIPT LOAD"): redis-py splits it
        return b"".join(conn.pack_command(*args))
    return b"".join(parts)


async def read_reply(reader: asyncio.StreamReader, conn: AbstractConnection) -> Any:
    """The next reply on ``reader`` (``conn``'s stream): an error reply is returned as
    redis-py's exception for it (raised when it is a ``ConnectionError``), not raised.
    """
    line = await reader.readuntil(b"\r\n")
    kind, body = line[:1], line[1:-2]
    if kind == b"$":  # bulk string
        if body == b"-1":
            return None
        data = await reader.readexactly(int(body) + 2)
        return conn.encoder.decode(data[:-2])  # type: ignore[no-untyped-call]
    if kind == b":" or kind == b"(":  # integer, big number
        return int(body)
    if kind == b"+":  # simple string
        return conn.encoder.decode(body)  # type: ignore[no-untyped-call]
    if kind == b"-":
        text = body.decode("utf-8", errors="replace")
        error = conn._parser.parse_error(text)  # type: ignore[no-untyped-call]  # redis-py's mapping
        if isinstance(error, RedisConnectionError):
            raise error
        return error
    if kind == b"*":  # array
        if body == b"-1":
            return None
        return [await read_reply(reader, conn) for _ in range(int(body))]
    if kind == b"_":  # RESP3 null
        return None
    if kind == b"#":  # RESP3 boolean
        return body == b"t"
    if kind == b",":  # RESP3 double
        return float(body)
    raise InvalidResponse(f"Protocol Error: {line!r}")
