"""Issue 13's names: one module per job, one name per thing, and a top level holding only what
adapters, store authors and application developers use.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

import connectstore
from connectstore import errors, urls

PACKAGE = Path(connectstore.__file__).parent

WIRE_HELPERS = {
    "connectstore.signing": [
        "sign",
        "unsign",
        "sign_cookie",
        "unsign_cookie",
        "generate_sid",
        "encode_uri_component",
        "decode_uri_component",
    ],
    "connectstore.cookie": ["format_expires", "parse_expires", "parse_cookie_header"],
    "connectstore.session": ["session_hash"],
}


@pytest.mark.parametrize("module", ["connectstore.cookies", "connectstore.asgi"])
def test_the_old_modules_are_gone(module: str) -> None:
    assert importlib.util.find_spec(module) is None


def test_the_asgi_middleware_is_an_integration() -> None:
    from connectstore.integrations.asgi import SessionMiddleware

    assert SessionMiddleware.__module__ == "connectstore.integrations.asgi"


@pytest.mark.parametrize(("module", "names"), WIRE_HELPERS.items())
def test_wire_helpers_live_in_their_modules_not_at_the_top_level(module: str, names: list[str]) -> None:
    imported = importlib.import_module(module)
    for name in names:
        assert callable(getattr(imported, name)), name
        assert name in imported.__all__, name
        assert name not in connectstore.__all__, name


def test_session_not_found_is_in_the_error_hierarchy() -> None:
    assert connectstore.SessionNotFoundError is errors.SessionNotFoundError
    assert issubclass(errors.SessionNotFoundError, errors.StoreError)
    assert issubclass(errors.SessionNotFoundError, LookupError)


def test_the_url_factory_has_its_own_name() -> None:
    assert "StoreURLFactory" in urls.__all__
    assert not hasattr(urls, "StoreFactory")


def test_the_request_session_is_exported_under_its_new_name() -> None:
    assert "RequestSession" in connectstore.__all__
    assert not hasattr(connectstore, "RequestSessions")


def test_no_module_of_the_package_has_a_global_statement() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Global)
    ]
    assert offenders == []
