"""``sqlite://`` store URLs for :func:`connectstore.open_store`.

* ``sqlite:///sessions.db``: a file relative to the current directory;
* ``sqlite:////var/lib/app/sessions.db``: an absolute path (four slashes);
* ``sqlite://:memory:``: a private in-memory database.

Query parameters set the store's options, under the constructor's names, read by
:class:`connectstore.URLOptions`: ``?table=sessions&ttl=86400&sweep_interval=900&timeout=5
&batch_size=500&synchronous=NORMAL`` (``sweep_interval=none`` or ``off`` turns the
background sweep off). Keyword options given to :func:`open_from_url` win over the URL's.
Anything else in the URL (a host, user info, a ``#fragment``, an unknown or repeated
option) is a :class:`~connectstore.StoreURLError`, whose message never repeats a password,
a fragment or the value of an unknown option (a SQLite URL holds no credential, but one
pasted into it by mistake is not repeated).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from connectstore import REDACTED, StoreURLError, URLOptions, open_with_options, redact_url
from connectstore.url_options import number, optional_seconds, positive_number, positive_whole_number, text
from connectstore_sqlite.store import SQLiteStore

__all__ = ["OPTIONS", "embedded_target", "open_from_url", "options_from_url"]

OPTIONS = URLOptions(
    {
        "table": text,
        "ttl": positive_number,
        "sweep_interval": optional_seconds,
        "timeout": number,
        "batch_size": positive_whole_number,
        "synchronous": text,
    }
)
"""The query options of a ``sqlite://`` URL: the store's own, under the constructor's names."""


def open_from_url(url: str, **options: Any) -> SQLiteStore:
    """The ``connectstore.stores`` entry point: a :class:`SQLiteStore` for ``url`` (no I/O yet).

    ``options`` win over the URL's; an option the store refuses is a StoreURLError.
    """
    path, from_url = options_from_url(url)
    return open_with_options(SQLiteStore, path, url=url, from_url=from_url, options=options)


def options_from_url(url: str) -> tuple[str, dict[str, Any]]:
    """Split a ``sqlite://`` URL into the database path and the constructor options it sets."""
    if not isinstance(url, str):
        raise TypeError(f"a store URL is a str, not {type(url).__name__}")
    shown = _shown(url)
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "sqlite":
        raise StoreURLError(f"{shown!r} is not a sqlite:// URL")
    if "#" in rest:
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
    return path, OPTIONS.parse(query, shown=shown)


def _shown(url: str) -> str:
    """``url`` as messages show it: :func:`connectstore.redact_url` of it, without its
    ``#fragment`` and with the values of unknown options masked too.
    """
    redacted = redact_url(url).partition("#")[0]
    location, question, query = redacted.partition("?")
    shown = []
    for part in query.split("&") if query else []:
        name, equals, _ = part.partition("=")
        shown.append(part if name in OPTIONS.names else f"{name}{equals}{REDACTED}")
    return f"{location}{question}{'&'.join(shown)}"


def embedded_target(workdir: str) -> str:
    """The ``connectstore.embedded`` entry point: the URL of a new SQLite file in ``workdir``,
    what ``connectstore check`` checks when it is given no target.
    """
    return f"sqlite:///{workdir}/connectstore-check.db"
