"""Django's own ``tests/sessions_tests``, taken at test time from the sdist of the installed
Django version on the package index (never copied into this repository).

``pip download --no-deps --no-binary :all: django==<installed version>`` fetches the sdist
once; only its ``tests/sessions_tests`` folder is kept, in a cache outside the repository
(``$CONNECTSTORE_TEST_CACHE``, else ``$XDG_CACHE_HOME/connectstore``, else
``~/.cache/connectstore``), and reused by every later run. Without network the tests that
need it are skipped, but under ``CI=true`` a missing download fails the run.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType

import django  # type: ignore[import-untyped]
import pytest
from django.test import override_settings  # type: ignore[import-untyped]

__all__ = ["DJANGO_VERSION", "load_sessions_tests"]

DJANGO_VERSION: str = django.__version__
PACKAGE = "sessions_tests"
DOWNLOAD_TIMEOUT = 600.0  # seconds: a slow index or network, not a hang


def _cache_root() -> Path:
    explicit = os.environ.get("CONNECTSTORE_TEST_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "connectstore"


def _unavailable(reason: str) -> None:
    """Skip the module, or fail it under ``CI=true`` (where the suite must run)."""
    if os.environ.get("CI") == "true":
        raise RuntimeError(reason)
    pytest.skip(reason, allow_module_level=True)


def _download_sdist(into: Path) -> Path:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--no-binary",
        ":all:",
        f"django=={DJANGO_VERSION}",
        "--dest",
        str(into),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        _unavailable(f"pip download of the Django {DJANGO_VERSION} sdist took over {DOWNLOAD_TIMEOUT:.0f} s")
    if done.returncode != 0:
        _unavailable(
            f"pip download of the Django {DJANGO_VERSION} sdist failed: {done.stderr.strip()[-800:]}"
        )
    sdists = sorted(into.glob("[Dd]jango-*.tar.gz"))
    if len(sdists) != 1:
        _unavailable(f"pip download left {[p.name for p in into.iterdir()]}, not one Django sdist")
    return sdists[0]


def _extract_sessions_tests(sdist: Path, into: Path) -> None:
    """Only ``<root>/tests/sessions_tests/*`` of the sdist, as ``into/sessions_tests``."""
    with tarfile.open(sdist) as tar:
        members = [
            member
            for member in tar.getmembers()
            if member.isfile() and member.name.split("/")[1:3] == ["tests", PACKAGE]
        ]
        if not members:
            _unavailable(f"{sdist.name} has no tests/{PACKAGE}")
        for member in members:
            parts = member.name.split("/")[2:]
            if any(part in ("", ".", "..") for part in parts):
                _unavailable(f"{sdist.name} holds an unsafe path {member.name!r}")
            relative = Path(*parts)
            target = into / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())


def sessions_tests_path() -> Path:
    """The folder holding the ``sessions_tests`` package of the installed Django version,
    downloaded on first use (a folder appears in the cache only once complete).
    """
    final = _cache_root() / f"django-{DJANGO_VERSION}-tests"
    if (final / PACKAGE / "tests.py").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{final.name}-", dir=final.parent))
    try:
        sdist = _download_sdist(work / "download")
        _extract_sessions_tests(sdist, work / "tests")
        try:
            (work / "tests").rename(final)
        except OSError:
            if not (final / PACKAGE / "tests.py").is_file():  # not a concurrent run that won
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def load_sessions_tests() -> ModuleType:
    """Django's ``sessions_tests.tests`` module, imported with the apps it needs installed
    (``django.contrib.sessions`` and ``sessions_tests`` for the models it declares).
    """
    path = str(sessions_tests_path())
    if path not in sys.path:
        sys.path.append(path)
    with override_settings(
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            PACKAGE,
        ]
    ):
        return importlib.import_module(f"{PACKAGE}.tests")
