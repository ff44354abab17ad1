"""The Lua scripts a store runs on a standalone Redis, and the replies they give.

Each script reads or writes one key's value together with its remaining life, atomically,
in one round trip. On a Cluster they run with a single key only (scripts cannot span hash
slots): :class:`~connectstore_redis.topology.Cluster` pipelines plain commands for batches.
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = [
    "CREATE_SCRIPT",
    "CREATE_SHA",
    "FETCH_SCRIPT",
    "FETCH_SHA",
    "GET_SCRIPT",
    "GET_SHA",
    "SET_IF_SCRIPT",
    "SET_IF_SHA",
    "TOUCH_SCRIPT",
    "TOUCH_SHA",
    "Fetched",
    "split_fetched",
]

Fetched = tuple[bytes | str | None, int]
"""One key as read: its value (None when missing or not a string) and its PTTL in ms."""

GET_SCRIPT = """
local value = redis.pcall('GET', KEYS[1])
if type(value) ~= 'string' then return false end
return redis.call('PTTL', KEYS[1]) .. ' ' .. value
"""
"""One key's remaining life (PTTL, ms) and value, read atomically as ``"<pttl> <value>"``.

A missing key, or one that does not hold a string, reads as nil. One bulk reply costs
redis-py less to parse than a two-element array.
"""

FETCH_SCRIPT = """
local out = {}
for i = 1, #KEYS do
  local value = redis.pcall('GET', KEYS[i])
  if type(value) == 'string' then
    out[i] = redis.call('PTTL', KEYS[i]) .. ' ' .. value
  else
    out[i] = false
  end
end
return out
"""
""":data:`GET_SCRIPT` for a batch of keys: one ``"<pttl> <value>"`` or nil per key."""

TOUCH_SCRIPT = """
if redis.pcall('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[3])
if ttl == nil then
  redis.call('SET', KEYS[1], ARGV[2])
elseif ttl <= 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ttl)
end
return 1
"""
"""Compare-and-set for ``touch``: replace the value only if it is still ``ARGV[1]``.

``ARGV[2]`` is the new value, ``ARGV[3]`` its TTL in seconds (empty: no expiry; ``<= 0``:
delete). Returns 1 when written, 0 when the key changed or vanished in between (a
concurrent ``set`` or ``destroy`` wins; nothing is overwritten).
"""

SET_IF_SCRIPT = """
local value = redis.pcall('GET', KEYS[1])
if type(value) ~= 'string' or redis.sha1hex(value) ~= ARGV[1] then return 0 end
local floor = tonumber(ARGV[2])
if floor > -2 and redis.call('PTTL', KEYS[1]) <= floor then return 0 end
local ttl = tonumber(ARGV[4])
if ttl == nil then
  redis.call('SET', KEYS[1], ARGV[3])
elseif ttl <= 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ttl)
end
return 1
"""
"""Compare-and-set for ``set_if``: write only if the value's SHA-1 is still ``ARGV[1]`` and
the key's PTTL is above ``ARGV[2]`` (the record is still live; ``-2``: any key, not read).

``ARGV[3]`` is the new value, ``ARGV[4]`` its TTL as for :data:`TOUCH_SCRIPT`. Returns 1
when written (or deleted), 0 when the record changed, vanished or expired.
"""

CREATE_SCRIPT = """
local value = redis.pcall('GET', KEYS[1])
if type(value) == 'string' then
  local ok, record = pcall(cjson.decode, value)
  local cookie = ok and type(record) == 'table' and record.cookie
  local expires = type(cookie) == 'table' and cookie.expires
  if expires == cjson.null then return 0 end
  if type(expires) ~= 'string'
    or not string.find(expires, '^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$')
    or (expires <= ARGV[1] and ARGV[2] == '1') then
    return redis.call('PTTL', KEYS[1]) .. ' ' .. value
  end
  if expires > ARGV[1] then return 0 end
end
local ttl = tonumber(ARGV[4])
if ttl == nil then
  redis.call('SET', KEYS[1], ARGV[3])
elseif ttl <= 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[3], 'EX', ttl)
end
return 1
"""
"""Create-if-absent for ``create``: write ``ARGV[3]`` (TTL ``ARGV[4]``, as for
:data:`TOUCH_SCRIPT`) unless the key holds a live session.

The script judges the stored record itself in the usual case: a cookie expiring in
JavaScript's own ``toJSON`` form compares with ``ARGV[1]`` (now, in the same form) as
text, and ``expires: null`` lives as long as its key. Returns 1 when written, 0 when a
live session is there, and ``"<pttl> <value>"`` (as :data:`GET_SCRIPT`) when only the
client can judge: an expiry in another form, a record that is not a JSON session (corrupt
or not, the client's decoder decides), or an expired cookie whose key TTL may keep it
alive (``ARGV[2]`` = ``1``: ``trust_key_ttl``).
"""

GET_SHA = hashlib.sha1(GET_SCRIPT.encode()).hexdigest()
"""``EVALSHA`` name of :data:`GET_SCRIPT`."""
FETCH_SHA = hashlib.sha1(FETCH_SCRIPT.encode()).hexdigest()
"""``EVALSHA`` name of :data:`FETCH_SCRIPT`."""
TOUCH_SHA = hashlib.sha1(TOUCH_SCRIPT.encode()).hexdigest()
"""``EVALSHA`` name of :data:`TOUCH_SCRIPT`."""
SET_IF_SHA = hashlib.sha1(SET_IF_SCRIPT.encode()).hexdigest()
"""``EVALSHA`` name of :data:`SET_IF_SCRIPT`."""
CREATE_SHA = hashlib.sha1(CREATE_SCRIPT.encode()).hexdigest()
"""``EVALSHA`` name of :data:`CREATE_SCRIPT`."""


def split_fetched(reply: Any) -> Fetched:
    """A ``"<pttl> <value>"`` reply -> ``(value, pttl)``; nil (or RESP3's false) -> ``(None, -2)``."""
    if isinstance(reply, bytes):
        head, _, value = reply.partition(b" ")
        return value, int(head)
    if isinstance(reply, str):  # a client that decodes responses
        text_head, _, text = reply.partition(" ")
        return text, int(text_head)
    return None, -2
