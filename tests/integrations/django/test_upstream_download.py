"""How ``upstream.py`` gets Django's session tests: reused from the cache when present, and
when the download is impossible, a skip on a developer's machine but a failure under
``CI=true`` (where the outside suite must run).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integrations.django.upstream import DJANGO_VERSION, sessions_tests_path


@pytest.fixture
def no_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache, and a pip that cannot reach any package index."""
    monkeypatch.setenv("CONNECTSTORE_TEST_CACHE", str(tmp_path))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    return tmp_path


def test_a_missing_download_fails_under_ci(no_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(RuntimeError, match=f"pip download of the Django {DJANGO_VERSION} sdist failed"):
        sessions_tests_path()
    assert list(no_index.iterdir()) == []  # nothing half-made is left in the cache


def test_a_missing_download_skips_elsewhere(no_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="pip download"):
        sessions_tests_path()


def test_the_cache_is_reused(no_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    cached = no_index / f"django-{DJANGO_VERSION}-tests"
    (cached / "sessions_tests").mkdir(parents=True)
    (cached / "sessions_tests" / "tests.py").write_text("", encoding="utf-8")
    assert sessions_tests_path() == cached  # no download attempted: pip has no index here
