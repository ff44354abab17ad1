"""connectstore: the connect / express-session session-store interface, in Python.

The public API is what this module exports; adapters and third-party stores use nothing else.
"""

from connectstore.blocking import BlockingStore
from connectstore.breaker import CircuitBreaker
from connectstore.cookie import (
    DEFAULT_TTL,
    Cookie,
    format_expires,
    is_expired,
    now_ms,
    parse_expires,
    session_expires,
    ttl_seconds,
)
from connectstore.cookies import parse_cookie_header
from connectstore.engine import CookieOptions, RequestInfo, RequestSessions, SessionEngine
from connectstore.errors import (
    SerializationError,
    SessionDecodeError,
    SessionTooLargeError,
    StoreError,
    StoreUnavailableError,
    StoreURLError,
    UnsupportedOperationError,
)
from connectstore.memory import MemoryStore
from connectstore.redaction import REDACTED, Credentials, redact_url, url_credentials
from connectstore.serializer import JSONSerializer, Serializer, SessionData, decode_session
from connectstore.session import Session, SessionNotFoundError, session_hash
from connectstore.signing import (
    decode_uri_component,
    encode_uri_component,
    generate_sid,
    sign,
    sign_cookie,
    unsign,
    unsign_cookie,
)
from connectstore.store import CAPABILITIES, Store, capabilities, supports
from connectstore.timeouts import within
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
    "MemoryStore",
    "RequestInfo",
    "RequestSessions",
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
    "UnsupportedOperationError",
    "capabilities",
    "decode_session",
    "decode_uri_component",
    "encode_uri_component",
    "format_expires",
    "generate_sid",
    "installed_schemes",
    "is_expired",
    "now_ms",
    "open_store",
    "parse_cookie_header",
    "parse_expires",
    "redact_url",
    "session_expires",
    "session_hash",
    "sign",
    "sign_cookie",
    "supports",
    "ttl_seconds",
    "unsign",
    "unsign_cookie",
    "url_credentials",
    "within",
]
