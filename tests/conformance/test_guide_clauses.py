"""The guide's "what the suite checks" list and the suite match clause for clause.

Section 5 of docs/writing-a-store.md names every clause (test method of StoreConformance)
under the mixin that holds it; any clause name anywhere in the guide must exist.
"""

from __future__ import annotations

import re

from connectstore_conformance import StoreConformance
from tests.conformance.test_check_command import REPO

GUIDE = REPO / "docs" / "writing-a-store.md"
CLAUSE_SECTION = "## 5. What the suite checks, clause by clause"
MIXIN_HEADING = re.compile(r"^\*\*`(\w+)`\*\*", re.MULTILINE)
CLAUSE_ITEM = re.compile(r"^\* `(test_\w+)`:", re.MULTILINE)


def suite_clauses() -> dict[str, str]:
    """Every clause of StoreConformance -> the mixin that defines it."""
    return {
        name: next(cls.__name__ for cls in StoreConformance.__mro__ if name in vars(cls))
        for name in dir(StoreConformance)
        if name.startswith("test_")
    }


def guide_section() -> str:
    text = GUIDE.read_text()
    assert CLAUSE_SECTION in text
    section = text.split(CLAUSE_SECTION, 1)[1]
    return section.split("\n## ", 1)[0]


def listed_clauses() -> dict[str, str]:
    """Each clause listed in section 5 -> the mixin heading it is listed under."""
    listed: dict[str, str] = {}
    mixin = ""
    for line in guide_section().splitlines():
        heading = MIXIN_HEADING.match(line)
        if heading:
            mixin = heading.group(1)
        item = CLAUSE_ITEM.match(line)
        if item:
            assert item.group(1) not in listed, f"{item.group(1)} is listed twice"
            listed[item.group(1)] = mixin
    return listed


def test_the_guide_lists_every_clause_under_its_mixin() -> None:
    clauses = suite_clauses()
    listed = listed_clauses()
    assert sorted(set(clauses) - set(listed)) == [], "clauses the guide does not list"
    assert sorted(set(listed) - set(clauses)) == [], "clauses the guide lists that do not exist"
    assert {name: listed[name] for name in clauses} == clauses


def test_every_clause_the_guide_names_exists() -> None:
    named = set(re.findall(r"`(test_\w+)`", GUIDE.read_text()))
    assert sorted(named - set(suite_clauses())) == []


def test_every_mixin_of_the_suite_has_a_heading() -> None:
    headings = MIXIN_HEADING.findall(guide_section())
    assert sorted(headings) == sorted(set(suite_clauses().values()))  # each once


def test_every_mixin_has_a_title_in_the_report() -> None:
    """``connectstore check`` groups its report by mixin: each one has a human title."""
    from connectstore_conformance.collector import GROUPS

    assert set(suite_clauses().values()) <= set(GROUPS)
