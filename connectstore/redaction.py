"""Keeping credentials out of error messages, reprs and logs.

A store URL may carry a password (``redis://:hunter2@db/0``) or a credential in its query
(``surrealdb+ws://db/rpc?token=...``, ``?ssl_password=...``). Wherever a URL is shown, show
:func:`redact_url` of it; wherever a text may quote a driver's error (which may quote the
URL or the credential), pass it through :meth:`Credentials.scrub`, with the credentials
:func:`url_credentials` finds in the URL plus any given otherwise (a client's password...).

Two rules decide what counts as a credential:

* **Query parameters**: a parameter holds a credential when the last word of its name
  (words split at ``_``, ``-``, ``.`` and camelCase) is one of :data:`CREDENTIAL_WORDS`:
  ``password``, ``ssl_password``, ``token``, ``apiKey``, ``client_secret`` do;
  ``trust_key_ttl``, ``key_prefix``, ``ssl_keyfile``, ``prefix``, ``ttl`` do not (matching
  whole words, not substrings, keeps store options readable). ``auth`` alone is not one:
  it is SurrealDB's sign-in level (``?auth=namespace``); ``http_auth``, ``basic_auth`` are.
* **Short credentials**: :meth:`Credentials.scrub` leaves credentials shorter than
  :data:`MIN_SCRUBBED` characters in free text, everywhere: ``"ab"`` cannot be told from
  ordinary text, and masking every ``a`` of a message would both garble it and show
  where the one-letter password is. :func:`redact_url` masks a credential by its place in
  the URL, so there it is masked whatever its length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, unquote, unquote_plus

__all__ = [
    "CREDENTIAL_WORDS",
    "MIN_SCRUBBED",
    "REDACTED",
    "Credentials",
    "is_credential_name",
    "redact_url",
    "url_credentials",
]

REDACTED = "***"
"""What a credential is replaced with."""

MIN_SCRUBBED = 3
"""The shortest credential :meth:`Credentials.scrub` removes from free text."""

CREDENTIAL_WORDS = frozenset(
    {
        "apikey",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "key",
        "pass",
        "passphrase",
        "passwd",
        "password",
        "pwd",
        "secret",
        "token",
    }
)
"""A parameter or option whose name ends with one of these words holds a credential."""

_NOT_CREDENTIAL_NAMES = frozenset({"auth"})
"""Names whose last word is a credential word but that name no credential (SurrealDB's level)."""

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+")
_HOST_PORT = re.compile(r"(\[[^\]]*\]|[^:\[\]]*)(:[0-9]*)?")


def is_credential_name(name: str) -> bool:
    """Whether a query parameter (or keyword option) named ``name`` holds a credential.

    ``name`` may be percent- or plus-encoded as written in a URL. See the module's
    documentation for the rule.
    """
    decoded = unquote_plus(name)
    words = _WORDS.findall(decoded)
    if not words or decoded.lower() in _NOT_CREDENTIAL_NAMES:
        return False
    return words[-1].lower() in CREDENTIAL_WORDS


class Credentials:
    """A set of credentials to keep out of texts, with :meth:`scrub` to remove them.

    Built from the credentials one store knows (its URL's, its client's...): anything
    that is not a non-empty ``str`` (or ``bytes``, read as UTF-8) is ignored, so
    ``Credentials([options.get("password")])`` needs no check. Each credential is known in
    every form a message may show it in: as given, percent-decoded, plus-decoded, and
    percent- or plus-encoded. ``a + b`` knows both sets; a ``Credentials`` is true when it
    knows any credential; its repr shows only how many forms it knows.
    """

    __slots__ = ("_forms", "_pattern")

    def __init__(self, credentials: Iterable[object] = ()) -> None:
        forms: set[str] = set()
        for credential in credentials:
            if isinstance(credential, bytes):
                credential = credential.decode("utf-8", "replace")
            if isinstance(credential, str) and credential:
                forms.update(_forms_of(credential))
        self._set(forms)

    def _set(self, forms: set[str]) -> None:
        # longest first: a credential containing another is masked whole
        self._forms = tuple(sorted((form for form in forms if form), key=lambda form: (-len(form), form)))
        scrubbed = [re.escape(form) for form in self._forms if len(form) >= MIN_SCRUBBED]
        self._pattern = re.compile("|".join(scrubbed)) if scrubbed else None

    def __bool__(self) -> bool:
        return bool(self._forms)

    def __add__(self, other: Credentials) -> Credentials:
        if not isinstance(other, Credentials):
            return NotImplemented
        both = Credentials()
        both._set({*self._forms, *other._forms})
        return both

    def __repr__(self) -> str:
        return f"<Credentials: {len(self._forms)} forms>"

    def scrub(self, text: str) -> str:
        """``text`` with every known credential of :data:`MIN_SCRUBBED` characters or more
        replaced by :data:`REDACTED`, in one pass (a mask is never matched again).
        """
        if self._pattern is None:
            return text
        return self._pattern.sub(REDACTED, text)


def _forms_of(credential: str) -> set[str]:
    """``credential`` as given, decoded and encoded: every way a message may spell it."""
    decoded = {credential, unquote(credential), unquote_plus(credential)}
    encoded = {coded for plain in decoded for coded in (quote(plain, safe=""), quote_plus(plain, safe=""))}
    return decoded | encoded


@dataclass(frozen=True)
class _URLParts:
    """A URL cut at the places :func:`redact_url` masks; joined, the parts are the URL."""

    head: str
    """The scheme and ``://``, the user info up to the ``:`` before the password."""
    password: str | None
    """The password as written (None: no ``:`` in the user info)."""
    tail: str
    """``@host``, path, ``?`` (without the query)."""
    query: list[tuple[str, str | None]]
    """The query's ``name=value`` pairs as written (value None: no ``=``)."""


def _split(url: str) -> _URLParts:
    """``url`` cut into its parts, assuming only ``scheme://[user[:password]@]host...``.

    In a well-formed URL the user info ends at the last ``@`` before the first ``/``,
    ``?`` or ``#``. A hand-written password may hold those raw, so a later ``@`` ends it
    instead when what precedes the first ``/``, ``?``, ``#`` or ``@`` has the
    ``user:password`` shape (a ``:``, not in a bracketed IPv6 host) and that ``@`` is in
    the path (``user:pa/ss@host``), or is in the query or fragment while the text before
    the first ``/``, ``?`` or ``#`` is not ``host[:port]`` (``:pa?ss@host``). In the
    query, ``#`` is read as part of a value (``?token=ab#cd`` masks ``ab#cd``).
    """
    scheme, sep, rest = url.partition("://")
    end = _first(rest, "/?#", 0)
    path_end = _first(rest, "?#", end)
    first_at = rest.find("@")
    shaped = ":" in rest[: end if first_at < 0 else min(end, first_at)] and not rest.startswith("[")
    authority_end = end
    in_path = rest.rfind("@", end, path_end)
    later = rest.find("@", path_end)
    if shaped and in_path >= 0:
        authority_end = _first(rest, "/?#", in_path)
    elif shaped and later >= 0 and "@" not in rest[:end] and not _HOST_PORT.fullmatch(rest[:end]):
        authority_end = _first(rest, "/?#", later)
    authority, after = rest[:authority_end], rest[authority_end:]
    userinfo, at, host = authority.rpartition("@")
    user, colon, password = userinfo.partition(":")
    path, question, query_text = after.partition("?")
    query: list[tuple[str, str | None]] = []
    if question:
        for pair in query_text.split("&"):
            name, equals, value = pair.partition("=")
            query.append((name, value if equals else None))
    return _URLParts(
        head=f"{scheme}{sep}{user}{colon}" if at else f"{scheme}{sep}",
        password=password if at and colon else None,
        tail=f"{at}{host}{path}{question}",
        query=query,
    )


def _first(text: str, characters: str, start: int) -> int:
    """The index of the first of ``characters`` in ``text`` from ``start``, or ``len(text)``."""
    found = [index for index in (text.find(char, start) for char in characters) if index >= 0]
    return min(found, default=len(text))


def redact_url(url: str) -> str:
    """``url`` as it may be shown: its password and its credential query values replaced by
    :data:`REDACTED`, everything else kept as written.

    ``redis://alice:hunter2@db:6379/0?prefix=app:&ssl_password=x`` becomes
    ``redis://alice:***@db:6379/0?prefix=app:&ssl_password=***``. Only the shape
    ``scheme://[user[:password]@]host/path?query`` is assumed, so a URL too malformed to
    open (bad port, unclosed ``[``, raw ``/`` or ``@`` in the password) can still be shown
    in the error that refuses it. An empty password is shown empty (``alice:@db``); a user
    name is shown. A text without ``://`` is returned unchanged (``module:factory``),
    unless it holds an ``@``: it may be a URL missing its scheme, and is all masked.
    """
    if "://" not in url:
        return REDACTED if "@" in url else url
    parts = _split(url)
    password = "" if parts.password is None else parts.password and REDACTED
    query = "&".join(
        name if value is None else f"{name}={REDACTED if value and is_credential_name(name) else value}"
        for name, value in parts.query
    )
    return f"{parts.head}{password}{parts.tail}{query}"


def url_credentials(url: str) -> Credentials:
    """The credentials written in ``url``: its password and its credential query values.

    A text without ``://`` that holds an ``@`` (shown masked by :func:`redact_url`) is a
    credential as a whole, and its ``user:password@`` part is read as a URL's would be.
    """
    if "://" not in url:
        return Credentials([url, *_credentials(_split(f"x://{url}"))]) if "@" in url else Credentials()
    return Credentials(_credentials(_split(url)))


def _credentials(parts: _URLParts) -> list[str]:
    found = [value for name, value in parts.query if value and is_credential_name(name)]
    return [parts.password, *found] if parts.password else found
