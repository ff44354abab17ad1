"""Concurrent clients with ledgers, fault windows, and the figures of a soak run.

Each :class:`~tests.reliability.client.Client` is one user with a ledger of what the server
acknowledged (see that module); :func:`run_load` drives many of them with fault windows,
and at the end :func:`verify` checks the ledgers against the store itself.

Loops are bounded by a deadline and a number of operations, and stop by themselves.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from connectstore import Store
from tests.reliability.client import Client, Record, http_client


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
class FaultWindow:
    """A fault: when it began and ended, and when service came back."""

    began: float
    ended: float = math.inf
    recovered: float = math.inf

    @property
    def recovery(self) -> float:
        """Seconds from the end of the fault to the first successful write."""
        return self.recovered - self.ended


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
