"""Every Python snippet of the documentation runs and passes ``mypy --strict``.

The snippets are the ```` ```python ```` blocks of README.md, docs/*.md and the adapters' and
the suite's READMEs (see :mod:`tests.docs_snippets` for the markers and what "runs" means).
Each runs in its own process in a temp folder, against the real Redis on 127.0.0.1:6379:
its Redis URLs and ``prefix=`` values are given a prefix of their own, whose keys are
deleted afterwards, so the shared Redis is left as it was. All of them are then
type-checked together with the project's mypy configuration.
"""

from __future__ import annotations

import builtins
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis

from tests.docs_snippets import REPO, Snippet, all_snippets, extract

SNIPPETS = all_snippets()
RUNNABLE = [snippet for snippet in SNIPPETS if snippet.mode == "run"]

_REDIS_URL = re.compile(
    r"""(?P<url>redis://(?:127\.0\.0\.1|localhost)(?::6379)?/\d+)(?:\?(?P<query>[^"'\s]*))?"""
)
_PREFIX_ARGUMENT = re.compile(r"""\bprefix=(["'])[^"']*\1""")


def with_own_redis_prefix(source: str, prefix: str) -> str:
    """``source`` with every local Redis URL and ``prefix=`` argument using ``prefix``."""

    def url(match: re.Match[str]) -> str:
        query = [
            part for part in (match["query"] or "").split("&") if part and not part.startswith("prefix=")
        ]
        return f"{match['url']}?" + "&".join([f"prefix={prefix}", *query])

    return _PREFIX_ARGUMENT.sub(f'prefix="{prefix}"', _REDIS_URL.sub(url, source))


def delete_redis_keys(prefix: str) -> None:
    """Remove what a snippet left in the shared Redis under its own prefix."""
    with redis.Redis(host="127.0.0.1", port=6379, db=0) as client:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)


def test_the_documents_snippets_are_found() -> None:
    documents = {snippet.document for snippet in SNIPPETS}
    assert {
        "README.md",
        "docs/contract.md",
        "docs/errors.md",
        "docs/integrations.md",
        "docs/interop.md",
        "docs/sessions-and-cookies.md",
        "docs/writing-a-store.md",
        "adapters/redis/README.md",
    } <= documents
    assert len(RUNNABLE) >= 10, [s.id for s in RUNNABLE]
    assert len(RUNNABLE) >= 3 * (len(SNIPPETS) - len(RUNNABLE)), "most snippets must run"


def test_markers_and_fences_are_read_as_written(tmp_path: Path) -> None:
    """The extraction honours the markers, ~~~ fences, longer fences and other languages."""
    document = tmp_path / "doc.md"
    document.write_text(
        "text\n\n<!-- snippet: no-run (needs a server) -->\n\n```python\nx = 1\n```\n\n"
        "```sh\nnot python\n```\n"
        "~~~~python stub\ndef f() -> int: ...\n```\nstill inside\n~~~~\n"
        "<!-- snippet: https -->\n```py\napp = None\n```\n"
    )
    found = extract(document, "doc.md")
    assert [(s.line, s.mode, s.https, s.source) for s in found] == [
        (5, "no-run", False, "x = 1\n"),
        (12, "stub", False, "def f() -> int: ...\n```\nstill inside\n"),
        (18, "run", True, "app = None\n"),
    ]
    document.write_text("<!-- snippet: no-rnu -->\n```python\nx = 1\n```\n")
    with pytest.raises(ValueError, match="unknown snippet marker"):
        extract(document, "doc.md")


def test_local_redis_urls_get_the_test_prefix() -> None:
    source = (
        'a("redis://127.0.0.1:6379/0")\nb("redis://localhost:6379/0?prefix=myapp:&x=1")\nc(prefix="sess:")'
    )
    assert with_own_redis_prefix(source, "t:") == (
        'a("redis://127.0.0.1:6379/0?prefix=t:")\nb("redis://localhost:6379/0?prefix=t:&x=1")\nc(prefix="t:")'
    )


@pytest.mark.parametrize("snippet", RUNNABLE, ids=[snippet.id for snippet in RUNNABLE])
def test_snippet_runs(snippet: Snippet, tmp_path: Path) -> None:
    prefix = f"docs-test-{uuid.uuid4().hex[:10]}:"
    script = tmp_path / f"{snippet.module_name}.py"
    script.write_text(with_own_redis_prefix(snippet.source, prefix), encoding="utf-8")
    command = [sys.executable, "-m", "tests.docs_snippets", str(script)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    try:
        result = subprocess.run(
            [*command, *(["https"] if snippet.https else [])],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        delete_redis_keys(prefix)
    assert result.returncode == 0, (
        f"{snippet.id}\n{snippet.source}\n{result.stdout[-3000:]}{result.stderr[-4000:]}"
    )


def test_every_snippet_passes_mypy_strict(tmp_path: Path) -> None:
    files = []
    for snippet in SNIPPETS:
        path = tmp_path / "snippets" / f"{snippet.module_name}{'.pyi' if snippet.mode == 'stub' else '.py'}"
        path.parent.mkdir(exist_ok=True)
        path.write_text(snippet.source, encoding="utf-8")
        files.append(str(path))
    result = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml")),
            *("--cache-dir", str(tmp_path / "mypy-cache"), "--no-error-summary", *files),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    where = {snippet.module_name: snippet.id for snippet in SNIPPETS}
    report = re.sub(
        r"[^\s:]*/snippets/(snippet_\w+)\.pyi?:(\d+)",
        lambda m: f"{where[m[1]]} (+{m[2]})",
        result.stdout + result.stderr,
    )
    assert result.returncode == 0, report


# --- what docs/errors.md claims -------------------------------------------------------------

MALFORMED_URLS = [
    "",
    "not a url",
    "nope://x",
    "memory://?ttl=abc",
    "memory://?ttl=-5",
    "root:hunter2@db:6379",
    "memory://?bogus=1",
    "redis://127.0.0.1:6379/9x",
    "redis://127.0.0.1:6379/9/extra",
    "redis://127.0.0.1:6379/nine",
    "redis://127.0.0.1:notaport/0",
    "redis://127.0.0.1:99999/0",
    "redis://[::1/0",
    "redis://127.0.0.1/0?ttl=abc",
    "redis://127.0.0.1/0?bogus=1",
    "sqlite://",
    "sqlite:///x.db?ttl=abc",
    "sqlite:///x.db?bogus=1",
    "sqlite:///x.db?table=a;drop",
    "surrealdb+ws://db:notaport/rpc",
    "surrealdb+ws://[::1/rpc",
    "surrealdb+ws://root:hunter2@db:8000/rpc?ttl=-1",
    "surrealdb+mem://?bogus=1",
]


def test_the_errors_table_is_true() -> None:
    """docs/errors.md: each error of the table is a StoreError with the builtin base it names."""
    import connectstore

    document = (REPO / "docs" / "errors.md").read_text(encoding="utf-8")
    section = document.split("\n## Errors", 1)[1].split("\n## ", 1)[0]
    table = re.findall(r"^\| `(\w+)` \(also `(\w+)`\) \|", section, re.MULTILINE)
    assert len(table) >= 5, section[:500]
    exported = {
        name
        for name in connectstore.__all__
        if isinstance(getattr(connectstore, name), type)
        and issubclass(getattr(connectstore, name), connectstore.StoreError)
        and name != "StoreError"
    }
    assert sorted(exported - {name for name, _ in table}) == [], "errors the table does not list"
    for name, builtin in table:
        error = getattr(connectstore, name)
        assert issubclass(error, connectstore.StoreError), name
        assert issubclass(error, getattr(builtins, builtin)), (name, builtin)


def test_every_public_error_derives_from_store_error() -> None:
    """docs/errors.md: "All errors derive from StoreError"."""
    import connectstore

    exported = [
        getattr(connectstore, name)
        for name in connectstore.__all__
        if isinstance(getattr(connectstore, name), type)
        and issubclass(getattr(connectstore, name), Exception)
    ]
    assert [error.__name__ for error in exported if not issubclass(error, connectstore.StoreError)] == []


@pytest.mark.parametrize("url", MALFORMED_URLS)
def test_a_malformed_store_url_raises_store_url_error(url: str) -> None:
    """docs/errors.md: a malformed URL raises StoreURLError (at open_store, before any connection),
    and the message never shows the URL's password.
    """
    from connectstore import StoreURLError, open_store

    with pytest.raises(StoreURLError) as info:
        open_store(url)
    assert "hunter2" not in str(info.value)
