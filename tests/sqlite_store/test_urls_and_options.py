"""Store URLs, constructor options and table-name validation of SQLiteStore."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connectstore import StoreUnavailableError, StoreURLError, installed_schemes, open_store
from connectstore_sqlite import SQLiteStore, check_table_name, parse_sqlite_url

from .helpers import raw_rows, session_at

HOSTILE_TABLE_NAMES = [
    "",
    "1sessions",
    "sessions; DROP TABLE users",
    'se"ssions',
    "se'ssions",
    "sessions--",
    "main.sessions",
    "sess ions",
    "séssions",
    "sqlite_master",
    "SQLITE_sessions",
    "x" * 64,
    "sessions\x00",
]


def test_sqlite_scheme_is_registered() -> None:
    assert installed_schemes()["sqlite"] == "connectstore_sqlite.url:open_sqlite_store"


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///sessions.db", "sessions.db"),
        ("sqlite:///data/sessions.db", "data/sessions.db"),
        ("sqlite:////var/lib/app/sessions.db", "/var/lib/app/sessions.db"),
        ("sqlite:////tmp/with%20space.db", "/tmp/with space.db"),
        ("sqlite://:memory:", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
        ("SQLITE:///x.db", "x.db"),
    ],
)
def test_url_paths(url: str, path: str) -> None:
    assert parse_sqlite_url(url) == (path, {})


def test_url_options() -> None:
    path, options = parse_sqlite_url(
        "sqlite:///s.db?table=web_sessions&ttl=60&cleanup_interval=30&busy_timeout=2.5&synchronous=full"
    )
    assert path == "s.db"
    assert options == {
        "table": "web_sessions",
        "ttl": 60.0,
        "cleanup_interval": 30.0,
        "busy_timeout": 2.5,
        "synchronous": "full",
    }
    assert parse_sqlite_url("sqlite:///s.db?cleanup_interval=none")[1] == {"cleanup_interval": None}


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///",
        "sqlite://host/x.db",
        "sqlite://x.db",
        "sqlite:///x.db?tabel=sessions",
        "sqlite:///x.db?ttl=soon",
        "sqlite:///x.db?table=bad;name",
        "sqlite:///x.db?ttl=-1",
        "redis:///x.db",
    ],
)
def test_bad_urls_raise_store_url_error(url: str) -> None:
    with pytest.raises(StoreURLError):
        open_store(url) if url.startswith("sqlite") else parse_sqlite_url(url)


async def test_open_store_absolute_path_starts_empty_and_works(tmp_path: Path) -> None:
    path = tmp_path / "check.db"
    store = open_store(f"sqlite:///{path}")  # sqlite:// + /absolute = four slashes
    assert isinstance(store, SQLiteStore)
    assert store.path == str(path)
    assert not path.exists(), "constructing a store must not touch the file"
    try:
        assert await store.length() == 0
        await store.set("abc", session_at(None, views=1))
        assert (await store.get("abc") or {})["views"] == 1
    finally:
        await store.close()
    assert raw_rows(path, "SELECT sid FROM sessions") == [("abc",)]


async def test_open_store_relative_path_is_relative_to_cwd(tmp_path: Path) -> None:
    previous = os.getcwd()
    os.chdir(tmp_path)
    try:
        store = open_store("sqlite:///relative.db?table=app_sessions", cleanup_interval=None)
        try:
            await store.set("abc", session_at(None))
        finally:
            await store.close()
    finally:
        os.chdir(previous)
    assert raw_rows(tmp_path / "relative.db", "SELECT sid FROM app_sessions") == [("abc",)]


async def test_keyword_options_win_over_the_url() -> None:
    store = open_store("sqlite://:memory:?ttl=60", ttl=120)
    assert isinstance(store, SQLiteStore)
    assert store.ttl == 120
    await store.close()


@pytest.mark.parametrize("table", HOSTILE_TABLE_NAMES)
def test_hostile_table_names_are_refused(table: str) -> None:
    with pytest.raises(ValueError, match="invalid table name"):
        SQLiteStore(":memory:", table=table)


@pytest.mark.parametrize("table", ["sessions", "Sessions_2", "_private", "x" * 63])
def test_plain_identifiers_are_accepted(table: str) -> None:
    assert check_table_name(table) == table


def test_table_name_must_be_text() -> None:
    with pytest.raises(TypeError):
        check_table_name(b"sessions")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ttl": 0}, "ttl"),
        ({"ttl": -5}, "ttl"),
        ({"cleanup_interval": 0}, "cleanup_interval"),
        ({"busy_timeout": -1}, "busy_timeout"),
        ({"synchronous": "sometimes"}, "synchronous"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SQLiteStore(":memory:", **options)  # type: ignore[arg-type]


def test_empty_path_is_refused() -> None:
    with pytest.raises(ValueError, match="path"):
        SQLiteStore("")


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://admin:hunter2@db.example/x.db",
        "sqlite://:hunter2@/x.db",
        "sqlite:///x.db?password=hunter2",
        "sqlite:///x.db?ttl=60&secret=hunter2&table=bad;name",
        "sqlite:///x.db?ttl=1&ttl=2&token=hunter2",
        "sqlite:///x.db#hunter2",
        "sqlite:///x.db?ttl=inf",
        "sqlite:///x.db?ttl=nan",
        "sqlite:///x.db?busy_timeout=-1",
        "sqlite:///x%00.db",
    ],
)
def test_url_errors_are_typed_and_never_repeat_a_secret(url: str) -> None:
    with pytest.raises(StoreURLError) as caught:
        open_store(url)
    messages = []
    error: BaseException | None = caught.value
    while error is not None:
        messages += [str(error), repr(error)]
        error = error.__cause__ or error.__context__
    assert messages
    assert not [m for m in messages if "hunter2" in m], messages


@pytest.mark.parametrize(
    "options",
    [{"ttl": "60"}, {"ttl": True}, {"busy_timeout": None}, {"cleanup_interval": "10"}, {"synchronous": 1}],
)
def test_options_of_the_wrong_type_are_a_type_error(options: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        SQLiteStore(":memory:", **options)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        open_store("sqlite://:memory:", **options)


async def test_unreachable_path_is_unavailable_and_says_where(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "dir" / "x.db"
    store = open_store(f"sqlite:///{path}?table=app_sessions")
    assert repr(store) == f"SQLiteStore({str(path)!r}, table='app_sessions')"
    try:
        with pytest.raises(StoreUnavailableError, match="unable to open") as caught:
            await store.get("a")
        assert str(path) in str(caught.value)
    finally:
        await store.close()
    assert not path.parent.exists()
