"""Signing and session ids against cookie-signature's own output."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectstore.signing import (
    decode_uri_component,
    encode_uri_component,
    generate_sid,
    sign,
    sign_cookie,
    unsign,
    unsign_cookie,
)
from tests.conftest import load_vectors

VECTORS: list[dict[str, Any]] = load_vectors("cookie-signature.json")["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: repr(v["value"])[:20])
def test_sign_reproduces_cookie_signature(vector: dict[str, Any]) -> None:
    assert sign(vector["value"], vector["secret"]) == vector["signed"]
    assert sign(vector["value"], vector["secret"].encode()) == vector["signed"]
    assert sign_cookie(vector["value"], vector["secret"]) == vector["cookie_value"]
    assert encode_uri_component(vector["cookie_value"]) == vector["set_cookie_value"]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: repr(v["value"])[:20])
def test_unsign_accepts_good_and_rejects_wrong_secret(vector: dict[str, Any]) -> None:
    assert unsign(vector["signed"], vector["secret"]) == vector["unsign_ok"]
    assert vector["unsign_wrong_secret"] is False
    assert unsign(vector["signed"], vector["secret"] + "x") is None
    cookie = decode_uri_component(vector["set_cookie_value"])
    assert cookie == vector["cookie_value"]
    assert unsign_cookie(cookie, vector["secret"]) == vector["unsign_ok"]


def test_unsign_rejects_tampering() -> None:
    good = "abc.BpxCrWRpvZMh/wk/djl34N+m+VQEU7K/5WenLwJCgFU"
    assert unsign(good, "keyboard cat") == "abc"
    assert unsign("abd" + good[3:], "keyboard cat") is None  # value changed
    assert unsign(good[:-1], "keyboard cat") is None  # truncated signature
    assert unsign(good + "A", "keyboard cat") is None  # extended signature
    assert unsign(good + "=", "keyboard cat") is None  # padding is not accepted
    assert unsign("abc", "keyboard cat") is None  # no signature at all
    assert unsign("", "keyboard cat") is None


def test_unsign_cookie_requires_the_s_prefix() -> None:
    assert unsign_cookie("abc.BpxCrWRpvZMh/wk/djl34N+m+VQEU7K/5WenLwJCgFU", "keyboard cat") is None
    assert unsign_cookie("s:abc.BpxCrWRpvZMh/wk/djl34N+m+VQEU7K/5WenLwJCgFU", "keyboard cat") == "abc"


def test_secret_rotation_signs_with_first_accepts_any() -> None:
    old = sign_cookie("abc", "old secret")
    assert old == "s:abc.rWFQl5VL0ye7zXu/bAuGcPI1EkkF8vLDN0+Lj2b4dmI"  # from connect-contract.md §7.5
    secrets = ["keyboard cat", "old secret"]
    assert unsign_cookie(old, secrets) == "abc"
    assert sign_cookie("abc", secrets) == "s:abc.BpxCrWRpvZMh/wk/djl34N+m+VQEU7K/5WenLwJCgFU"
    assert unsign_cookie(old, ["keyboard cat"]) is None


def test_empty_secret_list_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        sign_cookie("abc", [])


def test_generate_sid_is_express_sessions_shape() -> None:
    sids = {generate_sid() for _ in range(2000)}
    assert len(sids) == 2000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", sid) for sid in sids)


@given(value=st.text(), secret=st.text())
def test_sign_unsign_round_trip(value: str, secret: str) -> None:
    signed = sign(value, secret)
    assert unsign(signed, secret) == value
    assert unsign(signed, [secret + "!", secret]) == value


@given(value=st.text())
def test_uri_component_round_trip(value: str) -> None:
    encoded = encode_uri_component(value)
    assert re.fullmatch(r"[A-Za-z0-9!'()*\-._~%]*", encoded)
    assert decode_uri_component(encoded) == value


def test_decode_uri_component_keeps_malformed_values() -> None:
    assert decode_uri_component("%E0%A4%A") == "%E0%A4%A"
    assert decode_uri_component("%ff") == "%ff"
    assert decode_uri_component("s%3Aabc") == "s:abc"
