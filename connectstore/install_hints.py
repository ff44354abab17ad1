"""What to install for a ``connectstore`` subcommand that another distribution provides.

Text for messages only: the core never imports or probes these distributions. When no
installed distribution registers a subcommand listed here (see :mod:`connectstore.cli`),
``connectstore NAME`` prints ``connectstore NAME needs <hint>`` and exits with status 2.
"""

from __future__ import annotations

from typing import Final

__all__ = ["COMMAND_HINTS"]

COMMAND_HINTS: Final[dict[str, str]] = {
    "check": "the conformance suite: from the connectstore repository, "
    "pip install ./ ./conformance (see docs/writing-a-store.md)",
}
