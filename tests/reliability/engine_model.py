"""What the engine fuzz of test_fuzz.py drives: an app route acting on the session
(:func:`act`) and express-session's own rules as a model (:class:`Model`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectstore import Session

ACTIONS = ["none", "modify", "save", "regenerate", "destroy", "unset"]
COOKIES = ["current", "none", "tampered", "stale"]


async def act(request: Request) -> Response:
    session: Session | None = request.scope.get("session")
    assert session is not None
    do = request.query_params["do"]
    if do == "modify":
        session["k"] = request.query_params["n"]
    elif do == "save":
        session["saved"] = request.query_params["n"]
        await session.save()
    elif do == "regenerate":
        await session.regenerate()
    elif do == "destroy":
        await session.destroy()
        return JSONResponse({"id": None})
    elif do == "unset":
        request.scope["session"] = None
        return JSONResponse({"id": None})
    return JSONResponse({"id": session.id})


@dataclass
class Model:
    """express-session 1.19's rules (index.js), written from its source, not from engine.py."""

    resave: bool
    save_uninitialized: bool
    rolling: bool
    unset: str
    max_age: int | None
    store: dict[str, dict[str, Any]] = field(default_factory=dict)

    def request(
        self, cookie_id: str | None, action: str, n: str, new_id: str | None
    ) -> tuple[list[str], bool]:
        """The store calls and whether a cookie is sent; ``new_id`` is the id the app reported."""
        calls: list[str] = []
        if cookie_id is not None:
            calls.append("get")
        loaded = cookie_id is not None and cookie_id in self.store
        sid: str | None = cookie_id if loaded else "<new>"
        data = dict(self.store[cookie_id]) if loaded and cookie_id else {}
        original_id, original = sid, dict(data)
        saved: dict[str, Any] | None = dict(data) if loaded and not self.resave else None
        removed = False
        if action == "modify":
            data["k"] = n
        elif action == "save":
            data["saved"] = n
            calls.append("set")
            saved = dict(data)
            self._put(sid, new_id, data)
        elif action == "regenerate":
            calls.append("destroy")
            self.store.pop(sid or "", None)
            sid, data = "<regenerated>", {}
        elif action in ("destroy", "unset"):
            if action == "destroy":
                calls.append("destroy")
                self.store.pop(sid or "", None)
            removed = True
        if removed:
            if action == "unset" and self.unset == "destroy":
                calls.append("destroy")
                self.store.pop(sid or "", None)
            return calls, False
        modified = sid != original_id or data != original
        is_saved = sid == original_id and saved is not None and saved == data
        if not self.save_uninitialized and saved is None and not loaded:
            should_save = modified
        else:
            should_save = not is_saved
        if not loaded:
            set_cookie = self.save_uninitialized or modified
        else:
            set_cookie = self.rolling or (self.max_age is not None and modified)
        if sid == "<regenerated>":
            set_cookie = self.save_uninitialized or modified
        if should_save:
            calls.append("set")
            self._put(sid, new_id, data)
        elif loaded and sid == cookie_id:
            calls.append("touch")
        return calls, set_cookie

    def _put(self, sid: str | None, new_id: str | None, data: dict[str, Any]) -> None:
        key = new_id if sid in ("<new>", "<regenerated>") else sid
        assert key is not None
        self.store[key] = dict(data)
