"""``sqlite://`` store URLs for :func:`connectstore.open_store`.

* ``sqlite:///sessions.db``: a file relative to the current directory;
* ``sqlite:////var/lib/app/sessions.db``: an absolute path (four slashes);
* ``sqlite://:memory:``: a private in-memory database.

Query parameters set options: ``?table=sessions&ttl=86400&cleanup_interval=900&busy_timeout=5
&synchronous=NORMAL`` (``cleanup_interval=none`` turns the background sweep off). Keyword
options given to ``open_store`` win over the URL's. Anything else in the URL (a host,
user info, a ``#fragment``, an unknown or repeated option) is a :class:`StoreURLError`,
whose message never repeats user info or the value of an unknown option.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

from connectstore import StoreURLError
from connectstore_sqlite.store import SQLiteStore

__all__ = ["open_sqlite_store", "parse_sqlite_url", "redact_sqlite_url"]


def _number(value: str) -> float:
    return float(value)


def _optional_number(value: str) -> float | None:
    return None if value.lower() in ("none", "off", "0", "") else float(value)


_OPTIONS: Final[dict[str, Callable[[str], Any]]] = {
    "table": str,
    "ttl": _number,
    "cleanup_interval": _optional_number,
    "busy_timeout": _number,
    "synchronous": str,
}


def redact_sqlite_url(url: str) -> str:
    """``url`` as error messages show it: user info and the values of unknown options masked."""
    scheme, sep, rest = url.partition("://")
    rest = rest.partition("#")[0]
    location, question, query = rest.partition("?")
    if "@" in location:
        location = "***@" + location.rpartition("@")[2]
    shown = []
    for part in query.split("&") if query else []:
        key, equals, _ = part.partition("=")
        shown.append(part if key in _OPTIONS else f"{key}{equals}***")
    return f"{scheme}{sep}{location}{question}{'&'.join(shown)}"


def parse_sqlite_url(url: str) -> tuple[str, dict[str, Any]]:
    """Split a ``sqlite://`` URL into the database path and the constructor options it sets."""
    if not isinstance(url, str):
        raise TypeError(f"a store URL is a str, not {type(url).__name__}")
    shown = redact_sqlite_url(url)
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "sqlite":
        raise StoreURLError(f"{shown!r} is not a sqlite:// URL")
    rest, hash_sign, _fragment = rest.partition("#")
    if hash_sign:
        raise StoreURLError(f"{shown!r}: a sqlite:// URL takes no #fragment")
    location, _, query = rest.partition("?")
    if location in (":memory:", "/:memory:"):
        path = ":memory:"
    elif location.startswith("/") and len(location) > 1:
        path = unquote(location[1:])
    else:
        raise StoreURLError(
            f"{shown!r}: expected sqlite:///relative.db, sqlite:////absolute.db or sqlite://:memory: "
            "(no host or user info)"
        )
    options: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        convert = _OPTIONS.get(key)
        if convert is None:
            raise StoreURLError(f"{shown!r}: unknown option {key!r}; known: {', '.join(sorted(_OPTIONS))}")
        if key in options:
            raise StoreURLError(f"{shown!r}: option {key!r} is given twice")
        try:
            options[key] = convert(value)
        except ValueError:
            raise StoreURLError(f"{shown!r}: option {key}={value!r} is not a number") from None
    return path, options


def open_sqlite_store(url: str, **options: Any) -> SQLiteStore:
    """The ``connectstore.stores`` entry point: a :class:`SQLiteStore` for ``url`` (no I/O yet)."""
    path, from_url = parse_sqlite_url(url)
    try:
        return SQLiteStore(path, **{**from_url, **options})
    except ValueError as exc:
        raise StoreURLError(f"{redact_sqlite_url(url)!r}: {exc}") from exc
