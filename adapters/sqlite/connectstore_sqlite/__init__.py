"""connectstore-sqlite: express-session sessions in SQLite, sharing files with connect-sqlite3.

``SQLiteStore("sessions.db")`` or ``connectstore.open_store("sqlite:///sessions.db")``.
"""

from connectstore_sqlite.schema import check_table_name
from connectstore_sqlite.store import DEFAULT_BUSY_TIMEOUT, DEFAULT_CLEANUP_INTERVAL, SQLiteStore
from connectstore_sqlite.url import open_sqlite_store, parse_sqlite_url

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "DEFAULT_CLEANUP_INTERVAL",
    "SQLiteStore",
    "check_table_name",
    "open_sqlite_store",
    "parse_sqlite_url",
]
