"""``connectstore.request_session``: what integrations may read of a request's session, and the
one warning every loader of sessions gives for a corrupt stored session.
"""

from __future__ import annotations

import pytest

from connectstore import MemoryStore, RequestInfo, RequestSession, SessionDecodeError, SessionEngine
from connectstore.request_session import log_corrupt_session


async def test_the_state_is_private_and_the_flags_are_properties() -> None:
    request = await SessionEngine(MemoryStore(), secret="s").open(RequestInfo(cookie_header=None))
    assert isinstance(request, RequestSession)
    assert all(name.startswith("_") for name in vars(request))
    assert request.session is not None
    assert (request.is_new, request.is_modified) == (True, False)
    with pytest.raises(AttributeError):
        request.session = None  # type: ignore[misc]


def test_a_corrupt_session_is_logged_with_its_id(caplog: pytest.LogCaptureFixture) -> None:
    error = SessionDecodeError("not JSON", sid="abc")
    with caplog.at_level("WARNING", logger="connectstore"):
        log_corrupt_session("abc", error)
    assert caplog.messages == [
        "session 'abc' in the store is corrupt; starting a new session: session 'abc': not JSON"
    ]


def test_the_id_can_be_masked(caplog: pytest.LogCaptureFixture) -> None:
    error = SessionDecodeError("not JSON under secret-id", sid="secret-id")
    with caplog.at_level("WARNING", logger="connectstore"):
        log_corrupt_session("secret-id", error, show_sid=False)
    assert caplog.messages == [
        "a session in the store is corrupt; starting a new session: session <id>: not JSON under <id>"
    ]
