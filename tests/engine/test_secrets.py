"""An empty secret is refused: a cookie signed with an empty key can be forged by anyone."""

from __future__ import annotations

from typing import Any

import pytest

from connectstore import MemoryStore, SessionEngine
from tests.engine.apps import make_app


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("", "secret is empty"),
        (b"", "secret is empty"),
        ([], "secret is required"),
        ((), "secret is required"),
        (["", "old"], r"secret\[0\] is empty"),
        (["new", ""], r"secret\[1\] is empty"),
        ([b"new", b""], r"secret\[1\] is empty"),
    ],
)
def test_empty_secrets_are_refused(secret: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SessionEngine(MemoryStore(), secret=secret)


@pytest.mark.parametrize("secret", [None, 42, ["ok", 42], [None]])
def test_secrets_that_are_not_text_or_bytes_are_a_type_error(secret: Any) -> None:
    with pytest.raises(TypeError, match="secret must be str"):
        SessionEngine(MemoryStore(), secret=secret)


def test_the_asgi_app_refuses_an_empty_secret_when_built() -> None:
    with pytest.raises(ValueError, match="empty"):
        make_app(MemoryStore(), secret="")


def test_non_empty_secrets_are_accepted() -> None:
    engine = SessionEngine(MemoryStore(), secret=("new", b"old"))
    assert engine.secrets == ["new", b"old"]
