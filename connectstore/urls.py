"""Store URLs: ``open_store("redis://localhost/0")`` builds the right store.

A URL's scheme names an entry point in the group ``connectstore.stores``; its value is a
factory ``factory(url, **options) -> Store``. Adapters (and third-party stores) register
their schemes there; ``memory://`` is built in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from connectstore.errors import StoreError, StoreURLError
from connectstore.memory import MemoryStore
from connectstore.redaction import Credentials, is_credential_name, url_credentials
from connectstore.store import Store

if TYPE_CHECKING:
    from importlib.metadata import EntryPoints

__all__ = ["ENTRY_POINT_GROUP", "StoreURLFactory", "installed_schemes", "open_store"]

ENTRY_POINT_GROUP = "connectstore.stores"
StoreURLFactory = Callable[..., Store]
"""``factory(url, **options) -> Store``: what an entry point in the group names."""


def open_memory_store(url: str, **options: Any) -> MemoryStore:
    """``memory://`` (optionally ``memory://?ttl=SECONDS``): a new, empty :class:`MemoryStore`."""
    query = dict(parse_qsl(urlsplit(url).query))
    unknown = set(query) - {"ttl"}
    if unknown:
        raise StoreURLError(f"memory:// takes no option {sorted(unknown)}")
    if "ttl" in query and "ttl" not in options:
        options["ttl"] = _positive_seconds(query["ttl"])
    return MemoryStore(**options)


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (0 < seconds < math.inf):
        raise StoreURLError(f"memory:// option ttl must be a positive number of seconds, not {text!r}")
    return seconds


_BUILT_IN: dict[str, StoreURLFactory] = {"memory": open_memory_store}


def installed_schemes() -> dict[str, str]:
    """Every scheme ``open_store`` knows, mapped to where its factory lives."""
    found = {name: f"{factory.__module__}:{factory.__qualname__}" for name, factory in _BUILT_IN.items()}
    for point in _entry_points():
        found.setdefault(point.name, point.value)
    return dict(sorted(found.items()))


def open_store(url: str, **options: Any) -> Store:
    """Build the store a URL names; ``options`` go to the store's constructor.

    Raises :class:`~connectstore.StoreURLError` for a URL without a scheme, with a scheme
    no installed distribution registers (the message lists the installed ones), or that
    its store refuses (a ``ValueError`` of the factory becomes a ``StoreURLError``). No
    message repeats a credential of the URL or of ``options`` (those named as in
    :func:`~connectstore.redaction.is_credential_name`): they are masked in the factory's
    errors too, whose driver-level cause is then not chained.
    """
    if not isinstance(url, str):
        raise TypeError(f"a store URL is a str, not {type(url).__name__}")
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme or not scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
        # The text may be a credential pasted in the wrong place: it is not repeated.
        raise StoreURLError("not a store URL: expected scheme://... (e.g. redis://localhost/0, memory://)")
    scheme = scheme.lower()
    factory = _BUILT_IN.get(scheme)
    if factory is None:
        matches = [point for point in _entry_points() if point.name == scheme]
        if not matches:
            known = ", ".join(f"{name}://" for name in installed_schemes())
            raise StoreURLError(f"no store is installed for {scheme}://; installed schemes: {known}")
        factory = matches[0].load()
    credentials = url_credentials(url) + Credentials(
        value for name, value in options.items() if is_credential_name(name)
    )
    try:
        store = factory(url, **options)
    except StoreError as exc:
        error = _without_credentials(exc, credentials)
    except ValueError as exc:
        refused = StoreURLError(f"{scheme}:// refused its URL or options: {exc}")
        refused.__cause__ = exc
        error = _without_credentials(refused, credentials)
    else:
        if not isinstance(store, Store):
            raise StoreURLError(f"the factory for {scheme}:// returned {type(store).__name__}, not a Store")
        return store
    raise error  # outside the handler: no implicit __context__ (it may show a credential)


def _without_credentials(error: StoreError, credentials: Credentials) -> StoreError:
    """``error`` with ``credentials`` masked in its message; its cause and context are
    dropped when a traceback of them would show a credential.
    """
    text = str(error)
    if credentials.scrub(text) != text:
        error.args = (credentials.scrub(text),)
    if error.__cause__ is not None and _shows(error.__cause__, credentials):
        error.__cause__ = None
    if error.__context__ is not None and _shows(error.__context__, credentials):
        error.__context__ = None
    return error


def _shows(exc: BaseException, credentials: Credentials) -> bool:
    """Whether the traceback of ``exc`` (its causes and contexts included) shows a credential."""
    import traceback

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return credentials.scrub(text) != text


def _entry_points() -> EntryPoints:
    """The installed store factories (``importlib.metadata`` is imported when first needed)."""
    from importlib.metadata import entry_points

    return entry_points(group=ENTRY_POINT_GROUP)
