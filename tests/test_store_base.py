"""The Store base class: capabilities and the error for unsupported methods."""

from __future__ import annotations

import pytest

from connectstore import (
    CAPABILITIES,
    MemoryStore,
    SessionData,
    Store,
    UnsupportedOperationError,
    capabilities,
    supports,
)


class MinimalStore(Store):
    """Only the required methods."""

    def __init__(self) -> None:
        self.data: dict[str, SessionData] = {}

    async def get(self, sid: str) -> SessionData | None:
        return self.data.get(sid)

    async def set(self, sid: str, session: SessionData) -> None:
        self.data[sid] = session

    async def destroy(self, sid: str) -> None:
        self.data.pop(sid, None)


@pytest.mark.parametrize("method", ["touch", "all", "clear", "length"])
async def test_unsupported_optional_method_names_store_and_method(method: str) -> None:
    store = MinimalStore()
    call = getattr(store, method)
    args: tuple[object, ...] = ("sid", {"cookie": {}}) if method == "touch" else ()
    with pytest.raises(UnsupportedOperationError, match=rf"MinimalStore does not support {method}\(\)"):
        await call(*args)


@pytest.mark.parametrize("method", ["ids", "items"])
def test_unsupported_streaming_method_raises_at_call(method: str) -> None:
    with pytest.raises(UnsupportedOperationError) as info:
        getattr(MinimalStore(), method)()
    assert info.value.method == method
    assert info.value.store_name == "MinimalStore"


def test_capability_helpers() -> None:
    assert capabilities(MinimalStore()) == frozenset()
    assert capabilities(MemoryStore()) == CAPABILITIES
    assert supports(MemoryStore(), "touch")
    assert not supports(MinimalStore(), "touch")
    assert not supports(object(), "all")
    with pytest.raises(ValueError, match="unknown capability"):
        supports(MemoryStore(), "teleport")


def test_declaring_an_unimplemented_capability_fails_at_class_definition() -> None:
    with pytest.raises(TypeError, match=r"declares \['touch'\] but does not implement"):

        class Liar(MinimalStore):
            capabilities = frozenset({"touch"})


def test_declaring_an_unknown_capability_fails() -> None:
    with pytest.raises(TypeError, match="unknown capabilities"):

        class Odd(MinimalStore):
            capabilities = frozenset({"fly"})


def test_required_methods_are_abstract() -> None:
    class Incomplete(Store):
        async def get(self, sid: str) -> SessionData | None:
            return None

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]


async def test_async_with_closes() -> None:
    closed = []

    class Closing(MinimalStore):
        async def close(self) -> None:
            closed.append(True)

    async with Closing() as store:
        await store.set("a", {"cookie": {}})
    assert closed == [True]


def test_check_sid_returns_a_str_and_refuses_anything_else() -> None:
    from connectstore import check_sid

    assert check_sid("abc") == "abc"
    assert check_sid("") == ""
    for sid, name in ((1, "int"), (b"abc", "bytes"), (None, "NoneType"), (["a"], "list")):
        with pytest.raises(TypeError, match=f"^a session id is a str, not {name}$"):
            check_sid(sid)
