"""The JSON serializer: express-session's exact bytes, and refusal of what Node cannot carry."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectstore import (
    Cookie,
    JSONSerializer,
    SerializationError,
    SessionDecodeError,
    decode_session,
)
from tests.conftest import load_vectors
from tests.node import run_node

SESSIONS: list[dict[str, Any]] = load_vectors("session-json.json")["sessions"]
serializer = JSONSerializer()

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=30,
)
COOKIES = st.fixed_dictionaries(
    {
        "originalMaxAge": st.none() | st.integers(min_value=0, max_value=10**12),
        "expires": st.none()
        | st.datetimes(
            min_value=datetime(1971, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(timezone.utc)
        ).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"),
        "httpOnly": st.booleans(),
        "path": st.just("/"),
    }
)
SESSIONS_STRATEGY = st.builds(
    lambda cookie, data: {"cookie": cookie, **data},
    COOKIES,
    st.dictionaries(st.text().filter(lambda k: k != "cookie"), JSON_VALUES, max_size=8),
)


@pytest.mark.parametrize("vector", SESSIONS, ids=lambda v: v["name"])
def test_vectors_serialize_byte_for_byte(vector: dict[str, Any]) -> None:
    assert serializer.dumps(vector["parsed"]) == vector["json"]
    assert serializer.loads(vector["json"]) == vector["parsed"]
    assert serializer.loads(vector["json"].encode("utf-8")) == vector["parsed"]


@pytest.mark.parametrize("vector", SESSIONS, ids=lambda v: v["name"])
def test_cookie_object_writes_express_sessions_json(vector: dict[str, Any]) -> None:
    parsed = vector["parsed"]
    cookie = Cookie.from_json(parsed["cookie"])
    session = {**parsed, "cookie": cookie}
    assert serializer.dumps(session) == vector["json"]


def test_design_note_example_is_109_bytes() -> None:
    cookie = Cookie(original_max_age=60000, expires=datetime(2026, 11, 27, 12, 40, 4, 275000, timezone.utc))
    text = serializer.dumps({"cookie": cookie, "views": 1})
    assert text == (
        '{"cookie":{"originalMaxAge":60000,"expires":"2026-11-27T12:40:04.275Z",'
        '"httpOnly":true,"path":"/"},"views":1}'
    )
    assert len(text.encode()) == 109


@settings(max_examples=300)
@given(SESSIONS_STRATEGY)
def test_round_trip_of_arbitrary_sessions(session: dict[str, Any]) -> None:
    assert serializer.loads(serializer.dumps(session)) == session


def test_output_matches_node_json_stringify() -> None:
    rng = random.Random(20261127)
    floats = [rng.uniform(-1e6, 1e6) for _ in range(300)]
    floats += [rng.random() * 10.0 ** rng.randint(-30, 30) for _ in range(300)]
    floats += [math.ldexp(rng.random(), rng.randint(-1070, 1020)) for _ in range(300)]
    floats += [0.1, 1e21, 1e20, 1e-7, 1e-6, 1e16, 123e-20, 5e-324, 1.7976931348623157e308, -0.0, 2.0, 0.5]
    strings = [
        "plain",
        "ünïcödé ✓ 😀",
        "\x00\x01\x1f\x7f",
        'quote " backslash \\ slash /',
        "\u2028\u2029",
        "<script>&</script>",
        "tab\tnewline\ncr\r\bf\f",
        "\ud800 lone",
        "low \udfff",
    ]
    value = {"cookie": {"originalMaxAge": None, "expires": None}, "floats": floats, "strings": strings}
    ours = serializer.dumps(value)
    # Node parses our text and writes it again: byte-identical output means we wrote what it writes.
    theirs = run_node(
        "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{"
        "const v=JSON.parse(JSON.parse(s));console.log(JSON.stringify(JSON.stringify(v)))})",
        ours,
    )
    assert ours == theirs


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (datetime(2030, 1, 1), "$.v"),
        (b"bytes", "$.v"),
        ({1, 2}, "$.v"),
        (frozenset(), "$.v"),
        (float("nan"), "$.v"),
        (float("inf"), "$.v"),
        (float("-inf"), "$.v"),
        (2**53, "$.v"),
        (-(2**53), "$.v"),
        (Decimal("1.5"), "$.v"),
        ({1: "int key"}, "$.v"),
        ({("t",): "tuple key"}, "$.v"),
        ([1, [2, object()]], "$.v[1][1]"),
        ({"deep": {"x": float("nan")}}, "$.v.deep.x"),
    ],
)
def test_values_node_cannot_carry_are_refused(value: Any, path: str) -> None:
    with pytest.raises(SerializationError) as info:
        serializer.dumps({"cookie": {}, "v": value})
    assert info.value.path == path


def test_a_session_must_be_a_mapping() -> None:
    with pytest.raises(SerializationError):
        serializer.dumps([1, 2])  # type: ignore[arg-type]


def test_deep_nesting_is_refused_cleanly_not_with_recursion_error() -> None:
    value: Any = 1
    for _ in range(2000):
        value = [value]
    with pytest.raises(SerializationError, match="nested too deeply"):
        serializer.dumps({"v": value})


def test_safe_integer_bounds_are_carried() -> None:
    session = {"max": 2**53 - 1, "min": -(2**53 - 1)}
    assert serializer.loads(serializer.dumps(session)) == session


def test_tuples_and_mappings_write_as_arrays_and_objects() -> None:
    class Frozen(Mapping[str, int]):
        def __getitem__(self, key: str) -> int:
            return {"a": 1}[key]

        def __iter__(self) -> Any:
            return iter(["a"])

        def __len__(self) -> int:
            return 1

    assert serializer.dumps({"t": (1, 2), "m": Frozen()}) == '{"t":[1,2],"m":{"a":1}}'


def test_integral_floats_are_written_as_javascript_does() -> None:
    assert serializer.dumps({"a": 2.0, "b": -0.0, "c": 1e21, "d": 1e-7}) == '{"a":2,"b":0,"c":1e+21,"d":1e-7}'


def test_big_integers_from_node_are_read_as_javascript_reads_them() -> None:
    data = serializer.loads('{"big":12345678901234567890}')
    assert data == {"big": 1.2345678901234567e19}
    assert serializer.dumps(data) == '{"big":12345678901234567000}'


@pytest.mark.parametrize(
    "raw", ["", "not json", "{", "[1,2]", '"text"', "null", '{"a":NaN}', '{"a":Infinity}', b"\xff\xfe"]
)
def test_corrupt_data_raises_a_typed_error_naming_the_sid(raw: str | bytes) -> None:
    with pytest.raises(SessionDecodeError) as info:
        decode_session(serializer, "sid-123", raw)
    assert info.value.sid == "sid-123"
    assert "sid-123" in str(info.value)


def test_decode_error_is_a_value_error_too() -> None:
    with pytest.raises(ValueError, match="cannot be decoded"):
        decode_session(serializer, "x", "{")
