"""connectstore-surrealdb: express-session sessions in SurrealDB.

``SurrealDBStore`` keeps one record per session with a real ``expires`` datetime, never
returns an expired session, and can sweep expired records in the background without ever
touching a live one. It works over a server (``ws://``, ``http://``) or the engine embedded
in the ``surrealdb`` SDK (``mem://``, ``surrealkv://``), and reconnects by itself.
"""

from connectstore_surrealdb.auth import Auth, DatabaseAuth, NamespaceAuth, RootAuth, TokenAuth
from connectstore_surrealdb.store import SurrealDBStore
from connectstore_surrealdb.url import open_from_url, options_from_url

__version__ = "0.1.0"

__all__ = [
    "Auth",
    "DatabaseAuth",
    "NamespaceAuth",
    "RootAuth",
    "SurrealDBStore",
    "TokenAuth",
    "open_from_url",
    "options_from_url",
]
