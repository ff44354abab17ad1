"""Concurrent clients with ledgers, fault windows, and the figures of a soak run.

Each :class:`Client` is one user over real TCP with its own cookie, its requests spread
over every worker URL as a load balancer would (the users share one pooled
``httpx.AsyncClient`` from :func:`http_client`, which keeps no cookies: a user sends only
the cookie it was given). It logs in, updates a sequence number, reads and logs out, and
keeps a ledger: the state the server acknowledged (``(sid, n)`` or no session) or, after a
failed request, the states the failure may have left (the old one or the attempted one).
Every read is checked against the ledger, and at the end :func:`verify` checks the
ledgers against the store itself.

Loops are bounded by a deadline and a number of operations, and stop by themselves.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import math
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from connectstore import Store

State = tuple[str, int] | None
"""A client's session as the store should hold it: ``(sid, n)``, or None for no session."""


@dataclass(frozen=True)
class LoadProfile:
    """How hard and how long one soak scenario runs."""

    clients: int
    duration: float
    """Seconds of load (the clients stop by themselves afterwards)."""
    max_ops: int
    """Requests per client at most."""
    faults: int
    """Fault windows during the load (0: no fault)."""
    fault_for: float
    """Seconds each fault lasts."""

    @classmethod
    def current(cls) -> LoadProfile:
        """The short CI form, or the long form with ``CONNECTSTORE_SOAK=long``."""
        if os.environ.get("CONNECTSTORE_SOAK") == "long":
            return cls(clients=24, duration=60.0, max_ops=1_000_000, faults=5, fault_for=5.0)
        return cls(clients=16, duration=10.0, max_ops=3_000, faults=1, fault_for=5.0)


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


@dataclass
class FaultWindow:
    """A fault: when it began and ended, and when service came back."""

    began: float
    ended: float = math.inf
    recovered: float = math.inf

    @property
    def recovery(self) -> float:
        """Seconds from the end of the fault to the first successful write."""
        return self.recovered - self.ended


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


Fault = tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]
"""``(begin, end)``: coroutines that inject a fault and remove it."""


@dataclass
class RunResult:
    """Everything a soak run measured."""

    name: str
    clients: list[Client]
    windows: list[FaultWindow]
    elapsed: float
    probe_records: list[Record] = field(default_factory=list)

    @property
    def records(self) -> list[Record]:
        return [r for c in self.clients for r in c.records] + self.probe_records

    @property
    def violations(self) -> list[str]:
        return [v for c in self.clients for v in c.violations]

    def in_fault(self, record: Record) -> bool:
        """Whether ``record`` overlapped a fault window (up to recovery)."""
        return any(record.ended >= w.began and record.started <= w.recovered for w in self.windows)

    def summary(self) -> dict[str, Any]:
        """The figures of the run (what docs/reliability.md reports)."""
        records = self.records
        ok = [r for r in records if r.status < 500 and r.status != 0]
        failed = [r for r in records if r not in ok]
        latencies = sorted(r.latency for r in ok)
        faulted = [r for r in records if self.in_fault(r)]
        errors: dict[str, int] = {}
        for r in failed:
            errors[f"{r.status} {r.error}"] = errors.get(f"{r.status} {r.error}", 0) + 1
        return {
            "scenario": self.name,
            "clients": len(self.clients),
            "requests": len(records),
            "ok": len(ok),
            "failed": len(failed),
            "errors": errors,
            "req_per_s": round(len(records) / self.elapsed, 1),
            "p50_ms": _ms(_percentile(latencies, 50)),
            "p90_ms": _ms(_percentile(latencies, 90)),
            "p99_ms": _ms(_percentile(latencies, 99)),
            "max_ms": _ms(latencies[-1] if latencies else 0.0),
            "faults": len(self.windows),
            "max_ms_during_fault": _ms(max((r.latency for r in faulted), default=0.0)),
            "recovery_s": [round(w.recovery, 3) for w in self.windows],
            "violations": len(self.violations),
        }


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


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, math.ceil(p / 100 * len(values)) - 1)]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


async def run_load(
    name: str, urls: list[str], profile: LoadProfile, fault: Fault | None = None, seed: int = 8
) -> RunResult:
    """Drive ``profile.clients`` clients against ``urls``; inject ``fault`` during the load.

    Faults are spread evenly over the run. After each fault a probe client writes every
    50 ms until a write succeeds: that moment, minus the end of the fault, is the recovery
    time. When the load ends every client settles its ledger.
    """
    rng = random.Random(seed)
    async with http_client(profile.clients) as http:
        clients = [
            Client(f"{name}-c{i}", urls, random.Random(rng.random()), http) for i in range(profile.clients)
        ]
        probe = Client(f"{name}-probe", urls, random.Random(seed), http)
        await probe.login()
        assert probe.state is not None, f"the service does not work before any fault: {probe.records}"
        windows: list[FaultWindow] = []
        started = time.monotonic()
        deadline = started + profile.duration

        async def inject() -> None:
            if fault is None:
                return
            begin, end = fault
            gap = profile.duration / (profile.faults + 1)
            for i in range(profile.faults):
                await asyncio.sleep(
                    max(0.0, started + gap * (i + 1) - profile.fault_for / 2 - time.monotonic())
                )
                window = FaultWindow(time.monotonic())
                windows.append(window)
                await begin()
                await asyncio.sleep(profile.fault_for)
                await end()
                window.ended = time.monotonic()
                for _ in range(600):  # at most 30 s
                    probe.possible = None
                    if probe.state is None:
                        await probe.login()
                    else:
                        await probe.update()
                    if probe.possible is None:
                        window.recovered = time.monotonic()
                        break
                    await asyncio.sleep(0.05)

        await asyncio.gather(inject(), *(c.run(deadline, profile.max_ops) for c in clients))
        elapsed = time.monotonic() - started
        await asyncio.gather(*(c.settle() for c in clients))
        return RunResult(name, clients, windows, elapsed, probe.records)


async def verify(store: Store, result: RunResult) -> dict[str, int]:
    """Check every ledger against the store itself; return what was checked.

    * each client's acknowledged session is stored with exactly its last ``n``;
    * no session whose destruction was acknowledged exists;
    * every stored session belongs to its key (``data["sid"]``) and to a client that holds
      that sid, or to one whose failed login may have left it behind.
    """
    problems: list[str] = []
    by_name = {c.name: c for c in result.clients}
    checked = 0
    for client in result.clients:
        assert client.possible is None, f"{client.name} did not settle"
        if client.state is not None:
            sid, n = client.state
            stored = await store.get(sid)
            checked += 1
            if stored is None or stored.get("n") != n or stored.get("owner") != client.name:
                problems.append(f"{client.name}: acknowledged {client.state}, store holds {stored}")
        for sid in client.dead:
            if await store.get(sid) is not None:
                problems.append(f"{client.name}: destroyed session {sid} is back")
    stored_sessions = 0
    orphans = 0
    async for sid, data in store.items():
        owner = data.get("owner")
        if owner not in by_name:
            continue  # the probe, or another scenario's data
        stored_sessions += 1
        client = by_name[owner]
        if data.get("sid") != sid:
            problems.append(f"session {sid} holds the data of {data.get('sid')}")
        elif client.state is None or client.state[0] != sid:
            if client.orphans_possible:
                orphans += 1
            else:
                problems.append(f"session {sid} of {owner} exists but {owner} holds {client.state}")
    assert not problems, problems[:10]
    return {"acknowledged_checked": checked, "stored_sessions": stored_sessions, "orphans": orphans}
