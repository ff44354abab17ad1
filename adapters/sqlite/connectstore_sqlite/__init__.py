"""connectstore-sqlite: express-session sessions in SQLite, sharing files with connect-sqlite3.

``SQLiteStore("sessions.db")`` or ``connectstore.open_store("sqlite:///sessions.db")``.
"""

from connectstore_sqlite.queries import check_table_name
from connectstore_sqlite.store import DEFAULT_BATCH_SIZE, DEFAULT_SWEEP_INTERVAL, DEFAULT_TIMEOUT, SQLiteStore
from connectstore_sqlite.url import open_from_url, options_from_url

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_SWEEP_INTERVAL",
    "DEFAULT_TIMEOUT",
    "SQLiteStore",
    "check_table_name",
    "open_from_url",
    "options_from_url",
]
