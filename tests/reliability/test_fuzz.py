"""Fuzzing with Hypothesis: cookie parsing and unsigning, the serializer, the engine's rules.

Short in CI; ``CONNECTSTORE_FUZZ=long`` runs each property with many more examples
(see docs/reliability.md). The profile is applied per test, not globally, so the rest
of the suite keeps its own Hypothesis settings.
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import os
import subprocess
import sys
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Route

from connectstore import (
    JSONSerializer,
    SerializationError,
    SessionDecodeError,
    SessionEngine,
    decode_session,
)
from connectstore.cookie import parse_cookie_header
from connectstore.integrations.asgi import SessionMiddleware
from connectstore.signing import decode_uri_component, encode_uri_component, sign_cookie, unsign_cookie
from tests.engine.recording import RecordingStore
from tests.reliability.engine_model import ACTIONS, COOKIES, Model, act

LONG = os.environ.get("CONNECTSTORE_FUZZ") == "long"


def fuzz(ci: int, long: int = 20_000) -> settings:
    """Hypothesis settings: ``ci`` examples in CI, ``long`` with CONNECTSTORE_FUZZ=long."""
    return settings(
        max_examples=long if LONG else ci,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


SECRETS = st.one_of(st.text(min_size=1, max_size=40), st.binary(min_size=1, max_size=40))
COOKIE_TEXT = st.text(alphabet=st.characters(codec="latin-1"), max_size=300)
"""What can arrive in a Cookie header (HTTP headers are latin-1 bytes)."""
HEADER_PIECES = st.lists(
    st.one_of(COOKIE_TEXT, st.sampled_from(["connect.sid=", "s%3A", ";", "=", '"', "%", "%E0%A4", "."])),
    max_size=20,
).map("".join)


# --- cookie parsing and unsigning ------------------------------------------------------------


@fuzz(300)
@given(st.one_of(HEADER_PIECES, st.lists(HEADER_PIECES, max_size=4)))
def test_parse_cookie_header_never_fails_and_keeps_its_shape(headers: str | list[str]) -> None:
    cookies = parse_cookie_header(headers)
    for name, value in cookies.items():
        assert name
        assert name == name.strip()
        assert ";" not in name
        assert "=" not in name
        assert isinstance(value, str)


@fuzz(300)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="abcdefghijklmnopqrstuvwxyz.-_", min_size=1, max_size=8),
            st.text(max_size=30),
        ),
        max_size=8,
    )
)
def test_parse_cookie_header_reads_what_was_encoded_first_occurrence_wins(
    pairs: list[tuple[str, str]],
) -> None:
    header = "; ".join(f"{name}={encode_uri_component(value)}" for name, value in pairs)
    expected: dict[str, str] = {}
    for name, value in pairs:
        expected.setdefault(name, value)
    assert parse_cookie_header(header) == expected


@fuzz(300)
@given(COOKIE_TEXT, st.lists(SECRETS, min_size=1, max_size=3))
def test_unsign_cookie_of_arbitrary_text_never_fails_and_never_accepts_a_forgery(
    value: str, secrets: list[str | bytes]
) -> None:
    sid = unsign_cookie(value, secrets)
    if sid is not None:  # only possible if the text happens to be a valid signature
        assert any(value == sign_cookie(sid, secret) for secret in secrets)


@fuzz(300)
@given(st.text(max_size=80), SECRETS, st.data())
def test_any_change_to_a_signed_cookie_is_rejected(
    sid: str, secret: str | bytes, data: st.DataObject
) -> None:
    signed = sign_cookie(sid, secret)
    assert unsign_cookie(signed, secret) == sid
    header = f"connect.sid={encode_uri_component(signed)}"
    assert unsign_cookie(parse_cookie_header(header)["connect.sid"], secret) == sid
    index = data.draw(st.integers(0, len(signed) - 1))
    replacement = data.draw(st.characters(codec="utf-8"))
    mutated = signed[:index] + replacement + signed[index + 1 :]
    truncated = signed[: data.draw(st.integers(0, len(signed) - 1))]
    for forged in (mutated, truncated):
        if forged != signed:
            got = unsign_cookie(forged, secret)
            assert got is None or sign_cookie(got, secret) == forged


@fuzz(300)
@given(st.text(alphabet=st.characters(codec="latin-1"), max_size=200))
def test_decode_uri_component_never_fails(value: str) -> None:
    decoded = decode_uri_component(value)
    assert isinstance(decoded, str)
    if "%" not in value:
        assert decoded == value


@fuzz(300)
@given(st.text(max_size=200))
def test_uri_component_round_trip_of_any_text(value: str) -> None:
    assert decode_uri_component(encode_uri_component(value)) == value


# --- the serializer ---------------------------------------------------------------------------

JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53 - 1), 2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)
SESSIONS = st.dictionaries(st.text(max_size=10).filter(lambda k: k != "cookie"), JSON_VALUES, max_size=6)
BAD_LEAVES = st.one_of(
    st.just(math.nan),
    st.just(math.inf),
    st.just(-math.inf),
    st.integers(min_value=2**53).map(lambda n: n * st_sign(n)),
    st.binary(max_size=5),
    st.sets(st.integers(), max_size=2),
    st.just(datetime(2030, 1, 1, tzinfo=timezone.utc)),
    st.just(Decimal("1.1")),
    st.just(object()),
    st.dictionaries(st.integers(), st.none(), min_size=1, max_size=2),
)


def st_sign(n: int) -> int:
    return -1 if n % 2 else 1


def _path_of(value: Any, target: Any, path: str = "$") -> str | None:
    """The serializer's path to ``target`` (found by identity) inside ``value``."""
    if value is target:
        return path
    if isinstance(value, dict):
        for key, item in value.items():
            found = _path_of(item, target, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _path_of(item, target, f"{path}[{index}]")
            if found:
                return found
    return None


@fuzz(300)
@given(SESSIONS)
def test_serializer_round_trip(session: dict[str, Any]) -> None:
    serializer = JSONSerializer()
    text = serializer.dumps(session)
    assert serializer.loads(text) == session
    assert serializer.dumps(serializer.loads(text)) == text  # stable: what Node re-writes is the same


@fuzz(300)
@given(SESSIONS, BAD_LEAVES, st.data())
def test_serializer_refuses_what_node_cannot_carry_naming_where(
    session: dict[str, Any], bad: Any, data: st.DataObject
) -> None:
    holder: Any = [bad]
    for _ in range(data.draw(st.integers(0, 4))):
        holder = data.draw(st.sampled_from([[holder], {"k": holder}]))
    session["x"] = holder
    with pytest.raises(SerializationError) as refused:
        JSONSerializer().dumps(session)
    assert refused.value.path == _path_of(session, bad)


@fuzz(300)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200), HEADER_PIECES))
def test_decoding_garbage_raises_only_session_decode_error(raw: str | bytes) -> None:
    error: SessionDecodeError | None = None
    try:
        session: Any = decode_session(JSONSerializer(), "sid", raw)
    except SessionDecodeError as exc:
        error, session = exc, None
    if error is None:
        assert isinstance(session, dict)
    else:
        assert error.sid == "sid"


# --- the engine's decision rules against a model of express-session --------------------------

REQUESTS = st.lists(st.tuples(st.sampled_from(COOKIES), st.sampled_from(ACTIONS)), min_size=1, max_size=8)


@pytest.mark.parametrize("on_conflict", ["overwrite", "merge"])
@fuzz(60, 3_000)
@given(
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["keep", "destroy"]),
    st.sampled_from([None, 60]),
    REQUESTS,
)
def test_engine_follows_express_session_rules(
    on_conflict: str,
    resave: bool,
    save_uninitialized: bool,
    rolling: bool,
    unset: str,
    max_age: int | None,
    requests: list[tuple[str, str]],
) -> None:
    asyncio.run(_check_engine(on_conflict, resave, save_uninitialized, rolling, unset, max_age, requests))


async def _check_engine(
    on_conflict: str,
    resave: bool,
    save_uninitialized: bool,
    rolling: bool,
    unset: str,
    max_age: int | None,
    requests: list[tuple[str, str]],
) -> None:
    store = RecordingStore()
    engine = SessionEngine(
        store,
        secret="s",
        resave=resave,
        save_uninitialized=save_uninitialized,
        rolling=rolling,
        unset=unset,  # type: ignore[arg-type]
        cookie={"max_age": max_age},
        on_conflict=on_conflict,  # type: ignore[arg-type]
    )
    assert engine.on_conflict == on_conflict
    app = SessionMiddleware(Starlette(routes=[Route("/act", act)]), engine)
    model = Model(resave, save_uninitialized, rolling, unset, max_age)
    held: str | None = None  # the sid of the cookie the client holds
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for n, (cookie, action) in enumerate(requests):
            sent = {
                "current": held,
                "none": None,
                "tampered": None if held is None else "tampered",
                "stale": f"stale-{n}",
            }[cookie]
            header = ""
            if sent == "tampered" and held is not None:
                header = "connect.sid=" + encode_uri_component(sign_cookie(held, "other secret"))
            elif sent is not None:
                header = "connect.sid=" + encode_uri_component(sign_cookie(sent, "s"))
            cookie_id = sent if sent not in (None, "tampered") else None
            store.calls.clear()
            reply = await client.get("/act", params={"do": action, "n": str(n)}, headers={"cookie": header})
            assert reply.status_code == 200
            new_id = reply.json()["id"]
            expected_calls, expected_cookie = model.request(cookie_id, action, str(n), new_id)
            context = (cookie, action, n, store.calls)
            # "merge" makes the same calls in their conditional form (get_versioned, set_if, create)
            made = store.methods() if on_conflict == "overwrite" else store.plain_methods()
            assert made == expected_calls, context
            set_cookies = reply.headers.get_list("set-cookie")
            assert bool(set_cookies) == expected_cookie, context
            if set_cookies:
                value = decode_uri_component(set_cookies[0].split(";")[0].split("=", 1)[1])
                held = unsign_cookie(value, "s")
                assert held == new_id, context
            stored = {
                sid: {k: v for k, v in s.items() if k != "cookie"} for sid, s in (await store.all()).items()
            }
            assert stored == model.store, context


# --- atheris (coverage-guided), briefly --------------------------------------------------------


def test_atheris_fuzzes_the_cookie_and_decoding_path_briefly(tmp_path: Path) -> None:
    """Runs tests/reliability/atheris_fuzz.py for a bounded number of inputs; it must find nothing."""
    if importlib.util.find_spec("atheris") is None:
        pytest.skip("atheris is not installed (.venv/bin/pip install atheris)")
    runs = 2_000_000 if LONG else 20_000
    result = subprocess.run(
        [sys.executable, "-m", "tests.reliability.atheris_fuzz", f"-runs={runs}", "-max_total_time=600"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Done {runs} runs" in result.stderr
