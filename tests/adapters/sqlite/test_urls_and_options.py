"""Store URLs, constructor options and table-name validation of SQLiteStore."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connectstore import StoreUnavailableError, StoreURLError, installed_schemes, open_store
from connectstore_sqlite import SQLiteStore, check_table_name, open_from_url, options_from_url

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
    assert installed_schemes()["sqlite"] == "connectstore_sqlite.url:open_from_url"


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
    assert options_from_url(url) == (path, {})
    assert open_from_url(url).path == path


def test_url_options() -> None:
    url = "sqlite:///s.db?table=web_sessions&ttl=60&sweep_interval=30&timeout=2.5&batch_size=50&synchronous=full"
    path, options = options_from_url(url)
    assert path == "s.db"
    assert options == {
        "table": "web_sessions",
        "ttl": 60.0,
        "sweep_interval": 30.0,
        "timeout": 2.5,
        "batch_size": 50,
        "synchronous": "full",
    }
    store = open_from_url(url)
    read = (store.table, store.ttl, store.sweep_interval, store.timeout, store.batch_size, store.synchronous)
    assert read == ("web_sessions", 60.0, 30.0, 2.5, 50, "FULL")
    for off in ("none", "off", ""):
        assert options_from_url(f"sqlite:///s.db?sweep_interval={off}")[1] == {"sweep_interval": None}
        assert open_from_url(f"sqlite:///s.db?sweep_interval={off}").sweep_interval is None


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
        open_store(url) if url.startswith("sqlite") else open_from_url(url)


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
        store = open_store("sqlite:///relative.db?table=app_sessions", sweep_interval=None)
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
        ({"sweep_interval": 0}, "sweep_interval"),
        ({"timeout": -1}, "timeout"),
        ({"batch_size": 0}, "batch_size"),
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
        "sqlite:///x.db?timeout=-1",
        "sqlite:///x%00.db",
        "sqlite:///x.db?colour=hunter2",
        "sqlite:///x.db?ttl=60&colour=hunter2#hunter2",
        "sqlite://u:hunter2@/x.db?batch_size=0",
        "sqlite:///x.db?table=web&colour=hunter2&table=app",
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
    [
        {"ttl": "60"},
        {"ttl": True},
        {"timeout": None},
        {"sweep_interval": "10"},
        {"batch_size": "10"},
        {"batch_size": 2.0},
        {"synchronous": 1},
    ],
)
def test_options_of_the_wrong_type_are_a_type_error(options: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        SQLiteStore(":memory:", **options)  # type: ignore[arg-type]
    [name] = options
    with pytest.raises(StoreURLError, match=name):  # through a URL: what every store's URL raises
        open_store("sqlite://:memory:", **options)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///x.db?cleanup_interval=30",  # the names before 0.1's renames are unknown
        "sqlite:///x.db?busy_timeout=5",
        "sqlite:///x.db?sweep_interval=0",  # "off" is none, off or empty, as in every store
        "sqlite:///x.db?sweep_interval=-1",
        "sqlite:///x.db?batch_size=0",
        "sqlite:///x.db?batch_size=1.5",
        "sqlite:///x.db?timeout=soon",
    ],
)
def test_url_options_are_read_as_every_store_reads_them(url: str) -> None:
    with pytest.raises(StoreURLError) as caught:
        open_store(url)
    option = url.partition("?")[2].partition("=")[0]
    assert repr(option) in str(caught.value)


def test_an_unknown_url_option_is_named_but_its_value_never_shown() -> None:
    with pytest.raises(StoreURLError) as caught:
        open_store("sqlite:///x.db?ttl=60&colour=blue")
    message = str(caught.value)
    assert "'colour'" in message
    assert "blue" not in message
    assert "ttl=60" in message, "known options are shown as written"
    assert "sweep_interval" in message, "the known options are listed"


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
