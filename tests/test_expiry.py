"""The deadline arithmetic every store shares (connectstore.expiry)."""

from __future__ import annotations

import pytest

from connectstore import Cookie, SerializationError
from connectstore.expiry import (
    DEFAULT_TTL,
    MAX_EXPIRES_MS,
    MIN_EXPIRES_MS,
    expiry_ms,
    is_expired,
    session_expires,
    ttl_seconds,
)

NOW = 1_700_000_000_000


def test_the_cookie_expiry_is_the_deadline() -> None:
    session = {"cookie": {"expires": "2023-11-14T22:13:20.500Z"}}
    assert expiry_ms(session, 60, now=NOW) == NOW + 500
    assert session_expires(session) == NOW + 500


def test_a_browser_session_cookie_lives_the_default_ttl_rounded_to_the_millisecond() -> None:
    assert expiry_ms({"cookie": {"expires": None}}, 1.0006, now=NOW) == NOW + 1001
    assert expiry_ms({"cookie": {"expires": None}}, 0.0004, now=NOW) == NOW
    assert expiry_ms({}, now=NOW) == NOW + DEFAULT_TTL * 1000
    assert expiry_ms({"cookie": Cookie(expires=None)}, 2, now=NOW) == NOW + 2000


def test_the_deadline_stays_within_the_dates_every_backend_holds() -> None:
    assert expiry_ms({"cookie": {"expires": MAX_EXPIRES_MS + 5}}, now=NOW) == MAX_EXPIRES_MS
    assert expiry_ms({"cookie": {"expires": MIN_EXPIRES_MS - 5}}, now=NOW) == MIN_EXPIRES_MS
    assert expiry_ms({"cookie": {"expires": None}}, 1e300, now=NOW) == MAX_EXPIRES_MS


def test_seconds_and_expired_follow_the_same_deadline() -> None:
    session = {"cookie": {"expires": NOW + 1}}
    assert ttl_seconds(session, now=NOW) == 1
    assert not is_expired(session, now=NOW)
    assert is_expired(session, now=NOW + 1)


def test_a_cookie_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(SerializationError):
        expiry_ms({"cookie": "soon"}, now=NOW)
