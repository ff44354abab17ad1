"""Session ids and signed cookie values, byte-compatible with express-session.

express-session signs with the npm package cookie-signature: ``value + "." +
base64(HMAC-SHA256(secret, value))`` with the standard alphabet and the ``=`` padding
stripped, and prefixes the cookie value with ``s:``. Verification splits at the last
``.`` and compares in constant time. With several secrets, the first signs and any
verifies, which is how secrets are rotated.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import quote, unquote

__all__ = [
    "Secret",
    "Secrets",
    "decode_uri_component",
    "encode_uri_component",
    "generate_sid",
    "sign",
    "sign_cookie",
    "unsign",
    "unsign_cookie",
    "unsign_cookie_key",
]

Secret = str | bytes
"""A signing secret: text is used as its UTF-8 bytes, as Node's ``crypto.createHmac`` does."""
Secrets = Secret | Sequence[Secret]
"""One secret, or several: the first signs, any of them verifies."""

_COOKIE_PREFIX = "s:"


def generate_sid() -> str:
    """A new session id as express-session makes one: 24 random bytes, URL-safe base64, 32 chars."""
    return base64.urlsafe_b64encode(os.urandom(24)).decode("ascii")


def sign(value: str, secret: Secret) -> str:
    """``value`` followed by ``.`` and its HMAC-SHA256 signature (cookie-signature's ``sign``)."""
    return f"{value}.{_mac(value, secret)}"


def unsign(signed: str, secrets: Secrets) -> str | None:
    """The value inside ``signed`` if any secret's signature matches, else None."""
    found = _unsign(signed, _as_list(secrets))
    return None if found is None else found[0]


def sign_cookie(sid: str, secrets: Secrets) -> str:
    """The (not yet URL-encoded) cookie value express-session sends: ``s:<sid>.<signature>``."""
    return _COOKIE_PREFIX + sign(sid, _as_list(secrets)[0])


def unsign_cookie(value: str, secrets: Secrets) -> str | None:
    """The session id in a decoded cookie value, or None if it is unsigned or tampered with."""
    found = unsign_cookie_key(value, secrets)
    return None if found is None else found[0]


def unsign_cookie_key(value: str, secrets: Secrets) -> tuple[str, int] | None:
    """Like :func:`unsign_cookie`, with the index of the secret that verified it: a cookie
    verified by the first secret (index 0) is exactly what :func:`sign_cookie` would send
    back for that id, so the engine can echo it instead of signing again.
    """
    if not value.startswith(_COOKIE_PREFIX):
        return None
    return _unsign(value[len(_COOKIE_PREFIX) :], _as_list(secrets))


def _unsign(signed: str, secrets: Sequence[Secret]) -> tuple[str, int] | None:
    dot = signed.rfind(".")
    if dot < 0:
        return None
    value = signed[:dot]
    given = signed.encode("utf-8", "surrogatepass")
    for index, secret in enumerate(secrets):
        if hmac.compare_digest(sign(value, secret).encode("utf-8", "surrogatepass"), given):
            return value, index
    return None


def encode_uri_component(value: str) -> str:
    """JavaScript's ``encodeURIComponent``: what express-session does to the cookie value."""
    if value.isascii():  # the same as quote() for ASCII, faster
        if _URI_UNCOMMON.search(value) is None:  # a signed value escapes only these
            return value.replace(":", "%3A").replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
        return _URI_UNSAFE.sub(_escape, value)
    return quote(value, safe="!'()*-._~")


_URI_UNSAFE = re.compile(r"[^A-Za-z0-9!'()*\-._~]")
_URI_UNCOMMON = re.compile(r"[^A-Za-z0-9!'()*\-._~:+/=]")
_ASCII_ESCAPES = {chr(code): f"%{code:02X}" for code in range(128) if _URI_UNSAFE.match(chr(code))}


def _escape(match: re.Match[str]) -> str:
    return _ASCII_ESCAPES[match.group()]


_ASCII_UNESCAPES = {
    spelling: chr(code)
    for code in range(128)
    for spelling in {f"{code:02X}", f"{code:02x}", f"{code:02X}"[0] + f"{code:02x}"[1]}
}


def decode_uri_component(value: str) -> str:
    """Undo :func:`encode_uri_component`; a malformed escape leaves the value as it was.

    This mirrors the ``cookie`` npm package, which keeps the raw value when
    ``decodeURIComponent`` throws.
    """
    if "%" not in value:
        return value
    if value.isascii():
        parts = value.split("%")
        out = [parts[0]]
        for part in parts[1:]:
            char = _ASCII_UNESCAPES.get(part[:2])
            if char is None:
                break  # not an escaped ASCII character: the general path below
            out.append(char)
            out.append(part[2:])
        else:
            return "".join(out)
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        return value


def _mac(value: str, secret: Secret) -> str:
    try:
        keyed = _KEYED[secret]
    except (KeyError, TypeError):  # TypeError: a bytearray, never remembered
        keyed = _keyed(secret)
    mac = keyed.copy()  # the key's HMAC state, set up once: copying it is cheaper than a new one
    mac.update(value.encode("utf-8", "surrogatepass"))
    return binascii.b2a_base64(mac.digest(), newline=False).decode("ascii").rstrip("=")


class _Mac(Protocol):
    """An HMAC-SHA256 object (OpenSSL's, else :mod:`hmac`'s)."""

    def copy(self) -> _Mac: ...
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


def _keyed(secret: Secret) -> _Mac:
    """The HMAC-SHA256 state of ``secret`` with nothing hashed yet, remembered for the few
    secrets an application has (a bounded number of them; str and bytes only, which cannot
    change afterwards).
    """
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    keyed: _Mac = hmac.new(key, digestmod="sha256") if _openssl is None else _openssl(key, digestmod="sha256")
    if len(_KEYED) < 64 and type(secret) in (str, bytes):
        _KEYED[secret] = keyed
    return keyed


_KEYED: dict[Secret, _Mac] = {}
try:
    from _hashlib import hmac_new as _openssl  # OpenSSL's HMAC object, without hmac.HMAC's wrapper
except ImportError:  # pragma: no cover - Python built without OpenSSL
    _openssl = None  # type: ignore[assignment]


def _as_list(secrets: Secrets) -> Sequence[Secret]:
    if isinstance(secrets, (str, bytes, bytearray)):
        return [secrets]
    if not secrets:
        raise ValueError("at least one secret is required")
    return secrets
