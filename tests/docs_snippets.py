"""The Python snippets of the documentation, and how tests/test_docs.py runs each one.

Every ```` ```python ```` block of the documented Markdown files is a snippet. A block is
run and type-checked unless an HTML comment right before it (blank lines allowed) says
otherwise, with a reason::

    <!-- snippet: no-run (needs a SurrealDB server) -->   type-checked, not run
    <!-- snippet: stub (signatures only) -->              type-checked as a .pyi stub, not run
    <!-- snippet: https -->                               drive its app over https://

(``no-run``/``stub`` may also follow ``python`` in the fence's info string.)

Running a snippet (``python -m tests.docs_snippets FILE``, in a fresh process whose working
directory is a temp folder) executes it as a script and then exercises what it defined:

* an ASGI app (FastAPI, Starlette), an aiohttp ``web.Application`` or a Flask app named
  ``app``: through the framework's own test client, ``POST /login`` must answer 2xx/3xx and
  the next request, ``GET /me`` with the cookies the client kept, must answer 200 naming
  ``alice`` (the snippets' convention);
* Django settings (``SESSION_ENGINE``, ``MIDDLEWARE``): every dotted path must import;
* a ``StoreConformance`` subclass: pytest runs two of its checks.

The process must exit 0 by itself: a snippet that leaves something running fails.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import runpy
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

#: The documents whose snippets are tested (globs relative to the repository).
DOCUMENTS = ("README.md", "docs/*.md", "adapters/*/README.md", "conformance/README.md")

MODES = ("run", "no-run", "stub")

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*snippet:\s*(?P<words>.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Snippet:
    """One ```python block: where it is, its code, and how the docs test treats it."""

    document: str
    line: int
    source: str
    mode: str = "run"
    https: bool = False

    @property
    def id(self) -> str:
        """``README.md:222``: the document and the line of the opening fence."""
        return f"{self.document}:{self.line}"

    @property
    def module_name(self) -> str:
        """A module name unique among the snippets, for the type-check files."""
        stem = re.sub(r"[^0-9a-zA-Z]+", "_", self.document).strip("_").lower()
        return f"snippet_{stem}_l{self.line}"


def documents() -> list[Path]:
    """The Markdown files whose snippets are tested, in a stable order."""
    found: list[Path] = []
    for pattern in DOCUMENTS:
        found += sorted(REPO.glob(pattern))
    return found


def extract(path: Path, document: str | None = None) -> list[Snippet]:
    """The ```python blocks of ``path`` (a fence of ``` or ~~~, closed by the same kind of at
    least the same length; blocks in other languages are skipped whole). ``document`` names
    it in the snippets' ids (default: its path in the repository).
    """
    document = document or path.relative_to(REPO).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    snippets: list[Snippet] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening["fence"]
        info = opening["info"].split()
        end = index + 1
        while end < len(lines):
            closing = _FENCE.match(lines[end])
            if (
                closing is not None
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            end += 1
        if info and info[0].lower() in ("python", "py", "python3"):
            words = info[1:] + _marker_words(lines, index)
            unknown = [word for word in words if word not in (*MODES, "https")]
            if unknown:
                raise ValueError(f"{document}:{index + 1}: unknown snippet marker {unknown}")
            mode = next((word for word in words if word in MODES), "run")
            body = "\n".join(line[len(opening["indent"]) :] for line in lines[index + 1 : end])
            snippets.append(Snippet(document, index + 1, body + "\n", mode, "https" in words))
        index = end + 1
    return snippets


def _marker_words(lines: list[str], fence_index: int) -> list[str]:
    """The words of a ``<!-- snippet: ... -->`` comment just above a fence (blank lines
    allowed between), without its parenthesised reason.
    """
    above = fence_index - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    marker = _MARKER.match(lines[above]) if above >= 0 else None
    if marker is None:
        return []
    return re.sub(r"\(.*\)", "", marker["words"]).replace(",", " ").split()


def all_snippets() -> list[Snippet]:
    """Every snippet of every tested document."""
    return [snippet for path in documents() for snippet in extract(path)]


# --- running one snippet (in its own process) ---------------------------------------------


def run_file(path: Path, https: bool) -> None:
    """Run the snippet file ``path`` as a script, then exercise what it defined."""
    namespace = runpy.run_path(str(path), run_name="__main__")
    app = namespace.get("app")
    base = "https://testserver" if https else "http://testserver"
    if app is not None:
        drive_app(app, base)
    for name in ("SESSION_ENGINE", "MIDDLEWARE"):
        for dotted in _as_list(namespace.get(name)):
            _import_dotted(dotted)
    tests = [
        value
        for name, value in namespace.items()
        if name.startswith("Test") and isinstance(value, type) and _is_conformance_class(value)
    ]
    if tests:
        run_conformance_snippet(path)


def drive_app(app: Any, base: str) -> None:
    """``POST /login`` then ``GET /me`` through the framework's own test client."""
    from aiohttp import web
    from flask import Flask
    from starlette.applications import Starlette

    if isinstance(app, Starlette):
        from starlette.testclient import TestClient

        with TestClient(app, base_url=base) as client:
            login = client.post("/login", follow_redirects=False)
            me = client.get("/me")
        check_login(login.status_code, login.headers.get_list("set-cookie"), me.status_code, me.text)
    elif isinstance(app, web.Application):
        asyncio.run(_drive_aiohttp(app))
    elif isinstance(app, Flask):
        client = app.test_client()
        login_reply = client.post("/login", base_url=base, follow_redirects=False)
        me_reply = client.get("/me", base_url=base)
        cookies = login_reply.headers.getlist("Set-Cookie")
        check_login(login_reply.status_code, cookies, me_reply.status_code, me_reply.get_data(as_text=True))
        extension = app.extensions.get("connectstore")
        if extension is not None:
            extension.close()
    else:
        raise AssertionError(f"the snippet's app is a {type(app).__name__}: no test client known for it")


async def _drive_aiohttp(app: Any) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(app)) as client:
        login = await client.post("/login", allow_redirects=False)
        cookies = login.headers.getall("Set-Cookie", [])
        me = await client.get("/me")
        check_login(login.status, cookies, me.status, await me.text())


def check_login(login_status: int, cookies: list[str], me_status: int, me_body: str) -> None:
    """The convention every app snippet follows: login works, and the next request is
    logged in as alice (so the cookie really came back).
    """
    assert 200 <= login_status < 400, f"POST /login answered {login_status}"
    assert cookies, "POST /login sent no Set-Cookie header"
    assert me_status == 200, f"GET /me after logging in answered {me_status}: {me_body[:300]}"
    assert "alice" in me_body, f"GET /me after logging in does not name alice: {me_body[:300]}"


def run_conformance_snippet(path: Path) -> None:
    """pytest runs two checks of the snippet's conformance class."""
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", str(path), "-p", "no:cacheprovider", "-q"),
            *("-k", "test_set_then_get_returns_the_session or test_destroy_removes_session"),
            *("-o", "asyncio_mode=strict", "-W", "ignore::DeprecationWarning", "--rootdir", str(path.parent)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout, result.stdout[-3000:]


def _is_conformance_class(value: type) -> bool:
    return any(base.__name__ == "StoreConformance" for base in value.__mro__)


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [item for item in value if isinstance(item, str)]
    return []


def _import_dotted(dotted: str) -> None:
    """Import a module path, or a module attribute such as a middleware class."""
    try:
        importlib.import_module(dotted)
    except ImportError:
        module, _, attribute = dotted.rpartition(".")
        if not hasattr(importlib.import_module(module), attribute):
            raise AssertionError(f"{dotted} names nothing") from None


if __name__ == "__main__":
    run_file(Path(sys.argv[1]), https=len(sys.argv) > 2 and sys.argv[2] == "https")
