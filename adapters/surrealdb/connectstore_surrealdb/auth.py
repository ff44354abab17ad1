"""How the store signs in to SurrealDB: a root, namespace or database user, or a token.

These mirror connect-surreal's ``signinOpts`` / ``connectionOpts.authentication``. The store
signs in again with the same credentials after every reconnection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Auth", "DatabaseAuth", "NamespaceAuth", "RootAuth", "TokenAuth"]


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
