"""Session (de)serialization: the exact JSON express-session stores write.

The default :class:`JSONSerializer` produces ``JSON.stringify(session)`` byte for byte:
compact separators, unescaped UTF-8, JavaScript's number formatting, and the cookie in
express-session's key order. Before writing, it refuses any value a Node reader would
not get back unchanged (a datetime, bytes, a set, NaN, an integer beyond 2**53 - 1,
a non-string key...), naming where in the session the value is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from json.encoder import c_make_encoder as _c_make_encoder  # type: ignore[attr-defined]
from json.encoder import encode_basestring as _encode_basestring
from typing import Any, Protocol, cast, runtime_checkable

from connectstore.cookie import Cookie
from connectstore.errors import SerializationError, SessionDecodeError

__all__ = ["CompactJSON", "JSONSerializer", "Serializer", "SessionData", "decode_session"]

SessionData = dict[str, Any]
"""What a store holds for one session: a JSON-compatible dict with a ``"cookie"`` object."""

MAX_SAFE_INTEGER = 2**53 - 1
_INF = float("inf")
_NEG_INF = float("-inf")
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
        if type(session) is not dict and not isinstance(session, Mapping):
            raise SerializationError(f"a session must be a mapping, not {type(session).__name__}")
        try:
            flags = _scan(session if type(session) is dict else dict(session), 0)
        except _Refused as refused:
            raise SerializationError(refused.message, path=_path(refused.keys)) from None
        plain = _plain(session) if flags & _NEEDS_COPY or type(session) is not dict else session
        text = _encode_js(plain) if flags & _NEEDS_JS_FLOAT else _ENCODER(plain)
        if not text.isascii() and _SURROGATE.search(text):  # isascii() is a flag: no scan
            text = _escape_surrogates(text)
        return text

    def loads(self, data: str | bytes) -> SessionData:
        """Decode a stored session; integers beyond 2**53 - 1 become floats, as in JavaScript."""
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        try:  # the C scanner at once: what decode() does when the text is one bare value
            value, end = _DECODER.scan_once(text, 0)  # type: ignore[attr-defined]
        except StopIteration:  # not a value at 0 (leading whitespace, or no JSON)
            end = -1
        if end != len(text):  # decode() then skips the whitespace or raises its own error
            value = _DECODER.decode(text)
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


_NEEDS_COPY = 1  # a Cookie, a non-dict mapping or a tuple: convert before json.dumps
_NEEDS_JS_FLOAT = 2  # a float JavaScript writes differently from Python's repr


class _Refused(Exception):
    """Internal: a value was refused; ``keys`` collects its path while unwinding."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.keys: list[str | int] = []


def _scan(value: Any, depth: int) -> int:
    """Check that ``value`` can be carried to a Node reader; return what encoding needs.

    Kept fast for the common case (plain dicts, lists, strings, ints): no copy is built
    and no path is formatted unless a value is refused.
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return 0
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return 0
        raise _Refused(f"integer {value} is beyond JavaScript's safe range +/-(2**53 - 1)")
    if kind is float:
        if value != value or value in (_INF, _NEG_INF):
            raise _Refused(f"{value!r} cannot be written as JSON")
        text = repr(value)
        return _NEEDS_JS_FLOAT if "e" in text or text.endswith(".0") else 0
    if depth >= _MAX_DEPTH:
        raise _Refused("nested too deeply")
    if kind is dict:
        flags = 0
        for key, item in value.items():
            if type(key) is not str:
                raise _Refused(f"object key {key!r} is not a string")
            leaf = type(item)
            if leaf is str or leaf is bool or item is None:
                continue  # the common leaves, checked here without a call
            if leaf is int and -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            try:
                flags |= _scan(item, depth + 1)
            except _Refused as refused:
                refused.keys.append(key)
                raise
        return flags
    if kind is list:
        flags = 0
        for index, item in enumerate(value):
            try:
                flags |= _scan(item, depth + 1)
            except _Refused as refused:
                refused.keys.append(index)
                raise
        return flags
    return _scan_other(value, depth)


def _scan_other(value: Any, depth: int) -> int:
    """The uncommon types: subclasses, other mappings and sequences, Cookie objects."""
    if isinstance(value, Cookie):
        return _NEEDS_COPY
    if isinstance(value, (bool, str)):
        return _NEEDS_COPY
    if isinstance(value, int):
        return _scan(int(value), depth) | _NEEDS_COPY
    if isinstance(value, float):
        return _scan(float(value), depth) | _NEEDS_COPY
    if isinstance(value, Mapping):
        return _scan(dict(value), depth) | _NEEDS_COPY
    if isinstance(value, (list, tuple)):
        return _scan(list(value), depth) | _NEEDS_COPY
    raise _Refused(f"{type(value).__name__} value cannot be carried as JSON to a Node reader")


def _plain(value: Any) -> Any:
    """A copy of a checked value made only of dict, list, str, int, float, bool and None."""
    if isinstance(value, Cookie):
        return value.to_json()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    return [_plain(item) for item in value]


def _path(keys: list[str | int]) -> str:
    parts = ["$"]
    for key in reversed(keys):
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    return "".join(parts)


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


class CompactJSON:
    """``json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), ...).encode`` with the
    C encoder built once, where ``encode`` builds one per call (most of the cost of encoding
    a small session).

    The reused encoder's circular-reference marks stay behind when an encoding fails (and
    two threads encoding the same object at once could see each other's), so any failure is
    retried by ``encode`` itself, which raises its own error (or succeeds), and the C encoder
    is built afresh.
    """

    __slots__ = ("_c", "_encoder")

    def __init__(self, *, allow_nan: bool = True, default: Callable[[Any], Any] | None = None) -> None:
        self._encoder = json.JSONEncoder(
            ensure_ascii=False, separators=(",", ":"), allow_nan=allow_nan, default=default
        )
        self._c = self._build()

    def _build(self) -> Callable[[Any, int], Any] | None:
        encoder = self._encoder
        if _c_make_encoder is None:
            return None
        return cast(  # what JSONEncoder.iterencode(_one_shot=True) builds (3.10-3.13)
            "Callable[[Any, int], Any]",
            _c_make_encoder(
                {},
                encoder.default,
                _encode_basestring,
                None,
                encoder.key_separator,
                encoder.item_separator,
                encoder.sort_keys,
                encoder.skipkeys,
                encoder.allow_nan,
            ),
        )

    def __call__(self, value: Any) -> str:
        """``value`` as compact JSON."""
        encode = self._c
        if encode is not None:
            try:
                return "".join(encode(value, 0))
            except Exception:
                self._c = self._build()
        return self._encoder.encode(value)


# Built once: json.dumps with options builds a new encoder on every call.
_ENCODER = CompactJSON(allow_nan=False)
_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_constant=_reject_constant)
