"""The worker thread of a :class:`~connectstore_sqlite.database.Database`: it runs queued jobs in batches.

Every job the event loop queues while the worker is busy is run in the worker's next
turn: one wake-up of the thread for several statements, and one wake-up of each event
loop for all the answers of that turn. Writes queued back to back run inside one
transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``: one write lock, one commit, one sync
with ``synchronous=FULL``); each caller still gets its own result or error (see
:func:`_run_writes`).

A write is *claimed* by the worker before it runs (:meth:`Job.claim`): a caller that gives
up first withdraws it (:meth:`Job.withdraw`) and it never runs; one that gives up later
waits for it to end (:meth:`Job.wait_claimed`). Claiming is one ``list.pop`` on each
side, atomic under the GIL, so the event loop never waits on a lock for it. Answers are
settled on the caller's loop (:func:`_deliver`), so a job's ``future`` may be replaced
there until it is answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Any

__all__ = ["Handle", "Job", "work"]


class Handle:
    """Where the worker finds the connection its jobs run on (the Database's, without the Database).

    ``conn`` is the writing connection (None when closed); ``reader`` the read-only one
    the event loop reads through (None when there is none).
    """

    __slots__ = ("conn", "reader")

    def __init__(self) -> None:
        self.conn: sqlite3.Connection | None = None
        self.reader: sqlite3.Connection | None = None


class Job:
    """One call queued for the worker: ``function()``, answered on ``future`` of ``loop``.

    ``loop``/``future`` None: nobody waits for the answer. ``write``: a single write
    statement that may share a transaction with the writes queued next to it.
    """

    __slots__ = ("_token", "answered", "function", "future", "loop", "write")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop | None,
        future: asyncio.Future[Any] | None,
        function: Callable[[], Any],
        *,
        write: bool = False,
    ) -> None:
        self.loop = loop
        self.future = future
        self.function = function
        self.write = write
        self.answered = False
        self._token = [True]

    def withdraw(self) -> bool:
        """On the caller's side: take the job back; False when the worker has claimed it already."""
        try:
            self._token.pop()
        except IndexError:
            return False
        return True

    def claim(self) -> bool:
        """On the worker's side: take the job to run it; False when it was withdrawn (or, for a
        read, cancelled: a write is only ever withdrawn, so that its caller knows).
        """
        try:
            self._token.pop()
        except IndexError:
            return False
        return self.write or self.future is None or not self.future.cancelled()

    async def wait_claimed(self) -> None:
        """On the caller's loop, after its wait for the answer was cancelled: wait for a write the
        worker has claimed to end (return at once if it was withdrawn or answered).
        """
        if self.withdraw() or self.answered or self.loop is None:
            return
        self.future = waiter = self.loop.create_future()
        with contextlib.suppress(BaseException):
            await waiter


# One answer to deliver: (the job, is it an error, the result or the error).
_Answer = tuple[Job, bool, Any]


def work(jobs: SimpleQueue[Job | None], handle: Handle) -> None:
    """The worker thread: run what is queued, a batch per turn, until ``None``.

    It holds no job while it waits (a job's future may lead back to the store, which must
    stay collectable): every job lives in :func:`_turn`'s frame only.
    """
    while (job := jobs.get()) is not None:
        stop = _turn(job, jobs, handle)
        del job
        if stop:
            return


def _turn(first: Job, jobs: SimpleQueue[Job | None], handle: Handle) -> bool:
    """Run ``first`` and every job queued behind it; answer each loop once. True at ``None``."""
    batch = [first]
    stop = False
    while True:
        try:
            queued = jobs.get_nowait()
        except Empty:
            break
        if queued is None:
            stop = True
            break
        batch.append(queued)
    answers: dict[asyncio.AbstractEventLoop, list[_Answer]] = {}
    _run_batch(batch, handle, answers)
    for loop, settled in answers.items():
        with contextlib.suppress(RuntimeError):  # the loop was closed: nobody is waiting
            loop.call_soon_threadsafe(_deliver, settled)
    return stop


def _run_batch(
    batch: list[Job], handle: Handle, answers: dict[asyncio.AbstractEventLoop, list[_Answer]]
) -> None:
    """Run the jobs in order; writes next to each other share one transaction."""
    start = 0
    while start < len(batch):
        end = start
        while end < len(batch) and batch[end].write:
            end += 1
        if end - start >= 2:
            _run_writes([job for job in batch[start:end] if job.claim()], handle, answers)
            start = end
            continue
        job = batch[start]
        if job.claim():
            _answer(job, *_outcome(job.function), answers)
        start += 1


def _run_writes(
    writes: list[Job], handle: Handle, answers: dict[asyncio.AbstractEventLoop, list[_Answer]]
) -> None:
    """Claimed writes in one transaction, each with its own outcome.

    A statement that fails inside the transaction undoes only itself (SQLite's
    statement-level rollback): its caller gets the error, the others go on. Only when
    SQLite gave up the whole transaction (a full disk, an I/O error) or the COMMIT failed
    is nothing of the batch kept: each write then runs again alone, as it would have.
    """
    conn = handle.conn
    if len(writes) < 2 or conn is None or conn.in_transaction:
        for job in writes:
            _answer(job, *_outcome(job.function), answers)
        return
    failed, began = _outcome(lambda: conn.execute("BEGIN IMMEDIATE"))
    if failed:  # the write lock stayed out of reach: each write would have failed alike
        for job in writes:
            _answer(job, True, began, answers)
        return
    outcomes: list[tuple[bool, Any]] = []
    for job in writes:
        outcomes.append(_outcome(job.function))
        if outcomes[-1][0] and not conn.in_transaction:
            break  # SQLite rolled the whole transaction back
    else:
        if not _outcome(lambda: conn.execute("COMMIT"))[0]:
            for job, (failed, value) in zip(writes, outcomes, strict=True):
                _answer(job, failed, value, answers)
            return
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
    for job in writes:  # nothing of the batch was kept: run each alone, with its own outcome
        _answer(job, *_outcome(job.function), answers)


def _outcome(function: Callable[[], Any]) -> tuple[bool, Any]:
    """``(False, result)`` or ``(True, the exception raised)``."""
    try:
        return False, function()
    except BaseException as exc:
        return True, exc


def _answer(
    job: Job, failed: bool, value: Any, answers: dict[asyncio.AbstractEventLoop, list[_Answer]]
) -> None:
    if job.loop is not None:
        answers.setdefault(job.loop, []).append((job, failed, value))


def _deliver(settled: list[_Answer]) -> None:
    """On the caller's loop: settle every future of one turn of the worker (if it still waits)."""
    for job, failed, value in settled:
        job.answered = True
        future = job.future
        if future is None or future.done():
            continue
        if failed:
            future.set_exception(value)
        else:
            future.set_result(value)
