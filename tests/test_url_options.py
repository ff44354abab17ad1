"""The shared store-URL option reader: conversions, refusals, and no credential in any message."""

from __future__ import annotations

import math
from typing import Any

import pytest

from connectstore import StoreURLError, redact_url
from connectstore.url_options import (
    URLOptions,
    flag,
    number,
    open_with_options,
    optional_seconds,
    positive_number,
    positive_whole_number,
    text,
    whole_number,
)

OPTIONS = URLOptions(
    {
        "table": text,
        "ttl": positive_number,
        "batch_size": positive_whole_number,
        "sweep_interval": optional_seconds,
    },
    aliases={"tbl": "table"},
)


class Built:
    """A stand-in constructor with the validation a store's own would do."""

    def __init__(self, path: str, *, ttl: float = 60.0, table: str = "sessions", **rest: Any) -> None:
        if ttl > 1e6:
            raise ValueError(f"ttl {ttl} is too long")
        if rest:
            raise TypeError(f"unexpected options {sorted(rest)}")
        self.path, self.ttl, self.table = path, ttl, table


def test_options_are_converted() -> None:
    parsed = OPTIONS.parse("table=web&ttl=1.5&batch_size=20&sweep_interval=off", shown="x")
    assert parsed == {"table": "web", "ttl": 1.5, "batch_size": 20, "sweep_interval": None}
    assert OPTIONS.parse("", shown="x") == {}
    assert OPTIONS.parse("tbl=other", shown="x") == {"table": "other"}


@pytest.mark.parametrize(
    ("convert", "good", "bad"),
    [
        (number, {"2": 2.0, "-0.5": -0.5, "1e3": 1000.0}, ["", "abc", "nan", "inf"]),
        (positive_number, {"0.25": 0.25}, ["0", "-1", "nan", "x"]),
        (whole_number, {"0": 0, "-3": -3}, ["1.5", "", "x"]),
        (positive_whole_number, {"1": 1, "500": 500}, ["0", "-2", "2.5"]),
        (
            flag,
            {"true": True, "ON": True, "1": True, "no": False, "0": False, "off": False},
            ["", "maybe", "2"],
        ),
        (optional_seconds, {"none": None, "off": None, "": None, "900": 900.0}, ["0", "-1", "soon"]),
    ],
)
def test_each_converter_accepts_and_refuses(convert: Any, good: dict[str, Any], bad: list[str]) -> None:
    for given, expected in good.items():
        assert convert(given) == expected
    for given in bad:
        with pytest.raises(ValueError, match="expected"):
            convert(given)
    assert not math.isnan(number("0"))


def test_an_unknown_option_is_refused_without_repeating_its_value() -> None:
    url = "files:///var/s?passwd=hunter2"
    with pytest.raises(StoreURLError) as caught:
        OPTIONS.parse("passwd=hunter2", shown=redact_url(url))
    message = str(caught.value)
    assert "'passwd'" in message
    assert "known: batch_size, sweep_interval, table, tbl, ttl" in message
    assert "hunter2" not in message


def test_the_value_of_a_misspelt_option_is_masked_in_every_message() -> None:
    url = "files:///var/s?ttl=5&pasword=hunter2&tbl=x"
    for query in ("ttl=5&pasword=hunter2&tbl=x", "ttl=5&pasword=hunter2&ttl=6"):
        with pytest.raises(StoreURLError) as caught:
            OPTIONS.parse(query, shown=redact_url(url))
        assert "hunter2" not in str(caught.value)
    with pytest.raises(StoreURLError) as caught:
        OPTIONS.parse("pasword=hunter2", shown=redact_url("files:///var/s?pasword=hunter2"))
    assert "pasword=***" in str(caught.value)


def test_an_option_given_twice_is_refused_even_under_its_alias() -> None:
    with pytest.raises(StoreURLError, match="'tbl' is given twice"):
        OPTIONS.parse("table=a&tbl=b", shown="x")
    with pytest.raises(StoreURLError, match="'ttl' is given twice"):
        OPTIONS.parse("ttl=1&ttl=1", shown="x")


def test_a_bad_value_names_its_option() -> None:
    with pytest.raises(
        StoreURLError, match=r"option 'batch_size' in the store URL 'x': expected a whole number above 0"
    ):
        OPTIONS.parse("batch_size=0", shown="x")


def test_aliases_must_point_at_known_options() -> None:
    with pytest.raises(ValueError, match="no converter"):
        URLOptions({"ttl": number}, aliases={"t": "lifetime"})


def test_keywords_win_over_the_url() -> None:
    built = open_with_options(
        Built, "/p", url="files:///p", from_url={"ttl": 5.0, "table": "a"}, options={"ttl": 7.0}
    )
    assert (built.path, built.ttl, built.table) == ("/p", 7.0, "a")


def test_a_refused_option_becomes_a_store_url_error_without_credentials() -> None:
    url = "files://admin:hunter2@host/p?token=s3cr3t-token"
    with pytest.raises(StoreURLError) as caught:
        open_with_options(Built, "/p", url=url, from_url={"ttl": 1e9}, options={})
    message = str(caught.value)
    assert "too long" in message
    assert "hunter2" not in message
    assert "s3cr3t-token" not in message
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    with pytest.raises(StoreURLError, match="unexpected options"):
        open_with_options(Built, "/p", url=url, from_url={"colour": "red"}, options={})


def test_a_store_url_error_of_the_factory_passes_through() -> None:
    def refuse(**_: Any) -> None:
        raise StoreURLError("the factory's own words")

    with pytest.raises(StoreURLError, match=r"^the factory's own words$"):
        open_with_options(refuse, url="x://", from_url={}, options={})
