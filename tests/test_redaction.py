"""connectstore.redaction: URLs shown without their credentials, and texts scrubbed of them.

Hostile cases throughout: percent-encoded passwords, passwords holding ``@ : / ? #`` raw,
credentials in the query, a user without a password, IPv6 hosts, malformed URLs. Every
redacted URL must keep what is not a credential exactly as written.
"""

from __future__ import annotations

import traceback
from typing import Any

import pytest

import connectstore
from connectstore import (
    REDACTED,
    Credentials,
    MemoryStore,
    StoreError,
    StoreURLError,
    open_store,
    redact_url,
    url_credentials,
)
from connectstore.redaction import MIN_SCRUBBED, is_credential_name

SECRET = "hunter2"


def test_the_names_are_public() -> None:
    for name in ("REDACTED", "Credentials", "redact_url", "url_credentials"):
        assert name in connectstore.__all__
    assert REDACTED == "***"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # nothing to hide: kept exactly as written
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("memory://", "memory://"),
        ("memory://?ttl=60", "memory://?ttl=60"),
        ("sqlite:///tmp/f@x.db?table=s", "sqlite:///tmp/f@x.db?table=s"),
        ("redis://h:6379/0?client_name=bob@example.com", "redis://h:6379/0?client_name=bob@example.com"),
        ("redis://h/0?prefix=a%20b&ttl=1&flag", "redis://h/0?prefix=a%20b&ttl=1&flag"),
        # the password, whatever its length or encoding
        ("redis://:hunter2@db/0", "redis://:***@db/0"),
        ("redis://alice:hunter2@db:6379/0", "redis://alice:***@db:6379/0"),
        ("redis://alice:x@db/0", "redis://alice:***@db/0"),
        ("redis://:p%40ss%3Aw%2Fo%3Fr%23d@db/0", "redis://:***@db/0"),
        (
            "rediss+cluster://u:pw@n1:7000?ssl_cert_reqs=none",
            "rediss+cluster://u:***@n1:7000?ssl_cert_reqs=none",
        ),
        # passwords holding @ : / ? # raw
        ("redis://:p@ss@db/0", "redis://:***@db/0"),
        ("redis://user:pa:ss@db/0", "redis://user:***@db/0"),
        ("redis://user:pa/ss@db/0", "redis://user:***@db/0"),
        ("redis://user:12/34@db/0", "redis://user:***@db/0"),
        ("redis://:pa?ss@db/0?ttl=1", "redis://:***@db/0?ttl=1"),
        ("redis://:pa#ss@db/0", "redis://:***@db/0"),
        ("redis://:a@b/c@db/0", "redis://:***@db/0"),
        ("redis://:p/a?s#s@w@db:1/0?ttl=1", "redis://:***@db:1/0?ttl=1"),
        # a user name is shown; an empty password is shown empty
        ("redis://alice@db/0", "redis://alice@db/0"),
        ("redis://alice:@db/0", "redis://alice:@db/0"),
        ("redis://alice@db:6379/a@b", "redis://alice@db:6379/a@b"),
        # IPv6 hosts
        ("redis://[::1]:6379/0", "redis://[::1]:6379/0"),
        ("redis://u:pw@[::1]:6379/0", "redis://u:***@[::1]:6379/0"),
        ("redis://[::1]/0?client_name=a@b", "redis://[::1]/0?client_name=a@b"),
        ("redis://u:pw@[fe80::1%25eth0]:6379/0", "redis://u:***@[fe80::1%25eth0]:6379/0"),
        # credentials in the query
        ("redis://db/0?password=hunter2&prefix=app:", "redis://db/0?password=***&prefix=app:"),
        (
            "rediss://db/0?ssl_password=x&ssl_keyfile=/k.pem",
            "rediss://db/0?ssl_password=***&ssl_keyfile=/k.pem",
        ),
        ("surrealdb+ws://db/rpc?token=a.b.c&ns=app", "surrealdb+ws://db/rpc?token=***&ns=app"),
        (
            "x://h/?apiKey=1&client_secret=2&X-Auth-Token=3",
            "x://h/?apiKey=***&client_secret=***&X-Auth-Token=***",
        ),
        ("x://h/?PASSWORD=1&pwd=2&passphrase=3", "x://h/?PASSWORD=***&pwd=***&passphrase=***"),
        ("x://h/?pass%77ord=1&http_auth=u:p", "x://h/?pass%77ord=***&http_auth=***"),
        ("x://h/?token=ab#cd&ttl=1", "x://h/?token=***&ttl=1"),
        ("x://h/?token=&password", "x://h/?token=&password"),
        ("x://u:pw@h/?token=t&token=u", "x://u:***@h/?token=***&token=***"),
        # malformed URLs: masked all the same
        ("redis://:hunter2@[::1/0", "redis://:***@[::1/0"),
        ("redis://:hunter2@db:99999/0", "redis://:***@db:99999/0"),
        ("surrealdb+ws://root:hunter2@/rpc", "surrealdb+ws://root:***@/rpc"),
        ("redis://:hunter2@", "redis://:***@"),
        ("://:hunter2@db", "://:***@db"),
        ("redis://:hunter2", "redis://:hunter2"),  # no @: a host and a (bad) port
        # no scheme: unchanged, unless an @ says it may hold a credential
        ("app.stores:make", "app.stores:make"),
        ("root:hunter2@db", REDACTED),
        ("hunter2@db", REDACTED),
        ("", ""),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "name",
    [
        "prefix",
        "ttl",
        "key_prefix",
        "keyPrefix",
        "trust_key_ttl",
        "ssl_keyfile",
        "ssl_certfile",
        "auth",
        "AUTH",
        "namespace",
        "db",
        "table",
        "username",
        "user",
        "client_name",
        "password_file",
        "monkey_id",
        "",
    ],
)
def test_store_options_are_not_credentials(name: str) -> None:
    """Whole words, not substrings: Redis' and SurrealDB's options stay readable."""
    assert not is_credential_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "ssl_password",
        "pass",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "X-Auth-Token",
        "key",
        "api_key",
        "apiKey",
        "APIKey",
        "apikey",
        "credential",
        "credentials",
        "http_auth",
        "authorization",
        "pass%77ord",
        "ssl+password",
    ],
)
def test_credential_names(name: str) -> None:
    assert is_credential_name(name)


def test_the_options_of_the_adapters_are_shown() -> None:
    """Of the Redis and SurrealDB adapters' URL options, only the credentials are masked."""
    from connectstore_redis.url import REDIS_URL_OPTIONS, STORE_URL_OPTIONS
    from connectstore_surrealdb import url as surreal_url

    redis_credentials = {"password", "ssl_password"}
    surreal_credentials = {"token"}
    for names, credentials in (
        ({*REDIS_URL_OPTIONS, *STORE_URL_OPTIONS, "db"}, redis_credentials),
        (set(surreal_url.OPTIONS.names), surreal_credentials),
    ):
        assert credentials <= names
        for name in names:
            assert is_credential_name(name) == (name in credentials), name
            url = f"x://h/?{name}=value-1&ttl=1"
            expected = f"x://h/?{name}=***&ttl=1" if name in credentials else url
            assert redact_url(url) == expected


@pytest.mark.parametrize(
    ("url", "credentials"),
    [
        ("redis://:hunter2@db/0", {"hunter2"}),
        ("redis://:p%40ss%2Fword@db/0", {"p%40ss%2Fword", "p@ss/word"}),
        ("redis://user:pa/ss?w#o@rd@db/0", {"pa/ss?w#o@rd"}),
        ("redis://db/0?password=a+b%2Bc&ttl=10", {"a+b%2Bc", "a+b+c", "a b+c"}),
        ("surrealdb+ws://db/rpc?token=abc.def&auth=namespace", {"abc.def"}),
        ("root:hunter2@db", {"hunter2", "root:hunter2@db"}),
    ],
)
def test_url_credentials_know_every_form(url: str, credentials: set[str]) -> None:
    found = url_credentials(url)
    assert found
    for credential in credentials:
        text = f"driver said: {credential}!"
        assert found.scrub(text) == "driver said: ***!", credential


@pytest.mark.parametrize(
    "url",
    [
        "redis://db/0",
        "redis://alice@db/0",
        "redis://alice:@db/0?password=",
        "app:make",
        "memory://?ttl=5",
        "",
    ],
)
def test_url_credentials_of_a_url_without_any(url: str) -> None:
    found = url_credentials(url)
    assert not found
    assert found.scrub("any text, ***, alice") == "any text, ***, alice"


def test_scrub_masks_every_form_longest_first() -> None:
    credentials = Credentials(["p@ss w+rd", None, "", 42, b"bytes-pw"])
    for form in ("p@ss w+rd", "p%40ss%20w%2Brd", "p%40ss+w%2Brd", "p@ss w rd", "bytes-pw"):
        assert credentials.scrub(f"[{form}]") == "[***]", form
    both = Credentials(["abc"]) + Credentials(["abcdef"])
    assert both.scrub("abcdef abc") == "*** ***"  # the longer one whole, not "***def"
    assert Credentials(["xabcd", "**y"]).scrub("xabcdy") == "***y"  # a mask is not matched again


def test_short_credentials_are_not_scrubbed_from_free_text() -> None:
    """A credential shorter than MIN_SCRUBBED cannot be told from text; redact_url still masks it."""
    assert MIN_SCRUBBED == 3
    short = Credentials(["a", "pw"])
    assert short  # they are known...
    assert short.scrub("a password was refused") == "a password was refused"  # ...but not scrubbed
    assert redact_url("redis://:a@db/0?password=pw") == "redis://:***@db/0?password=***"
    assert Credentials(["pw3"]).scrub("pw3") == REDACTED


def test_credentials_never_show_in_a_repr() -> None:
    credentials = url_credentials(f"redis://:{SECRET}@db/0")
    assert SECRET not in repr(credentials)
    assert SECRET not in repr(credentials + Credentials([SECRET]))


def test_adding_anything_but_credentials_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Credentials() + "hunter2"  # type: ignore[operator]


def _rendered(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__)) + repr(error)


@pytest.fixture
def leaky_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    """``leaky://``: a store factory whose errors quote its URL and options, as drivers do."""

    def factory(url: str, **options: Any) -> MemoryStore:
        if "value" in url:
            raise ValueError(f"cannot use {url} with {options}")
        try:
            raise ConnectionError(f"driver: AUTH {url}")
        except ConnectionError as exc:
            raise StoreError(f"cannot open {url}") from exc

    monkeypatch.setitem(connectstore.urls._BUILT_IN, "leaky", factory)


@pytest.mark.usefixtures("leaky_factory")
@pytest.mark.parametrize(
    ("url", "options"),
    [
        (f"leaky://:{SECRET}@db/value", {}),
        (f"leaky://db/value?token={SECRET}", {}),
        ("leaky://db/value", {"password": SECRET}),
        (f"leaky://:{SECRET}@db/", {}),
    ],
)
def test_open_store_never_shows_a_credential(url: str, options: dict[str, Any]) -> None:
    with pytest.raises(StoreError) as info:
        open_store(url, **options)
    assert SECRET not in _rendered(info.value)
    assert REDACTED in str(info.value)
    if "value" in url:
        assert isinstance(info.value, StoreURLError)
        assert info.value.__cause__ is None  # the factory's error quoted the credential


def test_open_store_keeps_a_cause_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    def factory(url: str, **options: Any) -> MemoryStore:
        raise ValueError("ttl must be positive")

    monkeypatch.setitem(connectstore.urls._BUILT_IN, "picky", factory)
    with pytest.raises(StoreURLError, match="ttl must be positive") as info:
        open_store(f"picky://:{SECRET}@db/")
    assert isinstance(info.value.__cause__, ValueError)
