"""Session ids <-> Redis keys: ``prefix + sid``, and the SCAN pattern that matches only them.

connect-redis passes its prefix to ``SCAN MATCH`` unescaped, so a prefix such as ``a?:``
or ``[x]`` also matches foreign keys (and ``clear()`` deletes them). Here every glob
character of the prefix is escaped, so the pattern matches exactly the keys that start
with the prefix.
"""

from __future__ import annotations

__all__ = ["GLOB_CHARACTERS", "KeySpace", "escape_glob"]

GLOB_CHARACTERS = frozenset("*?[]\\")
"""The characters Redis's glob matcher (``stringmatchlen``) gives a meaning to outside brackets."""


def escape_glob(text: str) -> str:
    """``text`` with every glob character backslash-escaped, so ``SCAN MATCH`` takes it literally."""
    return "".join("\\" + ch if ch in GLOB_CHARACTERS else ch for ch in text)


class KeySpace:
    """The keys of one store: ``prefix + sid``, encoded as UTF-8.

    Session ids are encoded with ``surrogatepass`` so that any Python string round-trips;
    express-session ids are plain ASCII.
    """

    __slots__ = ("_prefix_text", "pattern", "prefix")

    def __init__(self, prefix: str) -> None:
        self.prefix: bytes = prefix.encode("utf-8", "surrogatepass")
        self._prefix_text = prefix
        self.pattern: bytes = (escape_glob(prefix) + "*").encode("utf-8", "surrogatepass")
        """``SCAN MATCH`` pattern: every key that starts with the prefix, and nothing else."""

    def key(self, sid: str) -> bytes:
        """The Redis key of session ``sid``."""
        return self.prefix + sid.encode("utf-8", "surrogatepass")

    def sid(self, key: bytes | str) -> str | None:
        """The session id of ``key``, or None for a key that is not one of this store's.

        ``key`` is bytes, or str when the client decodes responses.
        """
        if isinstance(key, str):
            return key[len(self._prefix_text) :] if key.startswith(self._prefix_text) else None
        if not key.startswith(self.prefix):
            return None
        try:
            return key[len(self.prefix) :].decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return None
