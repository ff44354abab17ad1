"""The install commands the guide and the suite's README give work from this repository.

Installing into a fresh venv takes tens of seconds and the package index (for pytest and
Hypothesis), so it is checked by hand (see the guide); here, fast and offline: every local
path a documented ``pip install`` names is a distribution of this repository, and every
command that installs the suite installs the core with it (pip finds neither on the index).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conformance.test_check_command import REPO

DOCUMENTS = ("README.md", "docs/writing-a-store.md", "conformance/README.md")
FENCED_PIP = re.compile(r"^pip install .*$", re.MULTILINE)
INLINE_PIP = re.compile(r"`(pip install [^`]+)`")


def project_name(path: Path) -> str:
    """The ``[project] name`` of the distribution at ``path``."""
    found = re.search(r'^name = "([^"]+)"', (path / "pyproject.toml").read_text(), re.MULTILINE)
    assert found is not None, path
    return found.group(1)


def pip_commands(document: str) -> list[list[str]]:
    """Every ``pip install`` command of ``document``, split as a shell would, comments dropped."""
    text = (REPO / document).read_text()
    lines = FENCED_PIP.findall(text) + [" ".join(match.split()) for match in INLINE_PIP.findall(text)]
    return [shlex.split(line, comments=True) for line in lines]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_each_documented_install_names_this_repositorys_distributions(document: str) -> None:
    commands = pip_commands(document)
    assert any("./conformance" in command for command in commands), commands
    for command in commands:
        arguments = command[2:]
        local = [argument for argument in arguments if argument.startswith("./")]
        for path in local:
            assert (REPO / path / "pyproject.toml").is_file(), (document, command, path)
        names = {project_name(REPO / path) for path in local}
        names |= {argument.split("@")[0].strip() for argument in arguments if "@ git+" in argument}
        if "connectstore-conformance" in names and command != ["pip", "install", "./conformance"]:
            assert "connectstore" in names, (document, command)  # pip cannot find the core on the index
        for argument in arguments:
            if argument.startswith("connectstore-conformance @ git+"):
                subdirectory = argument.partition("#subdirectory=")[2]
                assert project_name(REPO / subdirectory) == "connectstore-conformance", argument


def test_no_document_says_the_suite_is_on_the_package_index() -> None:
    for document in DOCUMENTS:
        assert "pip install connectstore-conformance" not in (REPO / document).read_text(), document
