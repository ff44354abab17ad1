"""Operations on any store: counting, listing, inspecting, removing, revoking, pruning and
copying sessions, over the store contract alone (the ``connectstore`` subcommands ``stats``,
``ls``, ``show``, ``rm``, ``revoke``, ``prune`` and ``copy`` call these).

Every function takes an open :class:`~connectstore.Store`; those that scan need its
``items`` capability and raise :class:`~connectstore.UnsupportedOperationError` without it.
"""

from __future__ import annotations

from connectstore.operations.common import DEFAULT_USER_KEY, Progress, session_size, user_of, user_text
from connectstore.operations.copying import CopyReport, copy, is_empty
from connectstore.operations.inspect import SessionInfo, redact, sessions
from connectstore.operations.removal import prune, remove, revoke
from connectstore.operations.stats import Stats, percentile, stats

__all__ = [
    "DEFAULT_USER_KEY",
    "CopyReport",
    "Progress",
    "SessionInfo",
    "Stats",
    "copy",
    "is_empty",
    "percentile",
    "prune",
    "redact",
    "remove",
    "revoke",
    "session_size",
    "sessions",
    "stats",
    "user_of",
    "user_text",
]
