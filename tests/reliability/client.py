"""One simulated user of the soak runs, with its ledger, and the HTTP client users share.

A :class:`Client` is one user over real TCP with its own cookie, its requests spread over
every worker URL as a load balancer would (the users share one pooled ``httpx.AsyncClient``
from :func:`http_client`, which keeps no cookies: a user sends only the cookie it was given).
It logs in, updates a sequence number, reads and logs out, and keeps a ledger: the state the
server acknowledged (``(sid, n)`` or no session) or, after a failed request, the states the
failure may have left (the old one or the attempted one). Every read is checked against the
ledger. :mod:`tests.reliability.load` drives many of them.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

State = tuple[str, int] | None
"""A client's session as the store should hold it: ``(sid, n)``, or None for no session."""


@dataclass
class Record:
    """One HTTP request as a client saw it."""

    op: str
    started: float
    ended: float
    status: int
    """HTTP status; 0 when the request failed at the transport level."""
    error: str | None = None
    """The error class the server named (or the transport error's class)."""
    message: str | None = None

    @property
    def latency(self) -> float:
        return self.ended - self.started


class Client:
    """One user with a ledger of what the server acknowledged."""

    def __init__(self, name: str, urls: list[str], rng: random.Random, http: httpx.AsyncClient) -> None:
        self.name = name
        self.urls = urls
        self.rng = rng
        self.http = http
        self.cookie: str | None = None
        self.state: State = None
        self.possible: list[State] | None = None
        """Not None after a failure: the states the store may now hold (until a read tells)."""
        self.next_n = 1
        self.dead: set[str] = set()
        """Sids whose destruction the server acknowledged: they must never come back."""
        self.known: set[str] = set()
        self.orphans_possible = False
        """A login failed: a session of ours may exist under a sid we never learnt."""
        self.records: list[Record] = []
        self.violations: list[str] = []

    async def request(self, op: str, method: str, path: str, **params: Any) -> httpx.Response | None:
        """One request with this client's cookie (and no other); the reply (None on a
        transport error).
        """
        headers = {"cookie": self.cookie} if self.cookie else {}
        request = self.http.build_request(
            method, self.rng.choice(self.urls) + path, params=params, headers=headers
        )
        sent = request.headers.get("cookie")
        # An HTTP client with a cookie jar adds the last cookie any user received to a
        # request that has none: a user without a session would then act on (regenerate,
        # i.e. destroy) another user's session, and the ledgers would blame the store.
        assert sent == self.cookie, f"{self.name} would send cookie {sent!r}, not its own {self.cookie!r}"
        started = time.monotonic()
        try:
            reply = await self.http.send(request)
        except httpx.HTTPError as exc:
            self.records.append(Record(op, started, time.monotonic(), 0, type(exc).__name__, str(exc)))
            return None
        record = Record(op, started, time.monotonic(), reply.status_code)
        if reply.status_code >= 500:
            body = reply.json() if reply.headers.get("content-type") == "application/json" else {}
            record.error = body.get("error", "unnamed")
            record.message = body.get("message", reply.text[:200])
        self.records.append(record)
        for header in reply.headers.get_list("set-cookie"):
            self.cookie = header.split(";")[0]
        return reply

    def fail(self, possible: list[State]) -> None:
        """A request failed: the store holds one of ``possible`` (or of the earlier ones)."""
        self.possible = [*(self.possible or [self.state]), *possible]

    async def login(self) -> None:
        reply = await self.request("login", "GET", "/login", client=self.name)
        if reply is None or reply.status_code != 200:
            self.orphans_possible = True
            self.fail([None])
            return
        if self.state is not None and self.possible is None:
            self.dead.add(self.state[0])
        sid = reply.json()["id"]
        self.known.add(sid)
        self.state, self.possible = (sid, 0), None

    async def update(self) -> None:
        assert self.state is not None
        n, self.next_n = self.next_n, self.next_n + 1
        reply = await self.request("update", "POST", "/update", n=n)
        if reply is not None and reply.status_code == 200:
            self.state, self.possible = (self.state[0], n), None
        elif reply is not None and reply.status_code == 409:
            if self.possible is None or None not in self.possible:
                self.violations.append(f"{self.name}: session {self.state} vanished (update got 409)")
            self.state, self.possible = None, None
        else:
            self.fail([(self.state[0], n)])

    async def logout(self) -> None:
        assert self.state is not None
        reply = await self.request("logout", "GET", "/logout")
        if reply is not None and reply.status_code == 200:
            if self.possible is None:
                self.dead.add(self.state[0])
            self.state, self.possible = None, None
        else:
            self.fail([None])

    async def read(self) -> bool:
        """Read the session and check it against the ledger; False if the request failed."""
        reply = await self.request("read", "GET", "/read")
        if reply is None or reply.status_code != 200:
            return False
        body = reply.json()
        data = body["data"] or {}
        observed: State = None
        if "owner" in data:
            observed = (data["sid"], data["n"])
            if data["owner"] != self.name:
                self.violations.append(f"{self.name}: read a session of {data['owner']}: {data}")
            if data["sid"] != body["id"]:
                self.violations.append(f"{self.name}: session {body['id']} holds data of {data['sid']}")
        allowed = self.possible if self.possible is not None else [self.state]
        if observed not in allowed:
            self.violations.append(f"{self.name}: read {observed}, ledger allows {allowed}")
        self.state, self.possible = observed, None
        return True

    async def run(self, deadline: float, max_ops: int) -> None:
        """Login / update / read / logout until the deadline or ``max_ops`` requests."""
        while time.monotonic() < deadline and len(self.records) < max_ops:
            if self.possible is not None and self.cookie is not None:
                if not await self.read():
                    await asyncio.sleep(self.rng.uniform(0.02, 0.08))
                continue
            roll = self.rng.random()
            if self.state is None or roll < 0.05:
                await self.login()
            elif roll < 0.65:
                await self.update()
            elif roll < 0.95:
                await self.read()
            else:
                await self.logout()

    async def settle(self, within: float = 30.0) -> None:
        """After the load: resolve an uncertain ledger by reading (service is back by now)."""
        deadline = time.monotonic() + within
        while self.possible is not None:
            if self.cookie is None:
                self.state, self.possible = None, None
                return
            if await self.read():
                return
            if time.monotonic() > deadline:
                self.violations.append(f"{self.name}: the service did not come back within {within} s")
                return
            await asyncio.sleep(0.1)


class NoCookies(http.cookiejar.CookieJar):
    """A cookie jar that never keeps a cookie (each :class:`Client` holds its own)."""

    def __init__(self) -> None:
        super().__init__(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def http_client(clients: int) -> httpx.AsyncClient:
    """The HTTP client ``clients`` users (plus the probe) share: pooled connections, no cookies.

    httpx keeps the cookies of every response in the client's jar and adds them to any
    request without a ``Cookie`` header; shared by every user, the jar would hand one
    user's session to another (a user whose first login failed would log in with it).
    """
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    return httpx.AsyncClient(timeout=30.0, limits=limits, cookies=NoCookies())
