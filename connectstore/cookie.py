"""The express-session cookie model, its exact JSON, JavaScript's dates, and the ``Cookie``
request header as express-session reads it.

Times are integer milliseconds since the epoch, as in JavaScript: that is what
``cookie.expires`` means to every Node store, and it keeps the arithmetic exact.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from connectstore.errors import SerializationError
from connectstore.signing import decode_uri_component, encode_uri_component

__all__ = ["Cookie", "cookie_value", "format_expires", "now_ms", "parse_cookie_header", "parse_expires"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MIN_DATETIME_MS = -62_135_596_800_000  # 0001-01-01T00:00:00.000Z
MAX_DATETIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_ISO = re.compile(
    r"(?P<y>[+-]\d{6}|\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?)?"
    r"\s*(?P<tz>Z|z|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII,
)


def now_ms() -> int:
    """The current time in integer milliseconds since the epoch (JavaScript's ``Date.now()``)."""
    return time.time_ns() // 1_000_000


def format_expires(when: int | datetime) -> str:
    """Render a time as JavaScript's ``Date#toJSON`` does: ``2030-01-02T03:04:05.678Z``.

    ``when`` is epoch milliseconds or a datetime (a naive datetime is taken as UTC).
    Sub-millisecond precision is truncated, as JavaScript dates cannot hold it.
    """
    ms = when if isinstance(when, int) else _datetime_to_ms(when)
    memo = _text_memo[0]
    if memo[0] == ms:
        return memo[1]
    days, ms_of_day = divmod(ms, 86_400_000)
    year, month, day = _civil_from_days(days)
    # JavaScript writes years outside 0..9999 with a sign and six digits.
    year_text = f"{year:04d}" if 0 <= year <= 9999 else f"{'+' if year > 0 else '-'}{abs(year):06d}"
    seconds, millis = divmod(ms_of_day, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    text = f"{year_text}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"
    _text_memo[0] = (ms, text)
    return text


# The last expiry this module wrote as text: a store reading back the JSON the engine just
# wrote (to find its deadline) parses that same text. The pair is replaced whole, so a hit
# is always right.
_text_memo: list[tuple[int | None, str]] = [(None, "")]


def parse_expires(value: object) -> int | None:
    """Read a stored ``cookie.expires`` into epoch milliseconds, or ``None`` for "no expiry".

    Accepts what a Node writer can leave there: an ISO-8601 string (any precision, ``Z`` or
    an offset; no offset means UTC), an RFC 1123 date, ``null``/``false``, epoch
    milliseconds, or a datetime. Anything else raises :class:`SerializationError`.
    """
    if type(value) is str and len(value) == 24:
        memo = _text_memo[0]
        if memo[1] == value and memo[0] is not None:
            return memo[0]
        canonical = _parse_canonical(value)  # what Node writes, and this module
        if canonical is not None:
            return canonical
    if value is None or value is False:
        return None
    if isinstance(value, bool):
        raise SerializationError("cookie.expires must be a date, not true", path="$.cookie.expires")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise SerializationError("cookie.expires is not a finite time", path="$.cookie.expires")
        return int(value)
    if isinstance(value, datetime):
        return _datetime_to_ms(value)
    if isinstance(value, str):
        parsed = _parse_canonical(value) if len(value) == 24 else None
        if parsed is None:
            parsed = _parse_date_string(value.strip())
        if parsed is not None:
            return parsed
        raise SerializationError(f"cookie.expires {value!r} is not a date", path="$.cookie.expires")
    raise SerializationError(
        f"cookie.expires has unsupported type {type(value).__name__}", path="$.cookie.expires"
    )


@dataclass
class Cookie:
    """The ``cookie`` member of an express-session session, field for field.

    Field names are Python's; :meth:`to_json` gives the exact JSON object express-session
    stores (its key order, ``originalMaxAge`` and ``expires`` always present, other
    fields omitted when ``None``). ``original_max_age`` is in milliseconds, as in Node.
    ``maxAge`` is never stored: it is derived, see :attr:`max_age_ms`.
    """

    original_max_age: int | float | None = None
    expires: datetime | None = None
    secure: bool | None = None
    http_only: bool | None = True
    domain: str | None = None
    path: str | None = "/"
    same_site: bool | str | None = None
    partitioned: bool | None = None
    priority: str | None = None

    @classmethod
    def create(cls, *, max_age_ms: int | None = None, now: int | None = None, **fields: Any) -> Cookie:
        """A cookie as express-session generates one: ``expires = now + max_age_ms``."""
        cookie = cls(**fields)
        if max_age_ms is not None:
            start = now_ms() if now is None else now
            cookie.expires = _ms_to_datetime(start + max_age_ms)
            cookie.original_max_age = max_age_ms
        return cookie

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Cookie:
        """Build a cookie from its stored JSON object, as express-session's ``Cookie`` does.

        Unknown keys are dropped; a missing ``path`` or ``httpOnly`` takes Node's default
        (``"/"``, ``True``).
        """
        expires = parse_expires(data.get("expires"))
        if expires is not None and not MIN_DATETIME_MS <= expires <= MAX_DATETIME_MS:
            raise SerializationError("cookie.expires is beyond the years 1-9999", path="$.cookie.expires")
        get = data.get
        return cls(  # the fields in their order, positional: cheaper than by name
            get("originalMaxAge"),
            None if expires is None else _ms_to_datetime(expires),
            get("secure"),
            get("httpOnly", True),
            get("domain"),
            get("path", "/"),
            get("sameSite"),
            get("partitioned"),
            get("priority"),
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object express-session writes for this cookie, in its key order."""
        out: dict[str, Any] = {"originalMaxAge": self.original_max_age}
        if self.partitioned is not None:
            out["partitioned"] = self.partitioned
        if self.priority is not None:
            out["priority"] = self.priority
        out["expires"] = None if self.expires is None else format_expires(self.expires)
        if self.secure is not None:
            out["secure"] = self.secure
        if self.http_only is not None:
            out["httpOnly"] = self.http_only
        if self.domain is not None:
            out["domain"] = self.domain
        if self.path is not None:
            out["path"] = self.path
        if self.same_site is not None:
            out["sameSite"] = self.same_site
        return out

    @property
    def expires_ms(self) -> int | None:
        """``expires`` as epoch milliseconds."""
        return None if self.expires is None else _datetime_to_ms(self.expires)

    @property
    def max_age_ms(self) -> int | None:
        """Milliseconds left until ``expires`` (negative once past), or None: Node's ``maxAge``."""
        expires = self.expires_ms
        return None if expires is None else expires - now_ms()

    def reset_max_age(self, *, now: int | None = None) -> None:
        """Restart the cookie's life: ``expires = now + original_max_age`` (Node's ``touch()``)."""
        max_age = self.original_max_age
        if type(max_age) is int or (isinstance(max_age, (int, float)) and not isinstance(max_age, bool)):
            start = now_ms() if now is None else now
            self.expires = _ms_to_datetime(start + int(max_age))

    def serialize(self, name: str, value: str) -> str:
        """The ``Set-Cookie`` header value express-session sends for this cookie.

        ``value`` is URL-encoded like JavaScript's ``encodeURIComponent``; attributes come
        in the order of the ``cookie`` npm package; only ``Expires`` is sent, never ``Max-Age``.
        """
        if name not in _GOOD_NAMES:
            if not _TOKEN.fullmatch(name):
                raise ValueError(f"invalid cookie name {name!r}")
            _remember(_GOOD_NAMES, name)
        same_site = self.same_site
        key = (
            self.domain,
            self.path,
            self.http_only,
            self.secure,
            self.partitioned,
            self.priority,
            same_site,
            same_site is True,
        )
        around = _ATTRIBUTES.get(key)
        if around is None:
            around = self._attributes()
            if len(_ATTRIBUTES) < 256:  # a few per application; bounded all the same
                _ATTRIBUTES[key] = around
        before, after = around
        expires = self.expires_ms
        if expires is None:
            return f"{name}={encode_uri_component(value)}{before}{after}"
        return f"{name}={encode_uri_component(value)}{before}; Expires={_http_date(expires // 1000)}{after}"

    def _attributes(self) -> tuple[str, str]:
        """The ``Set-Cookie`` attributes, checked, that come before ``Expires`` and after it
        (each part with its leading ``"; "``).
        """
        before = []
        if self.domain:
            before.append(f"; Domain={_attribute(self.domain, 'domain')}")
        if self.path:
            before.append(f"; Path={_attribute(self.path, 'path')}")
        after = []
        if self.http_only:
            after.append("; HttpOnly")
        if self.secure:
            after.append("; Secure")
        if self.partitioned:
            after.append("; Partitioned")
        if self.priority:
            after.append(f"; Priority={_choice(self.priority, 'priority', _PRIORITIES)}")
        if self.same_site:
            same_site = "strict" if self.same_site is True else self.same_site
            after.append(f"; SameSite={_choice(str(same_site), 'sameSite', _SAME_SITES)}")
        return "".join(before), "".join(after)


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PRIORITIES = {"low": "Low", "medium": "Medium", "high": "High"}
_SAME_SITES = {"lax": "Lax", "strict": "Strict", "none": "None"}


_GOOD_NAMES: set[str] = set()
_GOOD_ATTRIBUTES: set[str] = set()
# The checked attribute text around ``Expires`` for each combination of a cookie's fields.
_ATTRIBUTES: dict[tuple[object, ...], tuple[str, str]] = {}
_WEEKDAYS = ("Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed")  # 1970-01-01 was a Thursday
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _remember(cache: set[str], value: str) -> None:
    """Remember a checked name or attribute (a few per application; bounded all the same)."""
    if len(cache) < 256:
        cache.add(value)


def _attribute(value: str, what: str) -> str:
    if value in _GOOD_ATTRIBUTES:
        return value
    if any(ch in value for ch in ";\r\n\x00") or not value.isprintable():
        raise ValueError(f"invalid cookie {what} {value!r}")
    _remember(_GOOD_ATTRIBUTES, value)
    return value


def _http_date(seconds: int) -> str:
    """``email.utils.formatdate(seconds, usegmt=True)`` for years 1-9999, without a datetime."""
    memo = _date_memo[0]
    if memo[0] == seconds:
        return memo[1]
    text = _format_http_date(seconds)
    _date_memo[0] = (seconds, text)
    return text


# The last Expires date written: the requests of one second that roll their cookie share it.
# The pair is replaced whole, so a hit is always right.
_date_memo: list[tuple[int | None, str]] = [(None, "")]


def _format_http_date(seconds: int) -> str:
    days, second_of_day = divmod(seconds, 86400)
    year, month, day = _civil_from_days(days)
    if not 1 <= year <= 9999:
        from email.utils import formatdate  # imports socket: only for this rare case

        return formatdate(seconds, usegmt=True)
    minutes, second = divmod(second_of_day, 60)
    hour, minute = divmod(minutes, 60)
    weekday = _WEEKDAYS[days % 7]
    return f"{weekday}, {day:02d} {_MONTHS[month]} {year:04d} {hour:02d}:{minute:02d}:{second:02d} GMT"


def _choice(value: str, what: str, allowed: dict[str, str]) -> str:
    try:
        return allowed[value.lower()]
    except KeyError:
        raise ValueError(f"invalid cookie {what} {value!r}") from None


def _datetime_to_ms(when: datetime) -> int:
    memo = _memo[0]
    if memo[0] is when:
        return memo[1]
    aware = when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when
    delta = aware - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _ms_to_datetime(ms: int) -> datetime:
    when = _EPOCH + timedelta(0, 0, 0, ms)  # milliseconds, positional: cheaper than by name
    _memo[0] = (when, ms)
    return when


# The last datetime this module made and its milliseconds: one request converts the same
# expiry several times (stored JSON, Set-Cookie, touch_after). Datetimes are immutable and
# the pair is replaced whole, so a hit is always right.
_memo: list[tuple[datetime | None, int]] = [(None, 0)]


def _parse_canonical(text: str) -> int | None:
    """Fast path for what Node writes, ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (C-speed parsing)."""
    if text[23] != "Z" or text[19] != ".":
        return None
    try:
        parsed = datetime.fromisoformat(text[:23] + "+00:00")
    except ValueError:
        return None
    return _datetime_to_ms(parsed)


def _parse_date_string(text: str) -> int | None:
    match = _ISO.fullmatch(text)
    if match is None:
        from email.utils import parsedate_to_datetime  # imports socket: only for RFC 2822 dates

        try:
            return _datetime_to_ms(parsedate_to_datetime(text))
        except (TypeError, ValueError, IndexError):
            return None
    g = match.groupdict()
    year, month, day = int(g["y"]), int(g["mo"]), int(g["d"])
    hour, minute, second = int(g["h"] or 0), int(g["mi"] or 0), int(g["s"] or 0)
    if not (1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    days = _days_from_civil(year, month, day)
    ms = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + int((g["f"] or "0")[:3].ljust(3, "0"))
    tz = g["tz"]
    if tz and tz not in ("Z", "z"):
        digits = tz[1:].replace(":", "")
        offset = int(digits[:2]) * 60 + int(digits[2:] or 0)
        ms -= (offset if tz[0] == "+" else -offset) * 60_000
    return ms


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year, as JavaScript allows)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01."""
    days += 719468
    era = days // 146097
    day_of_era = days - era * 146097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    mp = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return year_of_era + era * 400 + (month <= 2), month, day


def parse_cookie_header(headers: str | Iterable[str] | None) -> dict[str, str]:
    """Name -> value for every cookie in one or several ``Cookie`` request headers, read as
    express-session (the ``cookie`` npm package) reads them.

    Values are URL-decoded (a malformed escape keeps the raw value) and unquoted; for a
    name that appears more than once, the **first** occurrence wins, as in express-session.
    """
    if headers is None:
        return {}
    text = headers if isinstance(headers, str) else "; ".join(headers)
    cookies: dict[str, str] = {}
    for pair in text.split(";"):
        name, sep, value = pair.partition("=")
        if not sep:
            continue
        name = name.strip()
        if not name or name in cookies:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        cookies[name] = decode_uri_component(value)
    return cookies


def cookie_value(headers: str | Iterable[str] | None, name: str) -> str | None:
    """``parse_cookie_header(headers).get(name)``, without parsing the other cookies."""
    if headers is None:
        return None
    text = headers if isinstance(headers, str) else "; ".join(headers)
    if name not in text:
        return None
    for pair in text.split(";"):
        key, sep, value = pair.partition("=")
        if not sep or key.strip() != name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        return decode_uri_component(value)
    return None
