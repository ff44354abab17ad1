"""Checks of a store that finds garbage where a session should be.

They need the store author's ``corrupt_record`` fixture: an async callable
``corrupt_record(sid)`` that overwrites the stored record of ``sid`` with bytes that are no
session (not JSON), behind the store's back, as a crash mid-write, another program or a
bad migration would. Without it the checks report "not supported".

What listings (``all``/``ids``/``items``/``length``) do with a corrupt record is not
checked yet: today some stores skip and log it, others raise (issue 13 decides).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from connectstore import SessionDecodeError, Store
from connectstore_conformance.base import ConformanceBase, author_fixture
from connectstore_conformance.sessions import make_session

#: What the ``corrupt_record`` fixture provides: ``await corrupt_record(sid)``.
Corrupter = Callable[[str], Awaitable[None]]

T = TypeVar("T")


async def answer_or_error(call: Awaitable[T]) -> T | Exception:
    """What ``call`` returned, or the exception it raised."""
    try:
        return await call
    except Exception as error:
        return error


class CorruptRecordChecks(ConformanceBase):
    """A corrupt record is reported as SessionDecodeError naming its sid, and nothing else breaks."""

    @pytest.fixture
    def corrupter(self, request: pytest.FixtureRequest) -> Corrupter:
        """The author's ``corrupt_record`` fixture, or a "not supported" skip when there is none."""
        corrupt: Corrupter = author_fixture(request, "corrupt_record", "corrupt stored data")
        return corrupt

    async def test_corrupt_record_get_raises_session_decode_error(
        self, store: Store, corrupter: Corrupter
    ) -> None:
        """get() of a sid whose stored record is garbage raises SessionDecodeError whose
        ``sid`` is that sid (not a bare JSONDecodeError, not None, not a made-up session).
        """
        await store.set("bad", make_session(n=1))
        await corrupter("bad")
        outcome = await answer_or_error(store.get("bad"))
        if not isinstance(outcome, BaseException):
            raise AssertionError(
                f"get('bad') of a corrupt record returned {outcome!r}; expected SessionDecodeError(sid='bad')"
            )
        if not isinstance(outcome, SessionDecodeError):
            raise AssertionError(
                f"get('bad') of a corrupt record raised {type(outcome).__name__}: {outcome}; "
                "expected SessionDecodeError(sid='bad')"
            ) from outcome
        assert outcome.sid == "bad", (
            f"get('bad') raised SessionDecodeError with sid={outcome.sid!r}; expected 'bad'"
        )
        assert repr("bad") in str(outcome), f"the message {str(outcome)!r} does not name the sid 'bad'"

    async def test_corrupt_record_leaves_other_sessions_working(
        self, store: Store, corrupter: Corrupter
    ) -> None:
        """A corrupt record breaks only itself: other sessions read, write and destroy as
        before; set() over the corrupt sid replaces it and destroy() removes it.
        """
        good = make_session(n=1)
        await store.set("good", good)
        await store.set("bad", make_session(n=2))
        await store.set("gone", make_session(n=3))
        await corrupter("bad")
        with pytest.raises(SessionDecodeError):
            await store.get("bad")
        assert await store.get("good") == good, "get('good') changed after another record was corrupted"
        new = make_session(n=4)
        await store.set("new", new)
        assert await store.get("new") == new, "set('new') then get('new') failed beside a corrupt record"
        await store.destroy("gone")
        assert await store.get("gone") is None, "destroy('gone') did not work beside a corrupt record"
        fixed = make_session(n=5)
        await store.set("bad", fixed)
        assert await store.get("bad") == fixed, "set('bad') did not replace the corrupt record"
        await corrupter("bad")
        await store.destroy("bad")
        assert await store.get("bad") is None, "destroy('bad') did not remove the corrupt record"
