"""Keeping credentials out of every message, repr and log line the store writes.

A store learns its secrets where they come in (the URL's password, ``?password=``,
``?ssl_password=``, the password of a client passed in) and scrubs them from any text it
builds from a driver's error, so an error message can quote redis-py without quoting a
password redis-py might have put in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, unquote

__all__ = ["MASK", "Secrets"]

MASK = "***"
"""What a credential is replaced with."""


class Secrets:
    """The credentials one store knows, each in its raw, percent-decoded and encoded form."""

    __slots__ = ("_values",)

    def __init__(self, values: Iterable[object] = ()) -> None:
        forms: set[str] = set()
        for value in values:
            if isinstance(value, str) and value:
                forms.update({value, unquote(value), quote(value, safe=""), quote(unquote(value), safe="")})
        # longest first, so that a secret containing another is masked whole
        self._values = tuple(sorted((form for form in forms if form), key=len, reverse=True))

    def __bool__(self) -> bool:
        return bool(self._values)

    def __add__(self, other: Secrets) -> Secrets:
        both = Secrets()
        both._values = tuple(sorted({*self._values, *other._values}, key=len, reverse=True))
        return both

    def scrub(self, text: str) -> str:
        """``text`` with every known credential replaced by :data:`MASK`."""
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text
