"""Coverage-guided fuzzing (atheris / libFuzzer) of the cookie and session-decoding path.

``python -m tests.reliability.atheris_fuzz -runs=200000`` (any libFuzzer flag works, e.g.
``-max_total_time=600``). One input goes through what an attacker's request goes through:
the Cookie header is parsed, the session cookie unsigned, and the bytes decoded as a stored
session. Any exception other than the documented ones is a finding (atheris stops and
writes the crashing input).
"""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-untyped,import-not-found,unused-ignore]

with atheris.instrument_imports():
    from connectstore import JSONSerializer, SessionDecodeError, decode_session
    from connectstore.cookie import parse_cookie_header
    from connectstore.signing import sign_cookie, unsign_cookie

SECRET = "atheris secret"
SERIALIZER = JSONSerializer()


def one_input(data: bytes) -> None:
    """Parse, unsign and decode one input; only the documented outcomes are allowed."""
    provider = atheris.FuzzedDataProvider(data)
    header = provider.ConsumeUnicodeNoSurrogates(provider.ConsumeIntInRange(0, 512))
    cookie = parse_cookie_header(header).get("connect.sid")
    if cookie is not None:
        sid = unsign_cookie(cookie, SECRET)
        if sid is not None and sign_cookie(sid, SECRET) != cookie:
            raise AssertionError(f"accepted a cookie that is not the signature of {sid!r}: {cookie!r}")
    stored = provider.ConsumeBytes(provider.remaining_bytes())
    try:
        session = decode_session(SERIALIZER, "sid", stored)
    except SessionDecodeError:
        return
    assert isinstance(session, dict)
    if _storable(session):
        assert SERIALIZER.loads(SERIALIZER.dumps(session)) == session


def _storable(session: dict[str, object]) -> bool:
    try:
        SERIALIZER.dumps(session)
    except ValueError:
        return False
    return True


def main() -> None:
    """Run libFuzzer with the command-line flags."""
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
