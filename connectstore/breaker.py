"""Failing fast while a backend is down: the circuit breaker every server-backed store uses.

A timeout bounds one call; it does not stop the next caller from waiting the same bound
again. During an outage a web app would then hold every request for the whole timeout.
:class:`CircuitBreaker` remembers that the backend is down: after ``failure_threshold``
consecutive failures it *opens*, and calls fail at once with
:class:`~connectstore.StoreUnavailableError` without touching the backend, while one call
at a time (a *probe*, let through every ``retry_interval`` seconds) checks for recovery.
The first probe that gets an answer closes the breaker again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from connectstore.errors import StoreUnavailableError

__all__ = ["DEFAULT_FAILURE_THRESHOLD", "DEFAULT_RETRY_INTERVAL", "CircuitBreaker"]

T = TypeVar("T")

DEFAULT_FAILURE_THRESHOLD = 2
"""Consecutive failed calls that open the breaker."""

DEFAULT_RETRY_INTERVAL = 0.25
"""Seconds between probes while the breaker is open."""


class CircuitBreaker:
    """Remembers that a backend is down, so callers fail at once instead of each waiting.

    ``what`` names the backend in error messages (e.g. ``"Redis at 127.0.0.1:6379"``); it
    must never hold a credential. ``failure_threshold`` is the number of consecutive
    failures (calls that raised :class:`~connectstore.StoreUnavailableError`) that opens
    the breaker; ``retry_interval`` is how long, in seconds, an open breaker refuses calls
    after the last failure before it lets one probe through.

    Only :class:`~connectstore.StoreUnavailableError` counts as a failure: a store maps its
    driver's connection errors and timeouts to it. Any other outcome, success or another
    error, shows that the backend answered and closes the breaker. The breaker holds no
    event-loop objects, so one breaker serves a store used from any loop.
    """

    __slots__ = (
        "_failures",
        "_last_cause",
        "_last_failure",
        "_probing",
        "failure_threshold",
        "retry_interval",
        "what",
    )

    def __init__(
        self,
        what: str = "the backend",
        *,
        failure_threshold: int = DEFAULT_FAILURE_THRESHOLD,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
    ) -> None:
        if isinstance(failure_threshold, bool) or not isinstance(failure_threshold, int):
            raise TypeError(f"failure_threshold must be an int, not {type(failure_threshold).__name__}")
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be at least 1, not {failure_threshold}")
        if isinstance(retry_interval, bool) or not isinstance(retry_interval, (int, float)):
            raise TypeError(f"retry_interval must be a number, not {type(retry_interval).__name__}")
        if not retry_interval >= 0 or retry_interval == float("inf"):
            raise ValueError(f"retry_interval must be a finite number >= 0, not {retry_interval}")
        self.what = what
        self.failure_threshold = failure_threshold
        self.retry_interval = float(retry_interval)
        self._failures = 0
        self._last_failure = 0.0
        self._last_cause = ""
        self._probing = False

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<CircuitBreaker {self.what} {state}>"

    @property
    def is_open(self) -> bool:
        """True while calls fail fast (the backend was seen down and no probe has answered)."""
        return self._failures >= self.failure_threshold

    def reset(self) -> None:
        """Close the breaker and forget past failures (e.g. after reconnecting by hand)."""
        self._failures = 0
        self._probing = False
        self._last_cause = ""

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run ``operation()`` unless the backend is known down; then fail at once.

        ``operation`` is a function returning the awaitable, so that nothing is created
        for a call that fails fast. Raises :class:`~connectstore.StoreUnavailableError`
        without calling it while the breaker is open and it is not this call's turn to
        probe; otherwise returns or raises what the operation does.
        """
        probe = False
        if self.is_open:
            waited = time.monotonic() - self._last_failure
            if self._probing or waited < self.retry_interval:
                raise StoreUnavailableError(self._fail_fast_message(waited))
            self._probing = probe = True
        try:
            result = await operation()
        except StoreUnavailableError as exc:
            self._failures += 1
            self._last_failure = time.monotonic()
            self._last_cause = str(exc)
            raise
        except BaseException as exc:
            # The backend answered (with an error of another kind): it is up. A cancelled
            # or interrupted call tells nothing either way and leaves the state alone.
            if isinstance(exc, Exception):
                self._failures = 0
            raise
        else:
            self._failures = 0
            return result
        finally:
            if probe:
                self._probing = False

    def _fail_fast_message(self, waited: float) -> str:
        cause = f": {self._last_cause}" if self._last_cause else ""
        return (
            f"{self.what} is unavailable (failing fast; last failure {waited:.2f} s ago{cause}); "
            f"one call every {self.retry_interval:g} s checks whether it is back"
        )
