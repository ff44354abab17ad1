"""The one exception hierarchy of connectstore.

Every error a store, the serializer or the session machinery raises on purpose is a
:class:`StoreError`, so an application can catch the whole family with one clause and
still tell the cases apart.
"""

from __future__ import annotations

__all__ = [
    "SerializationError",
    "SessionConflictError",
    "SessionDecodeError",
    "SessionNotFoundError",
    "SessionTooLargeError",
    "StoreError",
    "StoreURLError",
    "StoreUnavailableError",
    "UnsupportedOperationError",
]


class StoreError(Exception):
    """Base class of every error raised by connectstore and its stores."""


class StoreUnavailableError(StoreError, ConnectionError):
    """The backend could not be reached or did not answer within the store's timeout.

    Raised instead of hanging: the call failed fast, nothing was written by it that the
    store knows of, and the same store works again once the backend is back.
    """


class SessionDecodeError(StoreError, ValueError):
    """Stored data for a session could not be decoded (corrupt JSON, not an object...).

    ``sid`` names the session whose record is bad (``None`` when unknown); other
    sessions are not affected.
    """

    def __init__(self, message: str, *, sid: str | None = None) -> None:
        self.sid = sid
        if sid is not None:
            message = f"session {sid!r}: {message}"
        super().__init__(message)


class SessionNotFoundError(StoreError, LookupError):
    """``session.reload()`` found no session under the id any more (express-session's
    "failed to load session").
    """


class SessionConflictError(StoreError, RuntimeError):
    """Another request changed (or destroyed) the session between this request's read and
    its write, and this request's changes were not written.

    Raised by the engine with ``on_conflict="raise"``, and with ``"merge"`` when the session
    kept changing through every retry. The store holds the other request's session; the
    application may retry the whole request. ``sid`` names the session.
    """

    def __init__(self, sid: str, message: str = "another request changed the session first") -> None:
        self.sid = sid
        super().__init__(message)


class SerializationError(StoreError, ValueError):
    """A session value cannot be carried faithfully as JSON to a Node reader.

    Raised by ``set``/``touch`` before anything is written. ``path`` locates the value
    inside the session, e.g. ``$.cart[2].price``.
    """

    def __init__(self, message: str, *, path: str = "$") -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class SessionTooLargeError(StoreError, ValueError):
    """A session's stored form is larger than the engine's ``max_session_bytes``.

    Raised before anything is written: the store keeps what it had. ``size`` is the
    session's stored form in bytes (its JSON, UTF-8), ``limit`` the bound it exceeds.
    """

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"the session is {size} bytes when stored, over max_session_bytes={limit}")


class UnsupportedOperationError(StoreError, NotImplementedError):
    """An optional store method was called on a store that does not support it."""

    def __init__(self, store: object, method: str) -> None:
        self.store_name = type(store).__name__
        self.method = method
        super().__init__(f"{self.store_name} does not support {method}()")


class StoreURLError(StoreError, ValueError):
    """A store URL could not be opened: unknown scheme or malformed URL."""
