"""How a clause says what went wrong, and whom an unexpected exception blames.

Every failure names the clause, the store call (the sid as ``repr``), what was expected and
what came back. An exception that escapes a clause is told apart by where it was raised:
under a store call it is the store's failure, named with that call; inside the suite's own
code it is an internal error of the suite, never reported as the store's fault.
"""

from __future__ import annotations

import functools
import linecache
import sys
import traceback
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any, TypeVar

SUITE_PACKAGE = "connectstore_conformance"
#: Code that runs the clauses without being the store: frames of these are looked through.
TOOLING = frozenset({"pytest", "_pytest", "pluggy", "hypothesis", "pytest_asyncio"}) | frozenset(
    sys.stdlib_module_names
)
#: How many characters of a value a message shows.
MAX_SHOWN = 300

R = TypeVar("R")


class SuiteInternalError(RuntimeError):
    """The conformance suite itself went wrong (a bug of the suite, not of the store)."""


class Literal(str):
    """Text shown as it is (not quoted) where a call's argument is described."""

    def __repr__(self) -> str:
        return str(self)


#: How a session argument appears in a described call: ``set('sid', <session>)``.
SESSION = Literal("<session>")


def shown(value: object) -> str:
    """``repr(value)``, cut to :data:`MAX_SHOWN` characters."""
    text = repr(value)
    if len(text) <= MAX_SHOWN:
        return text
    return f"{text[:MAX_SHOWN]}... ({len(text)} characters)"


def call(method: str, *args: object) -> str:
    """A store call as a message shows it: ``get('sid')``, ``touch('sid', <session>)``."""
    return f"{method}({', '.join(shown(arg) for arg in args)})"


def violation(clause: str, what: str, expected: str, got: object, detail: str = "") -> AssertionError:
    """The failure of ``clause``: after ``what`` (a call) it expected ``expected`` and got ``got``."""
    message = f"{clause}: {what}: expected {expected}, got {shown(got)}"
    return AssertionError(f"{message} ({detail})" if detail else message)


def _package(frame: FrameType) -> str:
    name = frame.f_globals.get("__name__")
    return name.split(".")[0] if isinstance(name, str) else ""


def blame(clause: str, error: Exception) -> Exception:
    """The exception to report for ``error``, which escaped ``clause`` unexpectedly.

    Walking from the clause inwards (through pytest, Hypothesis and the standard library):
    when the first frame outside the suite belongs to other code, the suite had called the
    store, whose failure it is (an :class:`AssertionError` naming the call); when there is
    no such frame, the suite failed by itself (:class:`SuiteInternalError`).
    """
    frames = [frame for frame, _ in traceback.walk_tb(error.__traceback__)]
    lines = [line for _, line in traceback.walk_tb(error.__traceback__)]
    caller = None
    for index, frame in enumerate(frames):
        package = _package(frame)
        if package == SUITE_PACKAGE:
            caller = index
        elif package not in TOOLING:
            source = "a store call"
            if caller is not None:
                code = frames[caller].f_code
                text = linecache.getline(code.co_filename, lines[caller]).strip()
                source = f"the store call `{text}`" if text else source
            return AssertionError(f"{clause}: {source} raised {type(error).__name__}: {error}")
    where = ""
    if frames:
        where = f" at {frames[-1].f_code.co_filename}:{lines[-1]}"
    return SuiteInternalError(
        f"{clause}: internal error of the conformance suite (not a fault of the store): "
        f"{type(error).__name__}: {error}{where}"
    )


def attributed(clause: Callable[..., Coroutine[Any, Any, R]]) -> Callable[..., Coroutine[Any, Any, R]]:
    """``clause`` (an async check) with any unexpected exception turned by :func:`blame`.

    Assertion failures and pytest's own outcomes (skip, fail) pass through unchanged.
    """

    @functools.wraps(clause)
    async def attributed_clause(*args: Any, **kwargs: Any) -> R:
        try:
            return await clause(*args, **kwargs)
        except AssertionError:
            raise
        except Exception as error:
            raise blame(clause.__name__, error) from error

    return attributed_clause
