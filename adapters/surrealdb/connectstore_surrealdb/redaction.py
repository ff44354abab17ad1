"""Keeping credentials out of messages: a URL as it may be shown."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

__all__ = ["redact_url"]

_SECRET_PARAMETERS = frozenset({"token", "password", "pass"})


def redact_url(url: str) -> str:
    """``url`` with the password of its user info and any ``token=`` value replaced by ``***``.

    Only the shape of a URL is assumed (``scheme://[user[:password]@]host/path?query``), so
    that even a URL too malformed to open can be shown in the error that refuses it.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url if "@" not in url else "***"
    rest, hash_, fragment = rest.partition("#")
    rest, question, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        authority = f"{user}{':***' if colon else ''}@{host}"
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(key.lower() in _SECRET_PARAMETERS for key, _ in pairs):
            shown = [(key, "***" if key.lower() in _SECRET_PARAMETERS else value) for key, value in pairs]
            query = urlencode(shown, safe="*")
    return f"{scheme}{sep}{authority}{slash}{path}{question}{query}{hash_}{fragment}"
