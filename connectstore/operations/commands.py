"""The operations subcommands of ``connectstore``: ``stats``, ``ls``, ``show``, ``rm``,
``revoke``, ``prune`` and ``copy``, thin layers over :mod:`connectstore.operations` on any
store URL. Each is a :class:`connectstore.cli.Command`, registered as a built-in.

Exit status: 0 done, 1 ``show`` of a sid holding no session, 2 a bad URL, an unreachable
backend, a capability the store lacks or a refused copy (one line on stderr), 130 Ctrl-C.
``--json`` output goes to stdout alone; progress lines go to stderr, only on a terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from connectstore.cookie import format_expires
from connectstore.errors import SessionDecodeError
from connectstore.operations.common import DEFAULT_USER_KEY, Progress, require
from connectstore.operations.copying import DEFAULT_BATCH, copy, is_empty
from connectstore.operations.inspect import redact, sessions
from connectstore.operations.removal import prune, remove, revoke
from connectstore.operations.running import CommandFailed, run_on_stores
from connectstore.operations.stats import stats
from connectstore.redaction import redact_url
from connectstore.store import Store

if TYPE_CHECKING:
    from connectstore.cli import Command

__all__ = ["OPERATIONS"]


def _url(parser: argparse.ArgumentParser, name: str = "url", what: str = "the store URL") -> None:
    parser.add_argument(name, metavar=name.upper(), help=what)


def _user_key(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user-key",
        default=DEFAULT_USER_KEY,
        metavar="PATH",
        help=f"dotted path of the user id in a session (default {DEFAULT_USER_KEY})",
    )


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, not {text!r}")
    return number


def _count(sessions: int) -> str:
    return f"{sessions} session" if sessions == 1 else f"{sessions} sessions"


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False))


class StatsCommand:
    """``connectstore stats URL [--json]``."""

    help = "count sessions, users, bytes, size percentiles and near expiries"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """URL, --user-key, --json."""
        _url(parser)
        _user_key(parser)
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def run(self, args: argparse.Namespace) -> int:
        """Scan the store once and print the figures."""

        async def work(store: Store) -> int:
            with Progress("scanning") as progress:
                found = await stats(store, user_key=args.user_key, progress=progress)
            if args.json:
                _print_json(found.as_json())
                return 0
            print(f"sessions      {found.sessions}")
            print(f"users         {found.users} at {found.user_key} ({_count(found.anonymous)} without one)")
            print(f"bytes         {found.bytes}")
            print(f"size p50/p90/p99/max  {found.p50} / {found.p90} / {found.p99} / {found.max}")
            print(f"expiring      {found.expiring_1h} within 1 h, {found.expiring_24h} within 24 h")
            return 0

        return run_on_stores("stats", [args.url], work)


class ListCommand:
    """``connectstore ls URL [--user U] [--limit N] [--json]``."""

    help = "list sessions: sid, user, expiry, size (never the data)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """URL, --user, --user-key, --limit, --json."""
        _url(parser)
        parser.add_argument("--user", metavar="U", help="only the sessions of this user")
        _user_key(parser)
        parser.add_argument("--limit", type=_positive, metavar="N", help="at most N sessions")
        parser.add_argument("--json", action="store_true", help="print one JSON array of objects")

    def run(self, args: argparse.Namespace) -> int:
        """Stream the listing (a JSON array is written as it goes)."""

        async def work(store: Store) -> int:
            listed = sessions(store, user=args.user, user_key=args.user_key, limit=args.limit)
            if args.json:  # one array, written as the listing streams ("[" once the store answered)
                opening = "["
                async for info in listed:
                    sys.stdout.write(f"{opening}\n{json.dumps(info.as_json(), ensure_ascii=False)}")
                    opening = ","
                sys.stdout.write("[]\n" if opening == "[" else "\n]\n")
                return 0
            header = "SID\tUSER\tEXPIRES\tSIZE\n"  # printed once the store answered
            async for info in listed:
                expires = "-" if info.expires is None else format_expires(info.expires)
                user = "-" if info.user is None else info.user
                sys.stdout.write(f"{header}{info.sid}\t{user}\t{expires}\t{info.size}\n")
                header = ""
            sys.stdout.write(header)
            return 0

        return run_on_stores("ls", [args.url], work)


class ShowCommand:
    """``connectstore show URL SID [--reveal]``."""

    help = "print one session's JSON, its values redacted unless --reveal"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """URL, SID, --reveal."""
        _url(parser)
        parser.add_argument("sid", metavar="SID", help="the session id")
        parser.add_argument("--reveal", action="store_true", help="show the values as stored")

    def run(self, args: argparse.Namespace) -> int:
        """Print the session (status 1 when there is none)."""

        async def work(store: Store) -> int:
            try:
                session = await store.get(args.sid)
            except SessionDecodeError:
                print(
                    f"connectstore show: the record of {args.sid!r} is no session (corrupt)", file=sys.stderr
                )
                return 1
            if session is None:
                print(f"connectstore show: no session {args.sid!r}", file=sys.stderr)
                return 1
            print(json.dumps(session if args.reveal else redact(session), ensure_ascii=False, indent=2))
            return 0

        return run_on_stores("show", [args.url], work)


class RemoveCommand:
    """``connectstore rm URL SID...``."""

    help = "destroy sessions by sid"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """URL, SID..."""
        _url(parser)
        parser.add_argument("sids", nargs="+", metavar="SID", help="session ids")

    def run(self, args: argparse.Namespace) -> int:
        """Destroy each and say how many existed."""

        async def work(store: Store) -> int:
            named = len(dict.fromkeys(args.sids))
            existed = await remove(store, args.sids)
            print(f"removed {existed} of {_count(named)} ({named - existed} did not exist)")
            return 0

        return run_on_stores("rm", [args.url], work)


class RevokeCommand:
    """``connectstore revoke URL --user U [--except SID] [--user-key PATH]``."""

    help = "destroy every session of a user (a scan of the store until the user index exists)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """URL, --user, --except (repeatable), --user-key, --json."""
        parser.description = (
            "Destroy every session whose user (the value at --user-key) is U, except the --except "
            "ones. It scans every session of the store (time grows with the whole store); the "
            "per-user index, once the stores keep one, will make it cost the user's sessions only."
        )
        _url(parser)
        parser.add_argument("--user", required=True, metavar="U", help="the user whose sessions go")
        parser.add_argument(
            "--except",
            dest="keep",
            action="append",
            default=[],
            metavar="SID",
            help="keep this session (the current one); may be repeated",
        )
        _user_key(parser)
        parser.add_argument("--json", action="store_true", help="print {revoked, sids} as JSON")

    def run(self, args: argparse.Namespace) -> int:
        """Scan every session (time grows with the whole store; the per-user index will make it
        cost the user's sessions only) and destroy the user's.
        """

        async def work(store: Store) -> int:
            with Progress("scanning") as progress:
                revoked = await revoke(
                    store, args.user, keep=set(args.keep), user_key=args.user_key, progress=progress
                )
            if args.json:
                _print_json({"revoked": len(revoked), "sids": revoked})
            else:
                print(f"revoked {_count(len(revoked))} of user {args.user}")
            return 0

        return run_on_stores("revoke", [args.url], work)


class PruneCommand:
    """``connectstore prune URL``."""

    help = "delete expired sessions, for backends that keep them until swept"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """URL, --json."""
        _url(parser)
        parser.add_argument(
            "--json", action="store_true", help="print {pruned} as JSON (null: nothing to do)"
        )

    def run(self, args: argparse.Namespace) -> int:
        """Sweep the store, or say that its backend expires sessions itself (status 0 both)."""

        async def work(store: Store) -> int:
            pruned = await prune(store)
            if args.json:
                _print_json({"pruned": pruned})
            elif pruned is None:
                print(f"nothing to prune: the {type(store).__name__} expires sessions itself")
            else:
                print(f"pruned {_count(pruned)} (expired)")
            return 0

        return run_on_stores("prune", [args.url], work)


class CopyCommand:
    """``connectstore copy SRC_URL DST_URL [--resume] [--batch N] [--json]``."""

    help = "copy every session from one store to another, keeping expiries; resumable"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """SRC_URL, DST_URL, --resume, --batch, --json."""
        parser.description = (
            "Copy every live session of SRC_URL into DST_URL, streaming, each keeping its "
            "cookie's expiry. A session already at the destination is never overwritten (an "
            "atomic create where the destination has one), so a re-run with --resume copies only "
            "what is missing."
        )
        _url(parser, "src_url", "the store to read")
        _url(parser, "dst_url", "the store to write")
        parser.add_argument(
            "--resume",
            action="store_true",
            help="the destination may hold sessions already (an interrupted copy): keep them, "
            "copy only the missing ones (without it a non-empty destination is refused)",
        )
        parser.add_argument(
            "--batch",
            type=_positive,
            default=DEFAULT_BATCH,
            metavar="N",
            help=f"writes at once (default {DEFAULT_BATCH})",
        )
        parser.add_argument("--json", action="store_true", help="print the counts as one JSON object")

    def run(self, args: argparse.Namespace) -> int:
        """Copy, then print how many sessions were copied, skipped and found expired."""

        async def work(source: Store, destination: Store) -> int:
            require(source, "items")  # before looking at the destination
            if not args.resume and not await is_empty(destination):
                raise CommandFailed(
                    f"{redact_url(args.dst_url)} already holds sessions; "
                    "pass --resume to copy only the missing ones (existing sessions are never overwritten)"
                )
            with Progress("copying") as progress:
                report = await copy(source, destination, batch=args.batch, progress=progress)
            if args.json:
                _print_json(report.as_json())
            else:
                print(
                    f"copied {_count(report.copied)}; skipped {report.skipped} already there; "
                    f"{report.expired} expired on the way"
                    + (f"; {report.refused} refused by the destination (logged)" if report.refused else "")
                )
            return 0

        return run_on_stores("copy", [args.src_url, args.dst_url], work)


OPERATIONS: dict[str, Command] = {
    "stats": StatsCommand(),
    "ls": ListCommand(),
    "show": ShowCommand(),
    "rm": RemoveCommand(),
    "revoke": RevokeCommand(),
    "prune": PruneCommand(),
    "copy": CopyCommand(),
}
"""The operations subcommands by name (built-ins of :mod:`connectstore.cli`)."""
