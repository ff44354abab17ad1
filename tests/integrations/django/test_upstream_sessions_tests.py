"""Django's own session tests (``tests/sessions_tests`` of the installed Django version, see
``upstream.py``) run against our ``SESSION_ENGINE`` backends on a MemoryStore, a SQLite file
and Redis:

* ``ConnectSessionStoreTests_<store>``: ``SessionTestsMixin`` with
  ``connectstore.integrations.django.SessionStore``;
* ``ExpressSessionStoreTests_<store>``: ``SessionTestsMixin`` with the express-mode engine
  (``connectstore.integrations.django.express``, the one Django's test client uses next to
  ``ConnectSessionMiddleware``);
* ``DjangoSessionMiddlewareTests_<store>``: Django's ``SessionMiddlewareTests`` with
  ``SESSION_ENGINE = "connectstore.integrations.django"``.

Every upstream test is either run, or listed in :data:`NOT_APPLICABLE` (or
:data:`NOT_APPLICABLE_TO_EXPRESS`) with the reason, and then reported as a skip carrying
it; :func:`test_every_upstream_test_is_run_or_listed` keeps these lists honest when Django
changes its suite. pytest collects the generated ``unittest`` classes, so a failing
upstream test is reported under its own name, e.g.
``ConnectSessionStoreTests_redis::test_actual_expiry``.
"""

from __future__ import annotations

import tempfile
import unittest
from contextlib import ExitStack
from pathlib import Path
from typing import Any, ClassVar

import django.test  # type: ignore[import-untyped]

from connectstore.integrations.django import ExpressSessionStore, SessionStore, close_bridge
from tests.integrations.django.upstream import load_sessions_tests
from tests.integrations.flask.bridge import open_bridge

upstream = load_sessions_tests()

STORE_KINDS = ("memory", "sqlite", "redis")

BACKEND_SPECIFIC = (
    "tests one of Django's own backends ({}); the backend-independent tests it inherits "
    "from SessionTestsMixin run against ours in ConnectSessionStoreTests_*"
)

#: Upstream tests that are not run, and why: a class name, or ``Class.test_name``.
NOT_APPLICABLE: dict[str, str] = {
    "DatabaseSessionTests": BACKEND_SPECIFIC.format("db: its Session model and clearsessions"),
    "DatabaseSessionWithTimeZoneTests": BACKEND_SPECIFIC.format("db, with USE_TZ"),
    "CustomDatabaseSessionTests": BACKEND_SPECIFIC.format("db with a custom Session model"),
    "CacheDBSessionTests": BACKEND_SPECIFIC.format("cached_db: the cache in front of the database"),
    "CacheDBSessionWithTimeZoneTests": BACKEND_SPECIFIC.format("cached_db, with USE_TZ"),
    "FileSessionTests": BACKEND_SPECIFIC.format("file: SESSION_FILE_PATH and file names"),
    "FileSessionPathLibTests": BACKEND_SPECIFIC.format("file, with a pathlib path"),
    "CacheSessionTests": BACKEND_SPECIFIC.format("cache: CACHES and cache keys"),
    "CookieSessionTests": BACKEND_SPECIFIC.format("signed_cookies: the session inside the cookie"),
    "SessionBaseTests": "tests the abstract SessionBase itself (NotImplementedError of each method)",
    "ClearSessionsCommandTests": (
        "tests clearsessions against Django's stub engine sessions_tests.no_clear_expired; ours "
        "implements clear_expired() (a no-op: stores expire sessions themselves)"
    ),
    "SessionMiddlewareTests.test_session_update_error_redirect": (
        "puts Django's database backend (DatabaseSession) into the request, not ours; the same "
        "rule for ours: test_session_engine.py::test_a_session_deleted_meanwhile_is_not_resurrected"
    ),
    "SessionMiddlewareTests.test_empty_session_saved": (
        "reads the saved session back through Django's Session model (the db backend's table); "
        "ours keeps an emptied session too: test_session_engine.py::test_an_emptied_session_is_saved"
    ),
}

#: Upstream tests that do not apply to the express-mode engine (``ExpressSessionStore``,
#: whose key is the signed ``connect.sid`` cookie value), and why.
NOT_APPLICABLE_TO_EXPRESS: dict[str, str] = {
    "SessionTestsMixin.test_session_key_valid_string_saved": (
        "sets the unsigned key '12345678'; in the express mode a key is the signed cookie value "
        "and an unsigned one is refused, as express-session refuses it (test_test_client.py::"
        "test_the_key_is_the_signed_cookie_value)"
    ),
    "SessionTestsMixin.test_actual_expiry": (
        "expects set_expiry() to set the stored expiry; in the express mode the cookie options of "
        "CONNECTSTORE['session'] do, as for request.session under ConnectSessionMiddleware "
        "(test_test_client.py::test_the_stored_cookie_is_the_middlewares)"
    ),
    "SessionTestsMixin.test_actual_expiry_async": "the async twin of test_actual_expiry (see there)",
}

#: Upstream test classes run here, once per store kind.
RUN = ("SessionTestsMixin", "SessionMiddlewareTests")


class OnStore:
    """Runs a test class with ``CONNECTSTORE`` on one fresh store of :attr:`store_kind`
    (shared by the class's tests, which delete what they create).
    """

    store_kind: ClassVar[str]
    settings: ClassVar[dict[str, Any]] = {}

    @classmethod
    def setUpClass(cls) -> None:
        stack = ExitStack()
        cls.addClassCleanup(stack.close)  # type: ignore[attr-defined]
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        bridge = stack.enter_context(open_bridge(cls.store_kind, folder))
        stack.callback(close_bridge)
        stack.enter_context(django.test.override_settings(CONNECTSTORE={"store": bridge}, **cls.settings))
        super().setUpClass()  # type: ignore[misc]


def _not_applicable(listing: dict[str, str], class_name: str) -> dict[str, Any]:
    """Skips (with their reason) for the tests of ``class_name`` in ``listing``."""
    prefix = f"{class_name}."
    return {
        name.removeprefix(prefix): unittest.skip(f"not applicable: {reason}")(lambda self: None)
        for name, reason in listing.items()
        if name.startswith(prefix)
    }


def _store_classes(kind: str) -> dict[str, type]:
    return {
        f"ConnectSessionStoreTests_{kind}": type(
            f"ConnectSessionStoreTests_{kind}",
            (OnStore, upstream.SessionTestsMixin, django.test.SimpleTestCase),
            {"backend": SessionStore, "store_kind": kind, "__module__": __name__},
        ),
        f"ExpressSessionStoreTests_{kind}": type(
            f"ExpressSessionStoreTests_{kind}",
            (OnStore, upstream.SessionTestsMixin, django.test.SimpleTestCase),
            {
                "backend": ExpressSessionStore,
                "settings": {"SESSION_COOKIE_NAME": "connect.sid"},
                "store_kind": kind,
                "__module__": __name__,
                **_not_applicable(NOT_APPLICABLE_TO_EXPRESS, "SessionTestsMixin"),
            },
        ),
        f"DjangoSessionMiddlewareTests_{kind}": type(
            f"DjangoSessionMiddlewareTests_{kind}",
            (OnStore, upstream.SessionMiddlewareTests),
            {
                "databases": set(),  # SESSION_ENGINE is ours: no database
                "store_kind": kind,
                "__module__": __name__,
                **_not_applicable(NOT_APPLICABLE, "SessionMiddlewareTests"),
            },
        ),
    }


for _kind in STORE_KINDS:
    globals().update(_store_classes(_kind))


def _upstream_tests() -> dict[str, list[str]]:
    """Every test of the upstream module, by class (the mixin counted as a class)."""
    loader = unittest.TestLoader()
    tests = {
        name: sorted(loader.getTestCaseNames(value))
        for name, value in vars(upstream).items()
        if isinstance(value, type) and value.__module__ == upstream.__name__
    }
    return {name: names for name, names in tests.items() if names}


def test_every_upstream_test_is_run_or_listed() -> None:
    tests = _upstream_tests()
    assert "SessionTestsMixin" in tests
    assert set(RUN) <= set(tests)
    unclassified = [name for name in tests if name not in RUN and name not in NOT_APPLICABLE]
    assert unclassified == [], "new upstream test classes: run them here or list them in NOT_APPLICABLE"
    stale = [
        entry
        for entry in [*NOT_APPLICABLE, *NOT_APPLICABLE_TO_EXPRESS]
        if entry.partition(".")[0] not in tests
        or ("." in entry and entry.partition(".")[2] not in tests[entry.partition(".")[0]])
    ]
    assert stale == [], "NOT_APPLICABLE lists tests that Django no longer has"
