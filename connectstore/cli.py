"""The ``connectstore`` command: its subcommands come from the distributions installed.

``connectstore schemes`` (built in) lists the installed store URL schemes; the operations
commands ``stats``, ``ls``, ``show``, ``rm``, ``revoke``, ``prune`` and ``copy`` (built in,
:mod:`connectstore.operations.commands`) work on any store URL. Every other
subcommand is registered by a distribution, so the core names none of its dependents: the
suite registers ``connectstore check [TARGET]``, which runs it against a store.

Two entry-point groups extend the command:

``connectstore.commands``
    The entry point's name is the subcommand; its value names an object (usually a
    module-level instance) of the :class:`Command` protocol::

        [project.entry-points."connectstore.commands"]
        check = "my_suite.command:CHECK"

    ``help`` is the one-line summary ``connectstore --help`` shows, ``add_arguments(parser)``
    adds the subcommand's arguments to its own subparser, and ``run(args)`` runs it with the
    parsed arguments and returns the exit status (0 success, 1 failure, 2 usage or set-up
    problem). A built-in name cannot be taken; an entry point that cannot be loaded is
    reported (one line, exit 2) only when its subcommand is asked for.

``connectstore.embedded``
    Embedded stores, which need no server: the value names an :data:`EmbeddedTarget`, a
    function ``target(workdir) -> str`` returning a store URL for a new store kept in the
    temporary folder ``workdir``. :func:`default_target` uses the first by name, and
    ``memory://`` when none is installed: it is what ``connectstore check`` checks when no
    target is given.

A subcommand in :data:`~connectstore.install_hints.COMMAND_HINTS` that no installed
distribution registers still parses (whatever its arguments) and says in one line what to
install, with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol, runtime_checkable

from connectstore.install_hints import COMMAND_HINTS
from connectstore.operations.commands import OPERATIONS
from connectstore.urls import installed_schemes

__all__ = ["COMMANDS_GROUP", "EMBEDDED_GROUP", "Command", "EmbeddedTarget", "default_target", "main"]

COMMANDS_GROUP = "connectstore.commands"
EMBEDDED_GROUP = "connectstore.embedded"

EmbeddedTarget = Callable[[str], str]
"""``target(workdir) -> store URL``: what an entry point of :data:`EMBEDDED_GROUP` names."""


@runtime_checkable
class Command(Protocol):
    """A ``connectstore`` subcommand, named by an entry point of :data:`COMMANDS_GROUP`."""

    help: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the subcommand's arguments to ``parser``, its own subparser."""

    def run(self, args: argparse.Namespace) -> int:
        """Run with the parsed ``args``; return the exit status."""


class SchemesCommand:
    """``connectstore schemes``: every installed store URL scheme and where its factory lives."""

    help = "list the installed store URL schemes"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """It takes no arguments."""

    def run(self, args: argparse.Namespace) -> int:
        """Print one ``scheme://  module:factory`` line per scheme."""
        for scheme, where in installed_schemes().items():
            print(f"{scheme}://  {where}")
        return 0


class _Unavailable:
    """Stands in for a subcommand that is not installed or cannot be loaded: it accepts any
    arguments and prints ``message`` (exit status 2).
    """

    def __init__(self, help: str, message: str) -> None:
        self.help = help
        self.message = message

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """None: :func:`main` lets it take any arguments, so the message is shown instead."""

    def run(self, args: argparse.Namespace) -> int:
        """Say what is missing."""
        print(self.message, file=sys.stderr)
        return 2


BUILT_IN: dict[str, Command] = {"schemes": SchemesCommand(), **OPERATIONS}


def installed_commands() -> dict[str, Command]:
    """Every subcommand by name: the built-in ones, those that distributions register, and
    stand-ins for the hinted ones that are not installed.
    """
    commands: dict[str, Command] = dict(BUILT_IN)
    for point in sorted(entry_points(group=COMMANDS_GROUP), key=lambda point: point.name):
        if point.name not in commands:
            commands[point.name] = _load_command(point)
    for name, hint in COMMAND_HINTS.items():
        commands.setdefault(name, _Unavailable("(not installed)", f"connectstore {name} needs {hint}"))
    return commands


def _load_command(point: EntryPoint) -> Command:
    try:
        command = point.load()
    except Exception as error:  # a broken distribution must not break the other commands
        reason = traceback.format_exception_only(type(error), error)[-1].strip()
        return _Unavailable(
            "(cannot be loaded)", f"connectstore {point.name}: cannot load {point.value}: {reason}"
        )
    if not isinstance(command, Command):
        return _Unavailable(
            "(cannot be loaded)",
            f"connectstore {point.name}: {point.value} is not a connectstore command "
            "(an object with help, add_arguments and run)",
        )
    return command


def default_target(workdir: str) -> str:
    """The store ``connectstore check`` checks by default: the first embedded store that a
    distribution registers (kept in ``workdir``), else ``memory://``.
    """
    for point in sorted(entry_points(group=EMBEDDED_GROUP), key=lambda point: point.name):
        try:
            target: EmbeddedTarget = point.load()
            return target(workdir)
        except Exception as error:
            reason = traceback.format_exception_only(type(error), error)[-1].strip()
            print(f"connectstore: skipping the embedded store {point.value}: {reason}", file=sys.stderr)
    return "memory://"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``connectstore`` console script."""
    parser = argparse.ArgumentParser(prog="connectstore", description=__doc__.split("\n\n")[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    commands = installed_commands()
    for name, command in commands.items():
        command.add_arguments(subparsers.add_parser(name, help=command.help))
    args, unknown = parser.parse_known_args(argv)
    command = commands[args.command]
    if unknown and not isinstance(command, _Unavailable):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return command.run(args)


if __name__ == "__main__":
    sys.exit(main())
