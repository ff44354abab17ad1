"""The knobs of :class:`~connectstore_conformance.StoreConformance` as ``connectstore check``
options: one table, so the command offers exactly what the pytest class offers.

Each knob is a class attribute of the suite (``expiry_slack``, ``concurrency``...); the
command passes the values given to its run of the suite as JSON in :data:`KNOBS_ENV`, and
:func:`apply_knobs` sets them on the test class there.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

#: The environment variable that carries the chosen knob values (JSON) to the suite run.
KNOBS_ENV = "CONNECTSTORE_CHECK_KNOBS"

KnobValue = float | int | bool


@dataclass(frozen=True)
class Knob:
    """One class attribute of the suite offered as a command-line option."""

    attribute: str
    option: str
    metavar: str
    parse: Callable[[str], KnobValue]
    help: str


def _number(kind: type[float] | type[int], minimum: float, inclusive: bool) -> Callable[[str], KnobValue]:
    """A parser for an option value: a ``kind`` number above (or at) ``minimum``."""
    bound = f">= {minimum:g}" if inclusive else f"> {minimum:g}"
    noun = "an integer" if kind is int else "a number"

    def parse(text: str) -> KnobValue:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {noun} {bound}, not {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")):  # NaN, infinity
            raise argparse.ArgumentTypeError(f"must be a finite number {bound}, not {text!r}")
        if value < minimum or (value == minimum and not inclusive):
            raise argparse.ArgumentTypeError(f"must be {noun} {bound}, not {text!r}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


def yes_or_no(text: str) -> bool:
    """A parser for a yes/no option value."""
    lowered = text.strip().lower()
    if lowered in ("yes", "true", "1"):
        return True
    if lowered in ("no", "false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"must be yes or no, not {text!r}")


def shown(value: KnobValue) -> str:
    """A knob's value as the command's help shows it: ``yes``/``no`` or the number."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:g}"


positive_float = _number(float, 0, inclusive=False)
non_negative_float = _number(float, 0, inclusive=True)
positive_int = _number(int, 1, inclusive=True)

#: Every knob of StoreConformance, with its option (the ``other_store`` fixture is ``--other``).
KNOBS: tuple[Knob, ...] = (
    Knob(
        "expiry_slack",
        "--expiry-slack",
        "SECONDS",
        non_negative_float,
        "seconds an expired session may still be visible (a store that rounds lifetimes up to "
        "whole seconds, like Redis EX or connect-pg-simple, needs 1)",
    ),
    Knob("time_scale", "--time-scale", "X", positive_float, "multiply every wait (slow stores)"),
    Knob(
        "short_expiry",
        "--short-expiry",
        "SECONDS",
        positive_float,
        "lifetime of the sessions the expiry checks wait out: its whole seconds (times "
        "--time-scale, at least 1) plus 0.4 s, so that rounding lifetimes up is always caught",
    ),
    Knob(
        "short_lived_attempts",
        "--short-lived-attempts",
        "N",
        positive_int,
        "how often an expiry check doubles that lifetime when the machine was too slow to act "
        "on the session while it was surely alive",
    ),
    Knob(
        "concurrency", "--concurrency", "N", positive_int, "operations run at once in the concurrency checks"
    ),
    Knob("model_examples", "--examples", "N", positive_int, "Hypothesis examples of the model-based check"),
    Knob("model_steps", "--steps", "N", positive_int, "steps per example of the model-based check"),
    Knob(
        "memory_sessions",
        "--memory-sessions",
        "N",
        positive_int,
        "sessions the memory check of ids()/items() writes before listing them",
    ),
    Knob(
        "outage_bound",
        "--outage-bound",
        "SECONDS",
        positive_float,
        "how long one call may take while the backend is down (outage checks; times --time-scale)",
    ),
    Knob(
        "recovery_bound",
        "--recovery-bound",
        "SECONDS",
        positive_float,
        "how long the store may take to serve again once the backend is back (outage checks; "
        "times --time-scale)",
    ),
    Knob(
        "close_keeps_data",
        "--close-keeps-data",
        "yes/no",
        yes_or_no,
        "whether sessions written before close() must still be there after it (no: a store whose "
        "data lives only as long as its connection, such as sqlite://:memory:)",
    ),
)


def knob_defaults() -> dict[str, KnobValue]:
    """The suite's own value of every knob (what the command uses when it is not given)."""
    from connectstore_conformance import StoreConformance

    return {knob.attribute: getattr(StoreConformance, knob.attribute) for knob in KNOBS}


def apply_knobs(cls: type, encoded: str | None) -> None:
    """Set on ``cls`` the knob values encoded (JSON) by :func:`encode_knobs`."""
    for name, value in json.loads(encoded or "{}").items():
        if name not in {knob.attribute for knob in KNOBS}:
            raise ValueError(f"{name!r} is not a knob of the conformance suite")
        setattr(cls, name, value)


def encode_knobs(values: Mapping[str, KnobValue]) -> str:
    """The JSON that carries ``values`` to the suite run; unknown names are a ValueError."""
    known = {knob.attribute for knob in KNOBS}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"not knobs of the conformance suite: {', '.join(unknown)}")
    return json.dumps(dict(values))
