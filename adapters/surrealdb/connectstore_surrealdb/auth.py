"""How the store signs in to SurrealDB: a root, namespace or database user, or a token.

These mirror connect-surreal's ``signinOpts`` / ``connectionOpts.authentication``, which
are the SurrealDB JavaScript SDK's auth objects; :func:`auth_from` also takes those
mappings as they are. The store signs in again with the same credentials after every
reconnection. No repr of these classes shows a password or a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ACCEPTED_FORMS", "Auth", "DatabaseAuth", "NamespaceAuth", "RootAuth", "TokenAuth", "auth_from"]


@dataclass(frozen=True)
class RootAuth:
    """A root user (``DEFINE USER ... ON ROOT``)."""

    username: str
    password: str = field(repr=False)

    def signin_params(self, namespace: str, database: str) -> dict[str, str]:
        """The parameters of the RPC ``signin`` call."""
        return {"username": self.username, "password": self.password}


@dataclass(frozen=True)
class NamespaceAuth:
    """A namespace user; ``namespace`` defaults to the store's namespace."""

    username: str
    password: str = field(repr=False)
    namespace: str | None = None

    def signin_params(self, namespace: str, database: str) -> dict[str, str]:
        """The parameters of the RPC ``signin`` call."""
        return {
            "namespace": self.namespace or namespace,
            "username": self.username,
            "password": self.password,
        }


@dataclass(frozen=True)
class DatabaseAuth:
    """A database user; ``namespace``/``database`` default to the store's own."""

    username: str
    password: str = field(repr=False)
    namespace: str | None = None
    database: str | None = None

    def signin_params(self, namespace: str, database: str) -> dict[str, str]:
        """The parameters of the RPC ``signin`` call."""
        return {
            "namespace": self.namespace or namespace,
            "database": self.database or database,
            "username": self.username,
            "password": self.password,
        }


@dataclass(frozen=True)
class TokenAuth:
    """A token (JWT) obtained elsewhere, passed to the RPC ``authenticate`` call."""

    token: str = field(repr=False)


Auth = RootAuth | NamespaceAuth | DatabaseAuth | TokenAuth
"""Any of the ways to authenticate; ``None`` in the store's options means "do not sign in"."""

ACCEPTED_FORMS = (
    "None, RootAuth, NamespaceAuth, DatabaseAuth, TokenAuth, or a mapping as connect-surreal's "
    "signinOpts takes it: {'username', 'password'} (root), {'namespace', 'username', 'password'} "
    "(namespace user), {'namespace', 'database', 'username', 'password'} (database user), "
    "{'token'} (a token); 'user'/'pass' and 'NS'/'DB' are accepted for "
    "'username'/'password' and 'namespace'/'database'"
)
"""What the ``auth`` option accepts, as the store's TypeError names it."""

_ALIASES = {"user": "username", "pass": "password", "NS": "namespace", "DB": "database"}
_SHAPES: dict[frozenset[str], type[RootAuth | NamespaceAuth | DatabaseAuth | TokenAuth]] = {
    frozenset({"username", "password"}): RootAuth,
    frozenset({"namespace", "username", "password"}): NamespaceAuth,
    frozenset({"namespace", "database", "username", "password"}): DatabaseAuth,
    frozenset({"token"}): TokenAuth,
}


def auth_from(value: object) -> Auth | None:
    """The store's ``auth`` option as an :data:`Auth` (or None); TypeError for anything else.

    A mapping is read as connect-surreal's ``signinOpts`` (the SurrealDB SDK's auth object):
    its keys decide the kind of user. Error messages name keys and types, never values.
    """
    if value is None or isinstance(value, (RootAuth, NamespaceAuth, DatabaseAuth, TokenAuth)):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"auth must be one of: {ACCEPTED_FORMS}; not a {type(value).__name__}")
    names = [_ALIASES.get(key, key) if isinstance(key, str) else key for key in value]
    shape = _SHAPES.get(frozenset(names)) if len(set(names)) == len(names) else None
    if shape is None:
        keys = ", ".join(repr(key) for key in value)
        raise TypeError(f"an auth mapping with the keys {keys} is not one of: {ACCEPTED_FORMS}")
    fields: dict[str, str] = {}
    for key, name in zip(value, names, strict=True):
        item = value[key]
        if not isinstance(item, str):
            raise TypeError(
                f"auth[{key!r}] must be a str, not {type(item).__name__}; auth is one of: {ACCEPTED_FORMS}"
            )
        fields[name] = item
    return shape(**fields)
