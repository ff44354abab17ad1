"""The site the hostile-input tests attack: a store behind the test app (:class:`Target`),
the victim and the attacker as HTTP clients (:class:`User`, :class:`Site`), and signed cookies.

The ``target`` and ``site`` fixtures that build them are in this folder's ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from connectstore import Store
from connectstore.signing import encode_uri_component, sign_cookie
from tests.reliability.app import SECRET

HOUR_MS = 3_600_000
COOKIE_JSON = '{"originalMaxAge":3600000,"expires":"2099-01-01T00:00:00.000Z","httpOnly":true,"path":"/"}'


@dataclass
class Target:
    """One store behind the test app, with a way to write raw bytes under a sid."""

    name: str
    store: Store
    write_raw: Callable[[str, str], Awaitable[None]]


def cookie_for(sid: str, name: str = "connect.sid") -> str:
    """The cookie a client holding a validly signed ``sid`` sends."""
    return f"{name}={encode_uri_component(sign_cookie(sid, SECRET))}"


class User:
    """A client over real TCP that keeps its cookie."""

    def __init__(self, http: httpx.AsyncClient, name: str) -> None:
        self.http = http
        self.name = name
        self.cookie: str | None = None

    async def get(self, path: str, **params: Any) -> httpx.Response:
        reply = await self.http.get(
            path, params=params, headers={"cookie": self.cookie} if self.cookie else {}
        )
        for header in reply.headers.get_list("set-cookie"):
            self.cookie = header.split(";")[0]
        return reply


@dataclass
class Site:
    base: str
    http: httpx.AsyncClient
    victim: User
    victim_sid: str

    async def victim_is_intact(self) -> None:
        reply = await self.victim.get("/read")
        assert reply.status_code == 200
        assert reply.json() == {
            "id": self.victim_sid,
            "data": {"owner": "victim", "sid": self.victim_sid, "n": 0},
        }

    async def send(
        self, method: str, path: str, cookies: list[str] | None = None, **kw: Any
    ) -> httpx.Response:
        """A request with exactly these Cookie headers (one header per item)."""
        headers = [("cookie", c) for c in cookies or []]
        return await self.http.request(method, path, headers=headers, **kw)
