"""connectstore: the connect / express-session session-store interface, in Python.

The public API is what this module exports; adapters and third-party stores use nothing else.
"""

from connectstore.blocking import BlockingStore
from connectstore.breaker import CircuitBreaker
from connectstore.cookie import Cookie
from connectstore.engine import CookieOptions, RequestInfo, SessionEngine
from connectstore.errors import (
    SerializationError,
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
from connectstore.store import CAPABILITIES, Store, capabilities, check_sid, supports
from connectstore.sweep import Sweep
from connectstore.timeouts import within
from connectstore.url_options import URLOptions, open_with_options
from connectstore.urls import ENTRY_POINT_GROUP, installed_schemes, open_store

__version__ = "0.1.0"

__all__ = [
    "CAPABILITIES",
    "DEFAULT_TTL",
    "ENTRY_POINT_GROUP",
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
