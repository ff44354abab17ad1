"""The process-wide store and session engine of the Django integration, made from the
``CONNECTSTORE`` setting on first use and forgotten when a setting they depend on changes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from django.conf import settings  # type: ignore[import-untyped]
from django.core.signals import setting_changed  # type: ignore[import-untyped]
from django.utils.module_loading import import_string  # type: ignore[import-untyped]

from connectstore.blocking import BlockingStore
from connectstore.engine import SessionEngine
from connectstore.store import Store
from connectstore.timeouts import within
from connectstore.urls import open_store

__all__ = ["close_bridge", "get_bridge", "get_engine", "on_loop"]

T = TypeVar("T")

_lock = threading.Lock()
_bridge: BlockingStore | None = None
_owns_bridge = False
_engine: SessionEngine | None = None


def _config() -> Mapping[str, Any]:
    config = getattr(settings, "CONNECTSTORE", None)
    if not isinstance(config, Mapping) or "store" not in config:
        raise RuntimeError('settings.CONNECTSTORE must be a dict with a "store" entry')
    return config


def get_bridge() -> BlockingStore:
    """The process's :class:`~connectstore.BlockingStore`, made from ``CONNECTSTORE`` on first use."""
    global _bridge, _owns_bridge
    with _lock:
        if _bridge is None:
            config = _config()
            source = config["store"]
            options = dict(config.get("store_options") or {})
            if isinstance(source, BlockingStore):
                _bridge, _owns_bridge = source, False
            else:
                if isinstance(source, str):
                    url_or_path = source
                    if "://" in url_or_path:
                        source = lambda: open_store(url_or_path, **options)  # noqa: E731
                    else:
                        factory = import_string(url_or_path)
                        source = lambda: factory(**options)  # noqa: E731
                elif not isinstance(source, Store) and options:
                    made_by = source
                    source = lambda: made_by(**options)  # noqa: E731
                _bridge, _owns_bridge = BlockingStore(source, timeout=config.get("timeout", 30.0)), True
        return _bridge


def get_engine() -> SessionEngine:
    """The :class:`~connectstore.SessionEngine` of ``ConnectSessionMiddleware`` (and of the
    express-mode ``SESSION_ENGINE``), over the bridge's store.
    """
    global _engine
    bridge = get_bridge()
    store = bridge.store
    with _lock:
        # After a fork the bridge rebuilds its store in the child: an engine over the
        # parent's store would talk to a closed one.
        if _engine is None or _engine.store is not store:
            config = _config()
            secret = config.get("secret")
            if secret is None:
                secret = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())]
            _engine = SessionEngine(store, secret=secret, **dict(config.get("session") or {}))
        return _engine


def close_bridge() -> None:
    """Forget the bridge and the engine; close the bridge (and its store) if made here."""
    global _bridge, _owns_bridge, _engine
    with _lock:
        bridge, owned = _bridge, _owns_bridge
        _bridge, _owns_bridge, _engine = None, False, None
    if bridge is not None and owned:
        bridge.close()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("CONNECTSTORE", "SECRET_KEY", "SECRET_KEY_FALLBACKS"):
        close_bridge()


setting_changed.connect(_on_setting_changed, dispatch_uid="connectstore.integrations.django")


async def on_loop(bridge: BlockingStore, coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` run on the bridge's loop, from another loop (Django's async methods)."""
    future = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, bridge.loop))
    return await within(bridge.timeout, future, type(bridge.store).__name__)
