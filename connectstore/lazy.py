"""Package attributes imported on first use (PEP 562), for the core and the adapters alike.

A package lists where each public name lives and hands the table to :func:`lazy_exports`;
``import package`` then imports none of those modules, and ``package.Name`` (or
``from package import Name``) imports the one module that defines ``Name``, once. A
package whose names pull in a heavy driver (redis-py, the SurrealDB SDK) so costs nothing
to import until a store is made. Type checkers should see ordinary imports instead, under
``if TYPE_CHECKING:``.
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (this module is on every import path)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, modules: Mapping[str, tuple[str, ...]], namespace: dict[str, Any]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of ``package``.

    ``modules`` maps a submodule's name (under ``package.``) to the public names it
    defines; ``namespace`` is the package's ``globals()``, where each name is kept once
    imported (so ``__getattr__`` runs once per name) and whose ``__all__`` ``__dir__`` lists.
    """
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> object:
        """Import a public name from its module on first use, and keep it for the next."""
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
