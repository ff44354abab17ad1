"""connectstore: the connect / express-session session-store interface, in Python.

The public API is what this module exports; adapters and third-party stores use nothing else.

``import connectstore`` loads none of it yet: each name is imported from its module on first
use (PEP 562), so that a program pays only for what it touches (the engine does not need
``BlockingStore``'s threads, nor ``open_store``'s entry points).
"""

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from connectstore.blocking import BlockingStore
    from connectstore.breaker import CircuitBreaker
    from connectstore.cookie import Cookie
    from connectstore.engine import CookieOptions, RequestInfo, SessionEngine
    from connectstore.errors import (
        SerializationError,
        SessionConflictError,
        SessionDecodeError,
        SessionNotFoundError,
        SessionTooLargeError,
        StoreError,
        StoreUnavailableError,
        StoreURLError,
        UnsupportedOperationError,
    )
    from connectstore.expiry import DEFAULT_TTL, expiry_ms, is_expired, now_ms, session_expires, ttl_seconds
    from connectstore.listing import ListingFromItems, decode_listed
    from connectstore.memory import MemoryStore
    from connectstore.redaction import REDACTED, Credentials, redact_url, url_credentials
    from connectstore.request_session import RequestSession
    from connectstore.serializer import JSONSerializer, Serializer, SessionData, decode_session
    from connectstore.session import Session
    from connectstore.store import (
        CAPABILITIES,
        NO_VERSION,
        Store,
        Versioned,
        capabilities,
        check_sid,
        supports,
    )
    from connectstore.sweep import Sweep
    from connectstore.timeouts import within
    from connectstore.url_options import URLOptions, open_with_options
    from connectstore.urls import ENTRY_POINT_GROUP, installed_schemes, open_store

__version__ = "0.1.0"

#: Where each public name lives: module (under ``connectstore.``) -> names.
_MODULES: dict[str, tuple[str, ...]] = {
    "blocking": ("BlockingStore",),
    "breaker": ("CircuitBreaker",),
    "cookie": ("Cookie",),
    "engine": ("CookieOptions", "RequestInfo", "SessionEngine"),
    "errors": (
        "SerializationError",
        "SessionConflictError",
        "SessionDecodeError",
        "SessionNotFoundError",
        "SessionTooLargeError",
        "StoreError",
        "StoreUnavailableError",
        "StoreURLError",
        "UnsupportedOperationError",
    ),
    "expiry": ("DEFAULT_TTL", "expiry_ms", "is_expired", "now_ms", "session_expires", "ttl_seconds"),
    "listing": ("ListingFromItems", "decode_listed"),
    "memory": ("MemoryStore",),
    "redaction": ("REDACTED", "Credentials", "redact_url", "url_credentials"),
    "request_session": ("RequestSession",),
    "serializer": ("JSONSerializer", "Serializer", "SessionData", "decode_session"),
    "session": ("Session",),
    "store": ("CAPABILITIES", "NO_VERSION", "Store", "Versioned", "capabilities", "check_sid", "supports"),
    "sweep": ("Sweep",),
    "timeouts": ("within",),
    "url_options": ("URLOptions", "open_with_options"),
    "urls": ("ENTRY_POINT_GROUP", "installed_schemes", "open_store"),
}

if not TYPE_CHECKING:  # type checkers see the imports above instead
    from connectstore.lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, _MODULES, globals())


__all__ = [
    "CAPABILITIES",
    "DEFAULT_TTL",
    "ENTRY_POINT_GROUP",
    "NO_VERSION",
    "REDACTED",
    "BlockingStore",
    "CircuitBreaker",
    "Cookie",
    "CookieOptions",
    "Credentials",
    "JSONSerializer",
    "ListingFromItems",
    "MemoryStore",
    "RequestInfo",
    "RequestSession",
    "SerializationError",
    "Serializer",
    "Session",
    "SessionConflictError",
    "SessionData",
    "SessionDecodeError",
    "SessionEngine",
    "SessionNotFoundError",
    "SessionTooLargeError",
    "Store",
    "StoreError",
    "StoreURLError",
    "StoreUnavailableError",
    "Sweep",
    "URLOptions",
    "UnsupportedOperationError",
    "Versioned",
    "capabilities",
    "check_sid",
    "decode_listed",
    "decode_session",
    "expiry_ms",
    "installed_schemes",
    "is_expired",
    "now_ms",
    "open_store",
    "open_with_options",
    "redact_url",
    "session_expires",
    "supports",
    "ttl_seconds",
    "url_credentials",
    "within",
]
