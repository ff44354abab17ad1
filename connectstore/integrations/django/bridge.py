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

from connectstore.blocking import BlockingStore
from connectstore.engine import SessionEngine
from connectstore.integrations.store_source import open_bridge
from connectstore.timeouts import within

__all__ = ["close_bridge", "get_bridge", "get_engine", "on_loop"]

T = TypeVar("T")


def _config() -> Mapping[str, Any]:
    config = getattr(settings, "CONNECTSTORE", None)
    if not isinstance(config, Mapping) or "store" not in config:
        raise RuntimeError('settings.CONNECTSTORE must be a dict with a "store" entry')
    return config


class _Registry:
    """The process's bridge (and whether it was made here) and engine, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bridge: BlockingStore | None = None
        self._owns_bridge = False
        self._engine: SessionEngine | None = None

    def bridge(self) -> BlockingStore:
        """The bridge, made from ``CONNECTSTORE`` (``store``, ``store_options``, ``timeout``)
        on first use.
        """
        with self._lock:
            if self._bridge is None:
                config = _config()
                self._bridge, self._owns_bridge = open_bridge(
                    config["store"],
                    options=config.get("store_options") or {},
                    timeout=config.get("timeout", 30.0),
                )
            return self._bridge

    def engine(self) -> SessionEngine:
        """The engine over the bridge's store, made on first use (and again for a new store)."""
        store = self.bridge().store
        with self._lock:
            # After a fork the bridge rebuilds its store in the child: an engine over the
            # parent's store would talk to a closed one.
            if self._engine is None or self._engine.store is not store:
                config = _config()
                secret = config.get("secret")
                if secret is None:
                    secret = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())]
                self._engine = SessionEngine(store, secret=secret, **dict(config.get("session") or {}))
            return self._engine

    def close(self) -> None:
        """Forget the bridge and the engine; close the bridge if it was made here."""
        with self._lock:
            bridge, owned = self._bridge, self._owns_bridge
            self._bridge, self._owns_bridge, self._engine = None, False, None
        if bridge is not None and owned:
            bridge.close()


_REGISTRY = _Registry()


def get_bridge() -> BlockingStore:
    """The process's :class:`~connectstore.BlockingStore`, made from ``CONNECTSTORE`` on first use."""
    return _REGISTRY.bridge()


def get_engine() -> SessionEngine:
    """The :class:`~connectstore.SessionEngine` of ``ConnectSessionMiddleware`` (and of the
    express-mode ``SESSION_ENGINE``), over the bridge's store.
    """
    return _REGISTRY.engine()


def close_bridge() -> None:
    """Forget the bridge and the engine; close the bridge (and its store) if made here."""
    _REGISTRY.close()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("CONNECTSTORE", "SECRET_KEY", "SECRET_KEY_FALLBACKS"):
        close_bridge()


setting_changed.connect(_on_setting_changed, dispatch_uid="connectstore.integrations.django")


async def on_loop(bridge: BlockingStore, coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` run on the bridge's loop, from another loop (Django's async methods)."""
    future = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, bridge.loop))
    return await within(bridge.timeout, future, type(bridge.store).__name__)
