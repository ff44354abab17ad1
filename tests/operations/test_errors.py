"""What goes wrong is one line on stderr and exit status 2: a bad URL, an unreachable backend
(bounded by the store's own timeout), a capability the store lacks; never a traceback,
never a credential of the URL.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.operations.conftest import cli, fill, session, sqlite_url
from tests.tools import free_port

SECRET = "hunter2-secret"

PLAIN_MODULE = """
from connectstore import MemoryStore


class PlainStore(MemoryStore):
    capabilities = frozenset({"touch"})


def open_plain(url, **options):
    return PlainStore(**options)
"""


def assert_one_line_failure(result: subprocess.CompletedProcess[str], command: str, *needles: str) -> None:
    """Status 2, nothing on stdout, one line on stderr naming the command, no secret, no traceback."""
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"connectstore {command}: ")
    assert SECRET not in result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        (f"not-a-url-{SECRET}", "not a store URL"),
        (f"nosuch://:{SECRET}@host/0", "no store is installed for nosuch://"),
        (f"redis://:{SECRET}@127.0.0.1:6379/0?colour=blue", "bad store URL redis://:***@127.0.0.1:6379/0"),
    ],
)
def test_a_bad_url(url: str, needle: str) -> None:
    assert_one_line_failure(cli("stats", url, "--json"), "stats", needle)


async def test_an_unreachable_redis_fails_within_its_timeout(tmp_path: Path) -> None:
    down = f"redis://:{SECRET}@127.0.0.1:{free_port()}/0?timeout=1"
    shown = down.replace(SECRET, "***")
    for args in (
        ["stats", down, "--json"],
        ["ls", down],
        ["show", down, "sid"],
        ["rm", down, "sid"],
        ["revoke", down, "--user", "ada"],
    ):
        assert_one_line_failure(
            cli(*args), args[0], f"cannot reach the RedisStore at {shown}", "StoreUnavailableError"
        )
    assert cli("prune", down).returncode == 0  # nothing to ask a backend that expires sessions itself
    source = sqlite_url(tmp_path / "s.db")
    await fill(source, {"a": session("ada")})
    assert_one_line_failure(cli("copy", down, source, "--resume"), "copy", shown)
    assert_one_line_failure(cli("copy", source, down, "--resume"), "copy", shown)


def test_an_unreachable_surrealdb_server() -> None:
    down = f"surrealdb+ws://root:{SECRET}@127.0.0.1:{free_port()}/rpc?timeout=2"
    assert_one_line_failure(
        cli("stats", down), "stats", "cannot reach the SurrealDBStore at surrealdb+ws://root:***@"
    )


def plain_distribution(folder: Path) -> dict[str, str]:
    """A distribution registering ``plain://`` (a store without listings) on ``folder``."""
    (folder / "plain_store.py").write_text(PLAIN_MODULE)
    info = folder / "plain-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: plain\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent("""
        [connectstore.stores]
        plain = plain_store:open_plain
        """)
    )
    return {"PYTHONPATH": str(folder)}


async def test_a_capability_the_store_lacks(tmp_path: Path) -> None:
    env = plain_distribution(tmp_path)
    plain = f"plain://:{SECRET}@x"
    for args in (["stats", plain], ["ls", plain, "--json"], ["revoke", plain, "--user", "ada"]):
        assert_one_line_failure(
            cli(*args, env=env), args[0], "the PlainStore at plain://:***@x does not support items()"
        )
    source = sqlite_url(tmp_path / "s.db")
    await fill(source, {"a": session("ada"), "b": session("bob")})
    assert_one_line_failure(cli("copy", plain, source, env=env), "copy", "does not support items()")
    # without --resume the destination must be proven empty: it cannot list nor count
    assert_one_line_failure(cli("copy", source, plain, env=env), "copy", "does not support length()")
    resumed = cli("copy", source, plain, "--resume", env=env)
    assert (resumed.returncode, resumed.stdout) == (
        0,
        "copied 2 sessions; skipped 0 already there; 0 expired on the way\n",
    )
    # the commands that need no listing work on it
    assert cli("rm", plain, "a", env=env).stdout == "removed 0 of 1 session (1 did not exist)\n"
    assert cli("prune", plain, env=env).stdout == "nothing to prune: the PlainStore expires sessions itself\n"
