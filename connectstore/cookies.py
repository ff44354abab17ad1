"""Reading the ``Cookie`` request header as express-session (the ``cookie`` npm package) does."""

from __future__ import annotations

from collections.abc import Iterable

from connectstore.signing import decode_uri_component

__all__ = ["parse_cookie_header"]


def parse_cookie_header(headers: str | Iterable[str] | None) -> dict[str, str]:
    """Name -> value for every cookie in one or several ``Cookie`` headers.

    Values are URL-decoded (a malformed escape keeps the raw value) and unquoted; for a
    name that appears more than once, the **first** occurrence wins, as in express-session.
    """
    if headers is None:
        return {}
    text = headers if isinstance(headers, str) else "; ".join(headers)
    cookies: dict[str, str] = {}
    for pair in text.split(";"):
        name, sep, value = pair.partition("=")
        if not sep:
            continue
        name = name.strip()
        if not name or name in cookies:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        cookies[name] = decode_uri_component(value)
    return cookies
