"""The install commands the README, the guide and the suite's README give work from this repository.

Installing into a fresh venv takes tens of seconds and the package index (for pytest and
Hypothesis), so it is checked by hand (see the guide); here, fast and offline: every local
path a documented ``pip install`` names is a distribution of this repository (and every
extra it asks for, ``"./adapters/redis[hiredis]"``, one that distribution declares), and
every command that installs the suite installs the core with it (pip finds neither on the
index).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conformance.test_check_command import REPO

DOCUMENTS = ("README.md", "docs/writing-a-store.md", "docs/command-line.md", "conformance/README.md")
"""The documents that tell how to install the suite."""
EVERY_DOCUMENT = ("README.md", "docs/*.md", "adapters/*/README.md", "conformance/README.md")
"""Every document whose ``pip install`` commands must name this repository's distributions."""
EXTRAS = re.compile(r"^(?P<path>[^\[]+)(?:\[(?P<extras>[^\]]*)\])?$")
FENCED_PIP = re.compile(r"^pip install .*$", re.MULTILINE)
INLINE_PIP = re.compile(r"`(pip install [^`]+)`")


def project_name(path: Path) -> str:
    """The ``[project] name`` of the distribution at ``path``."""
    found = re.search(r'^name = "([^"]+)"', (path / "pyproject.toml").read_text(), re.MULTILINE)
    assert found is not None, path
    return found.group(1)


def declared_extras(path: Path) -> set[str]:
    """The extras (``[project.optional-dependencies]``) of the distribution at ``path``."""
    text = (path / "pyproject.toml").read_text()
    section = text.partition("[project.optional-dependencies]")[2].split("\n[", 1)[0]
    return set(re.findall(r"^([A-Za-z0-9_-]+) = ", section, re.MULTILINE))


def local_distributions(document: str, command: list[str]) -> list[Path]:
    """The local paths (``./...``, extras allowed) ``command`` installs, each checked to be a
    distribution of this repository that declares the extras asked for.
    """
    found = []
    for argument in command[2:]:
        if not argument.startswith("./"):
            continue
        match = EXTRAS.match(argument)
        assert match is not None, (document, command, argument)
        path = REPO / match["path"]
        assert (path / "pyproject.toml").is_file(), (document, command, argument)
        wanted = {extra.strip() for extra in (match["extras"] or "").split(",") if extra.strip()}
        assert wanted <= declared_extras(path), (document, command, argument)
        found.append(path)
    return found


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
        names = {project_name(path) for path in local_distributions(document, command)}
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


@pytest.mark.parametrize(
    "document",
    sorted({path.relative_to(REPO).as_posix() for pattern in EVERY_DOCUMENT for path in REPO.glob(pattern)}),
)
def test_every_documented_local_install_is_a_distribution_of_this_repository(document: str) -> None:
    for command in pip_commands(document):
        local_distributions(document, command)
