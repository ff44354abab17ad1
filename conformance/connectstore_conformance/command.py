"""``connectstore check [TARGET]``: the subcommand this distribution registers.

It runs the suite against a store (a store URL or ``module:factory``) and prints each
contract clause with its outcome; with no TARGET it checks the embedded default store
(:func:`connectstore.cli.default_target`). Registered in ``pyproject.toml`` as the entry
point ``check`` of the group ``connectstore.commands``, which names :data:`CHECK`.
"""

from __future__ import annotations

import argparse
import math
import tempfile

from connectstore.cli import default_target
from connectstore_conformance.knobs import KNOBS, knob_defaults, shown

__all__ = ["CHECK", "CheckCommand"]


class CheckCommand:
    """The ``check`` subcommand (a :class:`connectstore.cli.Command`)."""

    help = "run the conformance suite against a store"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """TARGET, the run options and one option per knob of the suite."""
        parser.add_argument("target", nargs="?", help="store URL or module:factory (default: embedded store)")
        parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
        parser.add_argument(
            "--clear", action="store_true", help="allow deleting sessions already in the store"
        )
        parser.add_argument(
            "--other",
            metavar="TARGET",
            help="a second store URL or module:factory on the same backend in another namespace "
            "(key prefix, table...): enables the clauses that namespaces do not touch each other",
        )
        defaults = knob_defaults()
        for knob in KNOBS:
            parser.add_argument(
                knob.option,
                dest=knob.attribute,
                type=knob.parse,
                metavar=knob.metavar,
                help=f"{knob.help} (default {shown(defaults[knob.attribute])})",
            )
        parser.add_argument(
            "--probe-timeout",
            type=_positive_seconds,
            default=30.0,
            metavar="SECONDS",
            help="how long the first read may take before the store counts as unreachable (default 30)",
        )
        parser.add_argument("-v", "--verbose", action="store_true", help="show pytest's own output too")

    def run(self, args: argparse.Namespace) -> int:
        """Run the suite (in a child pytest process) and print the report; 0, 1 or 2."""
        from connectstore_conformance.runner import run_check

        knobs = {knob.attribute: getattr(args, knob.attribute) for knob in KNOBS}
        with tempfile.TemporaryDirectory(prefix="connectstore-") as workdir:
            return run_check(
                args.target or default_target(workdir),
                other=args.other,
                clear=args.clear,
                json_path=args.json,
                knobs={name: value for name, value in knobs.items() if value is not None},
                verbose=args.verbose,
                probe_timeout=args.probe_timeout,
            )


def _positive_seconds(text: str) -> float:
    """argparse type of ``--probe-timeout``: a finite number of seconds above zero."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, not {text!r}")
    return seconds


CHECK = CheckCommand()
