"""Store URLs: ``open_store("surrealdb+ws://root:secret@db:8000/rpc?namespace=app")``.

``surrealdb+<scheme>://...`` opens a :class:`SurrealDBStore` on the SDK URL ``<scheme>://...``
(``ws``, ``wss``, ``http``, ``https``, ``mem``, ``surrealkv``); plain ``surrealdb://`` means
``ws://``. Credentials in the URL sign in as a root user, or as a namespace or database
user with ``?auth=namespace`` / ``?auth=database``; ``?token=...`` authenticates with a
token. The other query parameters are the store's options, under the constructor's names
(plus ``ns``/``db`` for ``namespace``/``database``), read by :class:`connectstore.URLOptions`;
keyword options of :func:`open_from_url` win over the URL's. Every error names the URL with
its password and token replaced by ``***``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from connectstore import StoreURLError, URLOptions, open_with_options, redact_url
from connectstore.url_options import (
    flag,
    number,
    optional_seconds,
    positive_number,
    positive_whole_number,
    text,
    whole_number,
)
from connectstore_surrealdb.auth import Auth, DatabaseAuth, NamespaceAuth, RootAuth, TokenAuth
from connectstore_surrealdb.store import REMOTE_SCHEMES, SCHEMES, SurrealDBStore

__all__ = ["OPTIONS", "open_from_url", "options_from_url"]

#: The query options of a store URL: the store's own, plus ``auth`` (the level of the URL's
#: user: root, namespace or database) and ``token`` (a token instead of a user).
OPTIONS = URLOptions(
    {
        "namespace": text,
        "database": text,
        "table": text,
        "ttl": positive_number,
        "timeout": positive_number,
        "sweep_interval": optional_seconds,
        "auto_sweep_expired": flag,
        "batch_size": positive_whole_number,
        "failure_threshold": whole_number,
        "retry_interval": number,
        "auth": text,
        "token": text,
    },
    aliases={"ns": "namespace", "db": "database"},
)


def open_from_url(url: str, **options: Any) -> SurrealDBStore:
    """The ``connectstore.stores`` entry point: a store for ``url``; ``options`` win over the URL's."""
    sdk_url, from_url = options_from_url(url)
    return open_with_options(SurrealDBStore, sdk_url, url=url, from_url=from_url, options=options)


def options_from_url(url: str) -> tuple[str, dict[str, Any]]:
    """Split a store URL into the SDK's URL (without credentials or options) and store options."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or not (scheme == "surrealdb" or scheme.startswith("surrealdb+")):
        raise StoreURLError(
            f"{redact_url(url)!r} is not a SurrealDB store URL (surrealdb+ws://, surrealdb+mem://...)"
        )
    sdk_scheme = scheme.partition("+")[2] or "ws"
    if sdk_scheme not in SCHEMES:
        raise StoreURLError(f"{scheme}:// is not supported; use surrealdb+<{'|'.join(sorted(SCHEMES))}>://")
    try:
        parts = urlsplit(f"{sdk_scheme}://{rest}")
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise StoreURLError(f"{redact_url(url)!r} is not a valid URL: {exc}") from None
    if sdk_scheme in REMOTE_SCHEMES and not parts.hostname:
        raise StoreURLError(f"{redact_url(url)!r} names no host")
    userinfo, at, host = parts.netloc.rpartition("@")
    options = OPTIONS.parse(parts.query, shown=redact_url(url))
    auth = _auth(userinfo if at else None, options.pop("auth", "root"), options.pop("token", None))
    if auth is not None:
        options["auth"] = auth
    return f"{sdk_scheme}://{host}{parts.path}", options


def _auth(userinfo: str | None, level: str, token: str | None) -> Auth | None:
    if token is not None:
        if userinfo is not None:
            raise StoreURLError("a SurrealDB store URL takes credentials or a token, not both")
        return TokenAuth(token)
    if userinfo is None:
        return None
    username, _, password = userinfo.partition(":")
    username, password = unquote(username), unquote(password)
    if level == "root":
        return RootAuth(username, password)
    if level == "namespace":
        return NamespaceAuth(username, password)
    if level == "database":
        return DatabaseAuth(username, password)
    raise StoreURLError(f"auth must be root, namespace or database, not {level!r}")
