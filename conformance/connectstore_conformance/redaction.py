"""Keeping credentials out of what ``connectstore check`` prints.

A target URL may carry a password (``redis://:hunter2@db/0``) or a token in its query
(``surrealdb+ws://db/rpc?token=...``). Everything the command prints or writes shows the
target through :func:`redact_target`, and every message from the store or the suite goes
through :func:`scrub`, which removes those secrets wherever they appear.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus

MASK = "***"
#: The shortest credential :func:`scrub` removes from free text.
MIN_SCRUBBED = 3

#: Query parameters whose value is a credential when their name contains one of these.
SENSITIVE_NAME_PARTS = ("pass", "pwd", "secret", "token", "key", "credential", "auth")


def _is_sensitive(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in SENSITIVE_NAME_PARTS)


def target_secrets(target: str) -> list[str]:
    """The credentials written in ``target``: its URL password and sensitive query values,
    as written and URL-decoded, longest first (a ``module:factory`` target has none).
    """
    if "://" not in target:
        return []
    rest = target.partition("://")[2]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    userinfo, at, _ = authority.rpartition("@")
    found = [userinfo.partition(":")[2]] if at else []
    query = rest.partition("?")[2].partition("#")[0]
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if _is_sensitive(unquote_plus(name)):
            found.append(value)
    secrets = {
        variant for value in found if value for variant in (value, unquote(value), unquote_plus(value))
    }
    return sorted(secrets, key=len, reverse=True)


def scrub(text: str, target: str) -> str:
    """``text`` with every credential of ``target`` replaced by ``***``.

    Credentials shorter than :data:`MIN_SCRUBBED` characters are left: they cannot be told
    from ordinary text (and :func:`redact_target` masks them in the target itself).
    """
    for secret in target_secrets(target):
        if len(secret) >= MIN_SCRUBBED:
            text = text.replace(secret, MASK)
    return text


def redact_target(target: str) -> str:
    """``target`` as it may be shown: the URL's password and sensitive query values masked
    (``redis://:hunter2@db/0`` -> ``redis://:***@db/0``); everything else kept as written.
    """
    if "://" not in target:
        return target
    scheme, _, rest = target.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    rest = rest[len(authority) :]
    userinfo, at, host = authority.rpartition("@")
    if at and ":" in userinfo:
        authority = f"{userinfo.partition(':')[0]}:{MASK}@{host}"
    path, question, query = rest.partition("?")
    query, hash_mark, fragment = query.partition("#")
    query = "&".join(
        f"{name}={MASK}" if sep and _is_sensitive(unquote_plus(name)) else f"{name}{sep}{value}"
        for pair in query.split("&")
        for name, sep, value in [pair.partition("=")]
    )
    return f"{scheme}://{authority}{path}{question}{query}{hash_mark}{fragment}"
