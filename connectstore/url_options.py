"""Store-URL options, read the same way by every store: ``sqlite:///s.db?table=web&ttl=3600``.

A store's URL factory (the ``connectstore.stores`` entry point) splits its URL into what
locates the backend and the query's options, then builds the store. This module is the
shared half of that job, for the adapters of this repository and for third-party stores:

* :class:`URLOptions` reads the query: one converter per option (:func:`text`,
  :func:`number`, :func:`positive_number`, :func:`whole_number`,
  :func:`positive_whole_number`, :func:`flag`, :func:`optional_seconds`, or any
  ``str -> value`` callable that raises ``ValueError``), optional aliases; an unknown or
  repeated option is refused with :class:`~connectstore.StoreURLError`, and the value of
  an unknown option is never repeated (it may be a misplaced credential);
* :func:`open_with_options` builds the store: keyword options win over the URL's, and a
  ``ValueError`` of the constructor becomes a :class:`~connectstore.StoreURLError`
  naming the URL with its credentials masked.

Example, a store whose URL is ``files:///var/sessions?ttl=3600``::

    OPTIONS = URLOptions({"ttl": positive_number, "fsync": flag})

    def open_from_url(url: str, **options: Any) -> FileStore:
        parts = urlsplit(url)
        from_url = OPTIONS.parse(parts.query, shown=redact_url(url))
        return open_with_options(FileStore, parts.path, url=url, from_url=from_url, options=options)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote_plus

from connectstore.errors import StoreURLError
from connectstore.redaction import REDACTED, redact_url, url_credentials

__all__ = [
    "Converter",
    "URLOptions",
    "flag",
    "number",
    "open_with_options",
    "optional_seconds",
    "positive_number",
    "positive_whole_number",
    "text",
    "whole_number",
]

Converter = Callable[[str], Any]
"""Turns an option's text into its value; raises ``ValueError`` (with a short reason) when it cannot."""

_T = TypeVar("_T")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_NONE = frozenset({"none", "off", "null", ""})


def text(value: str) -> str:
    """The text as given."""
    return value


def number(value: str) -> float:
    """A finite number: ``2``, ``0.5``, ``1e3``."""
    try:
        parsed = float(value)
    except ValueError:
        raise ValueError("expected a number") from None
    if not math.isfinite(parsed):
        raise ValueError("expected a finite number")
    return parsed


def positive_number(value: str) -> float:
    """A finite number above zero (a lifetime, a timeout, in seconds)."""
    parsed = number(value)
    if not parsed > 0:
        raise ValueError("expected a number above 0")
    return parsed


def whole_number(value: str) -> int:
    """A whole number: ``0``, ``42``, ``-1``."""
    try:
        return int(value)
    except ValueError:
        raise ValueError("expected a whole number") from None


def positive_whole_number(value: str) -> int:
    """A whole number above zero (a batch size, a count)."""
    parsed = whole_number(value)
    if parsed < 1:
        raise ValueError("expected a whole number above 0")
    return parsed


def flag(value: str) -> bool:
    """A yes/no option: ``true``/``false``, ``1``/``0``, ``yes``/``no``, ``on``/``off``."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("expected true or false")


def optional_seconds(value: str) -> float | None:
    """Seconds above zero, or ``none``/``off``/empty for "never" (a sweep interval)."""
    if value.strip().lower() in _NONE:
        return None
    return positive_number(value)


@dataclass(frozen=True)
class URLOptions:
    """The query options a store URL may carry, each with its converter.

    ``aliases`` maps another accepted name to an option's name (``{"db": "database"}``);
    an option given under both names counts as given twice.
    """

    converters: Mapping[str, Converter]
    aliases: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = {target for target in self.aliases.values() if target not in self.converters}
        if unknown:
            raise ValueError(f"aliases name options that have no converter: {sorted(unknown)}")

    @property
    def names(self) -> list[str]:
        """Every accepted name, sorted: the options and their aliases."""
        return sorted({*self.converters, *self.aliases})

    def parse(self, query: str, *, shown: str) -> dict[str, Any]:
        """The options of a URL's query string (the part after ``?``), converted.

        ``shown`` is how messages name the URL: pass :func:`~connectstore.redact_url` of it;
        the value of an option this reader does not know is masked in it too (a misspelt
        ``pasword=...`` is still a password). Raises :class:`~connectstore.StoreURLError`
        for an unknown option (listing the known ones), an option given twice, or a value
        its converter refuses.
        """
        shown = self._mask_unknown(shown, query)
        options: dict[str, Any] = {}
        for given, value in parse_qsl(query, keep_blank_values=True):
            name = self.aliases.get(given, given)
            convert = self.converters.get(name)
            if convert is None:
                raise StoreURLError(
                    f"unknown option {given!r} in the store URL {shown!r}; known: {', '.join(self.names)}"
                )
            if name in options:
                raise StoreURLError(f"option {given!r} is given twice in the store URL {shown!r}")
            try:
                options[name] = convert(value)
            except ValueError as exc:
                raise StoreURLError(f"option {given!r} in the store URL {shown!r}: {exc}") from None
        return options

    def _mask_unknown(self, shown: str, query: str) -> str:
        """``shown`` with ``name=***`` for every option of ``query`` whose name is not known."""
        for part in query.split("&"):
            name, equals, value = part.partition("=")
            if value and unquote_plus(name) not in self.names and part in shown:
                shown = shown.replace(part, f"{name}{equals}{REDACTED}")
        return shown


def open_with_options(
    factory: Callable[..., _T],
    *args: Any,
    url: str,
    from_url: Mapping[str, Any],
    options: Mapping[str, Any],
) -> _T:
    """``factory(*args, **from_url, **options)``: keyword options win over the URL's.

    A ``ValueError`` or ``TypeError`` of the factory (an option it refuses) becomes a
    :class:`~connectstore.StoreURLError` naming ``url`` with its credentials masked; the
    original error is not chained, as its text may quote a credential.
    """
    try:
        return factory(*args, **{**from_url, **options})
    except StoreURLError:
        raise
    except (ValueError, TypeError) as exc:
        message = url_credentials(url).scrub(f"{redact_url(url)!r}: {exc}")
    raise StoreURLError(message)
