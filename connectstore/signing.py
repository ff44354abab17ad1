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
from collections.abc import Sequence
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
    if value.isascii():
        return value.translate(_ASCII_ESCAPES)  # the same as quote() for ASCII, faster
    return quote(value, safe="!'()*-._~")


_URI_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!'()*-._~")
_ASCII_ESCAPES = {code: f"%{code:02X}" for code in range(128) if chr(code) not in _URI_SAFE}
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
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    digest = hmac.digest(key, value.encode("utf-8", "surrogatepass"), "sha256")  # OpenSSL one-shot
    return binascii.b2a_base64(digest, newline=False).decode("ascii").rstrip("=")


def _as_list(secrets: Secrets) -> Sequence[Secret]:
    if isinstance(secrets, (str, bytes, bytearray)):
        return [secrets]
    if not secrets:
        raise ValueError("at least one secret is required")
    return secrets
