"""Store URLs: ``open_store("surrealdb+ws://root:secret@db:8000/rpc?namespace=app")``.

``surrealdb+<scheme>://...`` opens a :class:`SurrealDBStore` on the SDK URL ``<scheme>://...``
(``ws``, ``wss``, ``http``, ``https``, ``mem``, ``surrealkv``); plain ``surrealdb://`` means
``ws://``. Credentials in the URL sign in as a root user, or as a namespace or database
user with ``?auth=namespace`` / ``?auth=database``; ``?token=...`` authenticates with a
token. The other query parameters are the store's options. Every error names the URL
with its password and token replaced by ``***``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from connectstore import StoreURLError, redact_url, url_credentials
from connectstore_surrealdb.auth import Auth, DatabaseAuth, NamespaceAuth, RootAuth, TokenAuth
from connectstore_surrealdb.store import REMOTE_SCHEMES, SCHEMES, SurrealDBStore

__all__ = ["open_from_url", "options_from_url"]

_CONVERTERS: dict[str, Any] = {
    "namespace": str,
    "database": str,
    "table": str,
    "ttl": float,
    "timeout": float,
    "sweep_interval": float,
    "page_size": int,
    "failure_threshold": int,
    "retry_interval": float,
    "auto_sweep_expired": lambda text: _flag(text),
}
_ALIASES = {"ns": "namespace", "db": "database"}


def open_from_url(url: str, **options: Any) -> SurrealDBStore:
    """The ``connectstore.stores`` entry point: a store for ``url``; ``options`` win over the URL's."""
    sdk_url, from_url = options_from_url(url)
    try:
        return SurrealDBStore(sdk_url, **{**from_url, **options})
    except StoreURLError:
        raise
    except ValueError as exc:  # a bad table, namespace, ttl...: the URL is what is wrong
        raise StoreURLError(url_credentials(url).scrub(f"{redact_url(url)!r}: {exc}")) from None


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
    options: dict[str, Any] = {}
    auth_level = "root"
    token: str | None = None
    for raw_key, value in parse_qsl(parts.query, keep_blank_values=True):
        key = _ALIASES.get(raw_key, raw_key)
        if key == "auth":
            auth_level = value
        elif key == "token":
            token = value
        elif key in _CONVERTERS:
            try:
                options[key] = _CONVERTERS[key](value)
            except ValueError as exc:
                raise StoreURLError(
                    f"bad value {value!r} for {raw_key} in the store URL {redact_url(url)!r}: {exc}"
                ) from None
        else:
            raise StoreURLError(
                f"unknown option {raw_key!r} in the SurrealDB store URL {redact_url(url)!r}; "
                f"known: auth, token, "
                f"{', '.join(sorted(_CONVERTERS))}"
            )
    auth = _auth(userinfo if at else None, auth_level, token)
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


def _flag(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")
