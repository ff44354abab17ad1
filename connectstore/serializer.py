"""Session (de)serialization: the exact JSON express-session stores write.

The default :class:`JSONSerializer` produces ``JSON.stringify(session)`` byte for byte:
compact separators, unescaped UTF-8, JavaScript's number formatting, and the cookie in
express-session's key order. Before writing, it refuses any value a Node reader would
not get back unchanged (a datetime, bytes, a set, NaN, an integer beyond 2**53 - 1,
a non-string key...), naming where in the session the value is.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from connectstore.cookie import Cookie
from connectstore.errors import SerializationError, SessionDecodeError

__all__ = ["JSONSerializer", "Serializer", "SessionData", "decode_session"]

SessionData = dict[str, Any]
"""What a store holds for one session: a JSON-compatible dict with a ``"cookie"`` object."""

MAX_SAFE_INTEGER = 2**53 - 1
_MAX_DEPTH = 512
_SURROGATE = re.compile("[\ud800-\udfff]")


@runtime_checkable
class Serializer(Protocol):
    """Turns a session into the text a store keeps, and back.

    ``dumps`` raises :class:`SerializationError` for values it cannot carry; ``loads``
    raises any exception for bad input (stores wrap it with :func:`decode_session`).
    """

    def dumps(self, session: Mapping[str, Any]) -> str:
        """Encode one session."""
        ...

    def loads(self, data: str | bytes) -> SessionData:
        """Decode one session."""
        ...


class JSONSerializer:
    """``JSON.stringify`` / ``JSON.parse`` as express-session and its stores use them."""

    def dumps(self, session: Mapping[str, Any]) -> str:
        """Encode ``session`` exactly as Node's ``JSON.stringify`` would.

        A :class:`~connectstore.Cookie` value is written as its JSON object.
        """
        if not isinstance(session, Mapping):
            raise SerializationError(f"a session must be a mapping, not {type(session).__name__}")
        plain, needs_js_numbers = _check(session, "$", 0)
        if needs_js_numbers:
            text = _encode_js(plain)
        else:
            text = json.dumps(plain, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        if _SURROGATE.search(text):
            text = _escape_surrogates(text)
        return text

    def loads(self, data: str | bytes) -> SessionData:
        """Decode a stored session; integers beyond 2**53 - 1 become floats, as in JavaScript."""
        value = json.loads(data, parse_int=_parse_int, parse_constant=_reject_constant)
        if not isinstance(value, dict):
            raise ValueError(f"a session must be a JSON object, not {type(value).__name__}")
        return value


def decode_session(serializer: Serializer, sid: str, data: str | bytes) -> SessionData:
    """Decode stored data for ``sid``, turning any failure into a :class:`SessionDecodeError`."""
    try:
        return serializer.loads(data)
    except SessionDecodeError as exc:
        if exc.sid is None:
            raise SessionDecodeError(str(exc), sid=sid) from exc
        raise
    except Exception as exc:  # any decoder failure is "corrupt data", never a bare error
        raise SessionDecodeError(f"stored data cannot be decoded: {exc}", sid=sid) from exc


def _check(value: Any, path: str, depth: int) -> tuple[Any, bool]:
    """Validate ``value`` for JSON; return it with Cookie objects replaced by their JSON.

    The second item tells whether some float needs JavaScript number formatting.
    """
    if depth > _MAX_DEPTH:
        raise SerializationError("nested too deeply", path=path)
    if value is None or value is True or value is False or isinstance(value, str):
        return value, False
    if isinstance(value, int) and not isinstance(value, bool):
        if type(value) is not int:
            value = int(value)
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value, False
        raise SerializationError(
            f"integer {value} is beyond JavaScript's safe range +/-(2**53 - 1)", path=path
        )
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SerializationError(f"{value!r} cannot be written as JSON", path=path)
        return value, _js_number(value) != repr(value)
    if isinstance(value, Cookie):
        return value.to_json(), False
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        needs = False
        for key, item in value.items():
            if not isinstance(key, str):
                raise SerializationError(f"object key {key!r} is not a string", path=path)
            out[key], item_needs = _check(item, f"{path}.{key}", depth + 1)
            needs = needs or item_needs
        return out, needs
    if isinstance(value, (list, tuple)):
        items = []
        needs = False
        for index, item in enumerate(value):
            checked, item_needs = _check(item, f"{path}[{index}]", depth + 1)
            items.append(checked)
            needs = needs or item_needs
        return items, needs
    raise SerializationError(
        f"{type(value).__name__} value cannot be carried as JSON to a Node reader", path=path
    )


def _encode_js(value: Any) -> str:
    """A compact JSON encoder that formats floats as JavaScript does (slow path)."""
    if isinstance(value, float):
        return _js_number(value)
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_encode_js(v)}" for k, v in value.items())
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(_encode_js(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _js_number(x: float) -> str:
    """ECMAScript ``Number::toString`` for a finite float (shortest round-trip digits)."""
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    mantissa, _, exp_text = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + (int(exp_text) if exp_text else 0)  # decimal point position
    point -= len(whole + frac) - len((whole + frac).lstrip("0"))
    digits = digits.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        exponent = f"e{'+' if e >= 0 else '-'}{abs(e)}"
        body = digits + exponent if k == 1 else digits[0] + "." + digits[1:] + exponent
    return sign + body


def _escape_surrogates(text: str) -> str:
    r"""Escape lone surrogates as ``\\udXXX``, as ``JSON.stringify`` does since ES2019."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _parse_int(text: str) -> int | float:
    value = int(text)
    return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else float(value)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
