"""Every operations subcommand run as ``connectstore ...`` in a child process, on SQLite files
(a store that outlives the process), with and without ``--json``.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from connectstore import open_store
from connectstore.cookie import format_expires, now_ms
from connectstore_sqlite import SQLiteStore
from tests.operations.conftest import HOUR_MS, cli, cli_json, fill, session, sqlite_url


def rows(path: Path) -> int:
    """Rows in the file's sessions table, expired ones included."""
    with sqlite3.connect(path) as db:
        count: int = db.execute("SELECT count(*) FROM sessions").fetchone()[0]
    return count


async def test_stats_prints_the_figures_as_text_and_json(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "s.db")
    written = {
        "a": session("ada", expires_in_ms=HOUR_MS // 2),
        "b": session("ada", expires_in_ms=5 * HOUR_MS, cart=["x"] * 40),
        "c": session(42, expires_in_ms=48 * HOUR_MS),
        "d": session(None, expires_in_ms=None),
    }
    await fill(url, written)
    sizes = sorted(len(json.dumps(s, separators=(",", ":")).encode()) for s in written.values())
    figures = cli_json("stats", url)
    assert {k: figures[k] for k in ("sessions", "users", "anonymous", "bytes", "max")} == {
        "sessions": 4,
        "users": 2,
        "anonymous": 1,
        "bytes": sum(sizes),
        "max": sizes[-1],
    }
    assert (figures["p50"], figures["p99"]) == (sizes[1], sizes[-1])
    assert (figures["expiring_1h"], figures["expiring_24h"]) == (1, 2)
    text = cli("stats", url)
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[0].split() == ["sessions", "4"]
    assert "2 at passport.user (1 session without one)" in text.stdout
    assert text.stderr == ""  # stderr is no terminal: no progress line
    by_cart = cli_json("stats", url, "--user-key", "cart")
    assert by_cart["users"] == 1


async def test_ls_lists_metadata_never_the_data(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "l.db")
    await fill(
        url, {f"ada-{i}": session("ada", secret="hunter2") for i in range(3)} | {"bob-1": session("bob")}
    )
    listed = cli_json("ls", url)
    assert sorted(item["sid"] for item in listed) == ["ada-0", "ada-1", "ada-2", "bob-1"]
    assert set(listed[0]) == {"sid", "user", "expires", "size"}
    assert [item["sid"] for item in cli_json("ls", url, "--user", "bob")] == ["bob-1"]
    assert len(cli_json("ls", url, "--user", "ada", "--limit", "2")) == 2
    assert cli_json("ls", url, "--user", "nobody") == []
    text = cli("ls", url, "--user", "bob")
    assert text.returncode == 0, text.stderr
    header, line = text.stdout.splitlines()
    assert header.split() == ["SID", "USER", "EXPIRES", "SIZE"]
    assert line.split("\t")[:2] == ["bob-1", "bob"]
    assert "hunter2" not in cli("ls", url).stdout
    assert cli("ls", url, "--limit", "0").returncode == 2  # a usage error


async def test_show_redacts_unless_revealed(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "w.db")
    data = session("ada", token="hunter2", profile={"email": "ada@example.org"})
    await fill(url, {"sid-1": data})
    shown = cli("show", url, "sid-1")
    assert shown.returncode == 0, shown.stderr
    redacted = json.loads(shown.stdout)
    assert redacted == {
        "cookie": data["cookie"],
        "token": "***",
        "profile": {"email": "***"},
        "passport": {"user": "***"},
    }
    assert "hunter2" not in shown.stdout
    assert "ada@" not in shown.stdout
    assert json.loads(cli("show", url, "sid-1", "--reveal").stdout) == data
    missing = cli("show", url, "nope")
    assert (missing.returncode, missing.stdout, missing.stderr) == (
        1,
        "",
        "connectstore show: no session 'nope'\n",
    )


async def test_rm_destroys_and_counts_what_existed(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "r.db")
    await fill(url, {"a": session("ada"), "b": session("bob"), "c": session("cy")})
    result = cli("rm", url, "a", "missing", "b", "a")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "removed 2 of 3 sessions (1 did not exist)\n"
    assert [item["sid"] for item in cli_json("ls", url)] == ["c"]
    assert cli("rm", url, "a").stdout == "removed 0 of 1 session (1 did not exist)\n"


async def test_revoke_keeps_the_excepted_sessions(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "v.db")
    await fill(
        url,
        {f"ada-{i}": session("ada") for i in range(5)} | {f"bob-{i}": session("bob") for i in range(3)},
    )
    result = cli_json("revoke", url, "--user", "ada", "--except", "ada-1", "--except", "ada-4")
    assert result["revoked"] == 3
    assert sorted(result["sids"]) == ["ada-0", "ada-2", "ada-3"]
    left = sorted(item["sid"] for item in cli_json("ls", url))
    assert left == ["ada-1", "ada-4", "bob-0", "bob-1", "bob-2"]
    text = cli("revoke", url, "--user", "bob")
    assert (text.returncode, text.stdout) == (0, "revoked 3 sessions of user bob\n")
    assert cli("revoke", url).returncode == 2  # --user is required


async def test_revoke_with_another_user_key(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "k.db")
    await fill(url, {"a": session(None, userId=5), "b": session(None, userId=6), "c": session(5)})
    result = cli_json("revoke", url, "--user", "5", "--user-key", "userId")
    assert result["sids"] == ["a"]


async def test_prune_deletes_expired_rows_and_the_readers_leave_them(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    # A store whose clock runs an hour late writes sessions that expired a minute ago for real.
    late = SQLiteStore(str(path), clock=lambda: now_ms() - HOUR_MS, sweep_interval=None)
    async with late:
        for index in range(4):
            await late.set(f"old-{index}", session("ada", expires_in_ms=-60_000))
        await late.set("live", session("ada"))
    assert rows(path) == 5
    assert cli_json("stats", sqlite_url(path))["sessions"] == 1
    assert rows(path) == 5  # reading commands delete nothing (no background sweep)
    assert cli_json("prune", sqlite_url(path)) == {"pruned": 4}
    assert rows(path) == 1
    text = cli("prune", sqlite_url(path))
    assert (text.returncode, text.stdout) == (0, "pruned 0 sessions (expired)\n")


async def test_prune_on_a_store_that_expires_sessions_itself(redis_url: str) -> None:
    result = cli("prune", redis_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "nothing to prune: the RedisStore expires sessions itself\n"
    assert cli_json("prune", redis_url) == {"pruned": None}


async def test_copy_refuses_a_non_empty_destination_and_resumes(tmp_path: Path) -> None:
    source, target = sqlite_url(tmp_path / "src.db"), sqlite_url(tmp_path / "dst.db")
    written = {f"s{i}": session(f"u{i % 3}", n=i) for i in range(20)}
    await fill(source, written)
    first = cli_json("copy", source, target, "--batch", "7")
    assert first == {"copied": 20, "skipped": 0, "expired": 0, "refused": 0, "read": 20}
    refused = cli("copy", source, target)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr.startswith("connectstore copy: ")
    assert "--resume" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    # An interrupted copy: some sessions missing at the destination, one newer there.
    newer = session("u3", n="newer")
    async with open_store(target) as store:
        for index in range(5):
            await store.destroy(f"s{index}")
        await store.set("s7", newer)
    resumed = cli("copy", source, target, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == "copied 5 sessions; skipped 15 already there; 0 expired on the way\n"
    async with open_store(target) as store:
        assert await store.get("s7") == newer
        assert await store.get("s2") == written["s2"]
        assert await store.length() == 20


def test_the_commands_are_listed_in_the_help() -> None:
    result = cli("--help")
    for name in ("stats", "ls", "show", "rm", "revoke", "prune", "copy"):
        assert name in result.stdout
    assert "index" in cli("revoke", "--help").stdout  # says the scan is until the index exists


def test_a_deadline_in_the_cookie_survives_the_copy_bytes_for_bytes(tmp_path: Path) -> None:
    source, target = tmp_path / "a.db", tmp_path / "b.db"
    expires = format_expires(now_ms() + 7 * HOUR_MS)
    data = session("ada", café="crème")
    data["cookie"]["expires"] = expires
    asyncio.run(fill(sqlite_url(source), {"x": data}))
    assert cli("copy", sqlite_url(source), sqlite_url(target)).returncode == 0
    with sqlite3.connect(source) as a, sqlite3.connect(target) as b:
        query = "SELECT sess, expired FROM sessions WHERE sid = 'x'"
        assert a.execute(query).fetchone() == b.execute(query).fetchone()
