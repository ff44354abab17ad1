"""Every SurrealQL statement the store sends, in one place.

No value is ever formatted into these texts: the record is ``$rid`` (an SDK ``RecordID``,
so any string is a valid sid), the table ``type::table($table)``, times are epoch
milliseconds turned into datetimes with ``time::from::millis``.

Record shape, one record per session, record id = sid::

    user_session:⟨sid⟩ = {
        cookie:  '{"cookie":{...}}',     # JSON text: the session's cookie
        sess:    '{"views":1,...}',      # JSON text: every other key of the session
        expires: d'2030-01-02T03:04:05.678Z',   # datetime: when the session dies
    }

The session is kept as JSON text because SurrealDB would change it otherwise (a ``null``
becomes NONE and vanishes, ``id`` and ``expires`` would collide with the session's own
keys). The cookie is kept apart from the rest so that ``touch`` replaces it, and moves
``expires``, in one statement that never reads or rewrites the application's data.

``expires`` is compared with ``type::is::datetime`` first wherever records are deleted by
time: SurrealQL sorts NONE below every datetime, so ``expires < now`` alone would delete
every record without an ``expires`` field (connect-surreal's bug).

Reads return ``cookie`` and ``sess`` as UTF-8 bytes (``<bytes>``, the store decodes them):
the embedded engine cannot return a string holding a NUL byte, and would fail the whole
statement instead of letting the store report that one record as corrupt.

A session whose own ``cookie.expires`` is past is expired whatever ``expires`` says (a
record written by hand or by another program may disagree). Reads check the cookie after
decoding it; ``touch``, one statement that never reads the cookie back, checks it in
SurrealQL for the form ``JSON.stringify`` writes (``"expires":"2030-01-02T03:04:05.678Z"``).

The conditional writes (``get_versioned``, ``set_if``, ``create``) add no field: a record's
*version* is the BLAKE3 hash of the whole record as SurrealDB renders it (``<string>``:
fields in key order, ids and datetimes in one form), computed by SurrealDB both when it is
read and when ``set_if`` compares it, so any write that changes the record, by whoever
(``touch``, a raw statement, another program), changes it, and nothing is ever hashed by
two different hands. (The store joins the cookie's expiry to it: ``records.version``.)
``set_if`` and ``create`` are single conditional statements that return the hash of the
record they wrote.
"""

from __future__ import annotations

from typing import Final

#: What makes a record a live session of this store (records of other writers lack ``sess``).
LIVE: Final = "expires > time::from::millis($now) AND type::is::string(sess)"

#: ``cookie`` and ``sess`` as bytes (``sess`` is a string in every LIVE record; ``cookie`` may not be).
_FIELDS: Final = (
    "(IF type::is::string(cookie) THEN <bytes> cookie ELSE cookie END) AS cookie, <bytes> sess AS sess"
)

GET: Final = f"SELECT {_FIELDS} FROM ONLY $rid WHERE {LIVE}"

SET: Final = (
    "UPSERT $rid CONTENT {cookie: $cookie, sess: $sess, expires: time::from::millis($expires)} RETURN NONE"
)

DESTROY: Final = "DELETE $rid RETURN NONE"

#: The ISO date of the stored cookie's ``"expires":"..."``, or ``''`` when there is none.
_COOKIE_EXPIRES: Final = "string::split(string::split(cookie, '\"expires\":\"')[1] ?? '', '\"')[0]"

#: The stored cookie says the session is over (``JSON.stringify``'s form of the date).
COOKIE_PAST: Final = (
    f"(type::is::string(cookie) AND string::is::datetime({_COOKIE_EXPIRES})"
    f" AND <datetime> {_COOKIE_EXPIRES} <= time::from::millis($now))"
)

TOUCH: Final = (
    "UPDATE $rid SET cookie = $cookie, expires = time::from::millis($expires)"
    f" WHERE {LIVE} AND !{COOKIE_PAST} RETURN NONE"
)

# $range is the record-id range ``⟨after⟩..[]`` of the table: every string id after the
# last one seen (string ids sort before arrays), read straight from the key order.
# ids() and length() read whole records too: a past ``cookie.expires`` or a corrupt record
# leaves a session out of every listing alike.
PAGE: Final = f"SELECT record::id(id) AS sid, {_FIELDS} FROM $range WHERE {LIVE} LIMIT $limit"

CLEAR: Final = "DELETE type::table($table) RETURN NONE"

SWEEP: Final = (
    "array::len(DELETE type::table($table)"
    " WHERE type::is::datetime(expires) AND expires <= time::from::millis($now) RETURN BEFORE)"
)


def _version(doc: str) -> str:
    """The version of the record ``doc`` names (``$this`` in a read, ``$after`` once written)."""
    return f"crypto::blake3(<string> {doc})"


#: The record is a live session of this store (a corrupt one included), cookie read too.
_PRESENT: Final = f"({LIVE} AND !{COOKIE_PAST})"

#: The record is live and still has the hash ``$version``. (Its cookie, part of what was
#: hashed, was read and checked by the client with the version: see ``records.version``.)
_MATCHES: Final = f"{LIVE} AND {_version('$this')} = $version"

_CONTENT: Final = "{cookie: $cookie, sess: $sess, expires: time::from::millis($expires)}"

GET_VERSIONED: Final = f"SELECT {_FIELDS}, {_version('$this')} AS version FROM ONLY $rid WHERE {LIVE}"

#: ``[version]`` when written, ``[]`` when the live record no longer has ``$version``.
SET_IF: Final = f"UPDATE $rid CONTENT {_CONTENT} WHERE {_MATCHES} RETURN VALUE {_version('$after')}"

#: ``set_if`` of a session already expired: ``['']`` (NO_VERSION) when the matching record
#: went, else ``[]``.
DESTROY_IF: Final = f"DELETE $rid WHERE {_MATCHES} RETURN VALUE ''"

#: ``[version]`` when written, ``[]`` when a live session is there (an expired or foreign
#: record counts as absent: UPSERT replaces it; a missing one is created).
CREATE: Final = f"UPSERT $rid CONTENT {_CONTENT} WHERE !{_PRESENT} RETURN VALUE {_version('$after')}"

#: ``create`` of a session already expired: ``['']`` (NO_VERSION) when no live session is
#: there (whatever record is there goes), ``[]`` when one is (it stays).
CREATE_EXPIRED: Final = (
    f"IF (SELECT VALUE true FROM ONLY $rid WHERE {_PRESENT}) {{ RETURN [] }}"
    " ELSE { DELETE $rid RETURN NONE; RETURN [''] }"
)
