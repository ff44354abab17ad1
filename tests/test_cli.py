"""The ``connectstore`` command takes its subcommands and its default check target from entry
points: proven with the core alone on ``sys.path`` (``python -I -S``: no installed
distribution is seen) plus, where needed, a small distribution written into ``tmp_path``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from connectstore.install_hints import COMMAND_HINTS

REPO = Path(__file__).resolve().parents[1]
RUN_CLI = (
    "import sys; sys.path[:0] = sys.argv.pop(1).split('|'); "
    "from connectstore.cli import main; sys.exit(main())"
)

DEMO_MODULE = """
import argparse

from connectstore.cli import default_target


class Hello:
    help = "say hello"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--name", required=True)

    def run(self, args: argparse.Namespace) -> int:
        print(f"hello {args.name}; default target {default_target('/some/dir')}")
        return 3


HELLO = Hello()
NOT_A_COMMAND = 42


def target(workdir: str) -> str:
    return f"demo://{workdir}/check"
"""


def connectstore(*args: str, distributions: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``connectstore ARGS`` seeing only the core, and the distributions in ``distributions``."""
    path = str(REPO) if distributions is None else f"{REPO}|{distributions}"
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", RUN_CLI, path, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def demo_distribution(folder: Path, entry_points: str) -> Path:
    """A distribution ``demo`` installed into ``folder`` with the given entry_points.txt."""
    (folder / "demo_cmd.py").write_text(DEMO_MODULE)
    info = folder / "demo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    return folder


def test_without_the_suite_check_says_what_to_install_and_exits_2() -> None:
    for args in (["check"], ["check", "memory://", "--clear", "--no-such-option"]):
        result = connectstore(*args)
        assert result.returncode == 2, result
        assert result.stdout == ""
        assert result.stderr == f"connectstore check needs {COMMAND_HINTS['check']}\n"
        assert "pip install ./ ./conformance" in result.stderr


def test_schemes_is_built_in() -> None:
    result = connectstore("schemes")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "memory://  connectstore.urls:open_memory_store\n"


def test_a_distribution_adds_a_command_and_the_default_check_target(tmp_path: Path) -> None:
    demo = demo_distribution(
        tmp_path,
        """
        [connectstore.commands]
        hello = demo_cmd:HELLO
        [connectstore.embedded]
        demo = demo_cmd:target
        """,
    )
    result = connectstore("hello", "--name", "ada", distributions=demo)
    assert (result.returncode, result.stdout) == (3, "hello ada; default target demo:///some/dir/check\n")
    assert "say hello" in connectstore("--help", distributions=demo).stdout
    usage = connectstore("hello", distributions=demo)
    assert usage.returncode == 2
    assert "the following arguments are required: --name" in usage.stderr


def test_without_an_embedded_store_the_default_target_is_memory(tmp_path: Path) -> None:
    demo = demo_distribution(tmp_path, "[connectstore.commands]\nhello = demo_cmd:HELLO\n")
    result = connectstore("hello", "--name", "ada", distributions=demo)
    assert result.stdout == "hello ada; default target memory://\n"


def test_a_broken_command_is_reported_only_when_asked_for(tmp_path: Path) -> None:
    demo = demo_distribution(
        tmp_path,
        """
        [connectstore.commands]
        gone = no_such_module_here:COMMAND
        number = demo_cmd:NOT_A_COMMAND
        schemes = demo_cmd:HELLO
        """,
    )
    assert connectstore("schemes", distributions=demo).stdout.startswith("memory://  ")  # built in wins
    gone = connectstore("gone", "--anything", distributions=demo)
    assert gone.returncode == 2
    assert gone.stderr.startswith("connectstore gone: cannot load no_such_module_here:COMMAND: ")
    assert "ModuleNotFoundError" in gone.stderr
    assert len(gone.stderr.splitlines()) == 1
    number = connectstore("number", distributions=demo)
    assert number.returncode == 2
    assert number.stderr.startswith(
        "connectstore number: demo_cmd:NOT_A_COMMAND is not a connectstore command"
    )


def test_a_broken_embedded_store_is_skipped_with_a_note(tmp_path: Path) -> None:
    demo = demo_distribution(
        tmp_path,
        """
        [connectstore.commands]
        hello = demo_cmd:HELLO
        [connectstore.embedded]
        aaa = no_such_module_here:target
        zzz = demo_cmd:target
        """,
    )
    result = connectstore("hello", "--name", "ada", distributions=demo)
    assert result.stdout == "hello ada; default target demo:///some/dir/check\n"
    assert result.stderr.startswith("connectstore: skipping the embedded store no_such_module_here:target: ")
