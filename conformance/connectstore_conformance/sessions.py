"""Building sessions the way express-session hands them to a store, for the suite's checks."""

from __future__ import annotations

from typing import Any

from connectstore import SessionData, now_ms
from connectstore.cookie import format_expires


def make_session(expires_in: float | None = 3600.0, **data: Any) -> SessionData:
    """A session whose cookie expires ``expires_in`` seconds from now (None: no expiry).

    The cookie is exactly what express-session stores for ``maxAge`` (or no maxAge);
    ``data`` becomes the application's keys.
    """
    if expires_in is None:
        cookie: dict[str, Any] = {"originalMaxAge": None, "expires": None, "httpOnly": True, "path": "/"}
    else:
        max_age = round(expires_in * 1000)
        cookie = {
            "originalMaxAge": max_age,
            "expires": format_expires(now_ms() + max_age),
            "httpOnly": True,
            "path": "/",
        }
    return {"cookie": cookie, **data}


def without_cookie(session: SessionData | None) -> SessionData | None:
    """The application data of a session: everything but its cookie."""
    if session is None:
        return None
    return {key: value for key, value in session.items() if key != "cookie"}


#: One value of every JSON type, in the shapes sessions hold.
EVERY_JSON_TYPE: dict[str, Any] = {
    "null": None,
    "true": True,
    "false": False,
    "zero": 0,
    "int": 42,
    "negative": -7,
    "max_safe": 2**53 - 1,
    "min_safe": -(2**53 - 1),
    "float": 1.5,
    "small_float": 1e-7,
    "negative_float": -2.25,
    "string": "hello",
    "empty_string": "",
    "unicode": "héllo wörld ✓ 日本語 😀 \u2028\u2029",
    "escapes": 'quote " backslash \\ slash / newline \n tab \t nul-free \x01\x1f',
    "html": "<script>alert('x') & </script>",
    "empty_list": [],
    "empty_object": {},
    "list": [1, "two", None, True, 3.5, [], {}],
    "object": {"a": 1, "b": {"c": [1, 2, {"d": "e"}]}},
    "ünïcødé kéy ✓": "unicode key",
    "": "empty key",
}

#: Session ids that break naive stores: glob and regex characters, SQL and SurrealQL,
#: separators, whitespace, unicode, and a 1 KiB id.
HOSTILE_SIDS: list[str] = [
    "*",
    "?",
    "[a-z]",
    "a*",
    "sess:*",
    "\\",
    "\\*",
    "%",
    "_",
    "a%b_c",
    ".*",
    "^$",
    "(a|b)+",
    "{1,2}",
    "'",
    '"',
    "';",
    "' OR '1'='1",
    "x'); DROP TABLE sessions; --",
    "a; DELETE user_session; SELECT * FROM user_session WHERE id = 'x",
    "⟨angle⟩",
    "`tick`",
    "user_session:abc",
    "$param",
    "/",
    "a/b/../c",
    ".",
    "..",
    " ",
    "with space",
    " lead-and-trail ",
    "tab\there",
    "ünïcødé-✓-日本語-😀",
    "emoji😀",
    "x" * 1024,
]
