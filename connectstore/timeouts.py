"""Bounding a store call in time: the one place that turns "no answer" into a typed error."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from connectstore.errors import StoreUnavailableError

__all__ = ["within"]

T = TypeVar("T")


async def within(seconds: float | None, operation: Awaitable[T], what: str) -> T:
    """Await ``operation``, cancelling it after ``seconds`` (None: no bound).

    Past the bound it raises :class:`StoreUnavailableError` ("``what`` did not answer
    within N s"), so a hung backend never hangs its caller.
    """
    if seconds is None:
        return await operation
    try:
        return await asyncio.wait_for(operation, seconds)
    except asyncio.TimeoutError:
        raise StoreUnavailableError(f"{what} did not answer within {seconds:.3g} s") from None
