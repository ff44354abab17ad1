"""The ``connectstore`` command.

``connectstore check [TARGET]`` runs the conformance suite against a store (a store URL or
``module:factory``) and prints each contract clause with its outcome; with no TARGET it
checks the embedded default store. ``connectstore schemes`` lists the installed store URL
schemes.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Sequence
from importlib.util import find_spec

from connectstore.urls import installed_schemes


def default_target(workdir: str) -> str:
    """The embedded default store: SQLite on a temp file when installed, else memory."""
    if find_spec("connectstore_sqlite") is not None and "sqlite" in installed_schemes():
        return f"sqlite:///{workdir}/connectstore-check.db"
    return "memory://"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``connectstore`` console script."""
    parser = argparse.ArgumentParser(prog="connectstore", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="run the conformance suite against a store")
    check.add_argument("target", nargs="?", help="store URL or module:factory (default: embedded store)")
    check.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    check.add_argument("--clear", action="store_true", help="allow deleting sessions already in the store")
    check.add_argument(
        "--other",
        metavar="TARGET",
        help="a second store URL or module:factory on the same backend in another namespace "
        "(key prefix, table...): enables the clauses that namespaces do not touch each other",
    )
    _add_knob_options(check)
    check.add_argument(
        "--probe-timeout",
        type=_positive_seconds,
        default=30.0,
        metavar="SECONDS",
        help="how long the first read may take before the store counts as unreachable (default 30)",
    )
    check.add_argument("-v", "--verbose", action="store_true", help="show pytest's own output too")
    commands.add_parser("schemes", help="list the installed store URL schemes")
    args = parser.parse_args(argv)

    if args.command == "schemes":
        for scheme, where in installed_schemes().items():
            print(f"{scheme}://  {where}")
        return 0

    if find_spec("connectstore_conformance") is None:
        print(
            "connectstore check needs the conformance suite: from the connectstore repository, "
            "pip install ./ ./conformance (see docs/writing-a-store.md)",
            file=sys.stderr,
        )
        return 2
    from connectstore_conformance.knobs import KNOBS
    from connectstore_conformance.runner import run_check

    knobs = {knob.attribute: getattr(args, knob.attribute) for knob in KNOBS}
    with tempfile.TemporaryDirectory(prefix="connectstore-") as workdir:
        target = args.target or default_target(workdir)
        return run_check(
            target,
            other=args.other,
            clear=args.clear,
            json_path=args.json,
            knobs={name: value for name, value in knobs.items() if value is not None},
            verbose=args.verbose,
            probe_timeout=args.probe_timeout,
        )


def _add_knob_options(check: argparse.ArgumentParser) -> None:
    """One option per knob of the conformance suite's test class (``--expiry-slack``,
    ``--concurrency``...), with the suite's default in its help; none when the suite is
    not installed (the command then says how to install it).
    """
    if find_spec("connectstore_conformance") is None:
        return
    from connectstore_conformance.knobs import KNOBS, knob_defaults

    defaults = knob_defaults()
    for knob in KNOBS:
        check.add_argument(
            knob.option,
            dest=knob.attribute,
            type=knob.parse,
            metavar=knob.metavar,
            help=f"{knob.help} (default {defaults[knob.attribute]:g})",
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


if __name__ == "__main__":
    sys.exit(main())
