"""What every operations command shares: the user of a session, its stored size and expiry,
and the progress line on long work.

The user of a session is read at a dotted path in its data, by default ``passport.user``
(Passport's convention, so the sessions Express apps create count too); a session without
a value there belongs to no user. A user is compared by its text: a string as it is, any
other JSON value (a number id...) as its JSON, so ``--user 42`` finds ``{"passport":
{"user": 42}}``.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final, TextIO

from connectstore.errors import StoreError, UnsupportedOperationError
from connectstore.expiry import session_expires
from connectstore.serializer import JSONSerializer, SessionData
from connectstore.store import Store, supports

__all__ = ["DEFAULT_USER_KEY", "Progress", "expires_of", "require", "session_size", "user_of", "user_text"]

DEFAULT_USER_KEY: Final = "passport.user"
"""Where a session's user is read by default (Passport's ``req.session.passport.user``)."""

_SERIALIZER = JSONSerializer()


def require(store: Store, capability: str) -> None:
    """Raise :class:`~connectstore.UnsupportedOperationError` unless ``store`` declares
    ``capability``: an operation never relies on a method the store does not promise.
    """
    if not supports(store, capability):
        raise UnsupportedOperationError(store, capability)


def user_of(session: Mapping[str, Any], user_key: str = DEFAULT_USER_KEY) -> object | None:
    """The value at the dotted path ``user_key`` in ``session``, or None when there is none."""
    value: object = session
    for part in user_key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def user_text(user: object) -> str:
    """How a user is shown and compared: a string as it is, another JSON value as its JSON."""
    if isinstance(user, str):
        return user
    return json.dumps(user, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def session_size(session: SessionData) -> int:
    """The session's size in bytes as stored: its JSON as ``JSON.stringify`` writes it, UTF-8."""
    try:
        text = _SERIALIZER.dumps(session)
    except StoreError:  # a value Node would not read back: still count what is there
        text = json.dumps(session, separators=(",", ":"), ensure_ascii=False, default=str)
    return len(text.encode("utf-8", "surrogatepass"))


def expires_of(session: Mapping[str, Any]) -> int | None:
    """The session's ``cookie.expires`` in epoch milliseconds; None when it has none (or an
    unreadable one, as a Node app may write).
    """
    try:
        return session_expires(session)
    except StoreError:
        return None


class Progress:
    """A progress line on stderr while long work runs (only when stderr is a terminal).

    Uses ``rich`` when it is importable (an optional dependency), else a plain counter redrawn at most ten
    times a second. ``advance()`` counts one item; leaving the ``with`` block clears the line.
    Nothing is ever written when stderr is not a terminal, so piped output stays clean.
    """

    def __init__(self, label: str, *, stream: TextIO | None = None) -> None:
        self.label = label
        self.count = 0
        self._stream = sys.stderr if stream is None else stream
        self._enabled = self._stream.isatty()
        self._rich: Any = None
        self._task: Any = None
        self._drawn = 0.0

    def __enter__(self) -> Progress:
        if self._enabled:
            try:
                console = importlib.import_module("rich.console")
                bars = importlib.import_module("rich.progress")
            except ImportError:
                pass
            else:
                self._rich = bars.Progress(
                    bars.SpinnerColumn(),
                    bars.TextColumn("{task.description}: {task.completed} sessions"),
                    bars.TimeElapsedColumn(),
                    console=console.Console(file=self._stream),
                    transient=True,
                )
                self._rich.start()
                self._task = self._rich.add_task(self.label, total=None)
        return self

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more items done."""
        self.count += count
        if not self._enabled:
            return
        if self._rich is not None:
            self._rich.update(self._task, completed=self.count)
            return
        now = time.monotonic()
        if now - self._drawn >= 0.1:
            self._drawn = now
            self._stream.write(f"\r{self.label}: {self.count} sessions")
            self._stream.flush()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._enabled:
            return
        if self._rich is not None:
            self._rich.stop()
        else:
            self._stream.write("\r\033[K")
            self._stream.flush()
