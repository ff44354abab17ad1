"""auth: the Auth classes or connect-surreal's signinOpts mappings, signed in for real; nothing else."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connectstore import StoreError, StoreUnavailableError, open_store
from connectstore_conformance import make_session
from connectstore_surrealdb import DatabaseAuth, NamespaceAuth, RootAuth, SurrealDBStore, TokenAuth
from tests.adapters.surrealdb.server import ROOT_PASSWORD, ROOT_USER, LoopbackSurreal

BOUND = 60.0  # seconds: a call that takes longer has hung
USER_PASSWORD = "user pass phrase"  # no quote: written into DEFINE USER as a literal


async def define_users(server: LoopbackSurreal) -> None:
    """A namespace user of ``app`` and a database user of ``app``/``web``, both editors."""
    await server.rpc(
        "query",
        [
            "USE NS app; "
            f"DEFINE USER ns_user ON NAMESPACE PASSWORD '{USER_PASSWORD}' ROLES EDITOR; "
            "USE NS app DB web; "
            f"DEFINE USER db_user ON DATABASE PASSWORD '{USER_PASSWORD}' ROLES EDITOR;",
            {},
        ],
    )


async def round_trip(store: SurrealDBStore) -> None:
    await asyncio.wait_for(store.set("s", make_session(3600, n=1)), BOUND)
    assert (await asyncio.wait_for(store.get("s"), BOUND) or {}).get("n") == 1


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"username": ROOT_USER, "password": ROOT_PASSWORD}, RootAuth(ROOT_USER, ROOT_PASSWORD)),
        ({"user": ROOT_USER, "pass": ROOT_PASSWORD}, RootAuth(ROOT_USER, ROOT_PASSWORD)),
        (
            {"namespace": "app", "username": "ns_user", "password": USER_PASSWORD},
            NamespaceAuth("ns_user", USER_PASSWORD, "app"),
        ),
        (
            {"namespace": "app", "database": "web", "username": "db_user", "password": USER_PASSWORD},
            DatabaseAuth("db_user", USER_PASSWORD, "app", "web"),
        ),
        (
            {"NS": "app", "DB": "web", "user": "db_user", "pass": USER_PASSWORD},
            DatabaseAuth("db_user", USER_PASSWORD, "app", "web"),
        ),
    ],
    ids=["root", "root-old-keys", "namespace", "database", "database-old-keys"],
)
async def test_signin_opts_mappings_sign_in(
    surreal_server: LoopbackSurreal, auth: dict[str, str], expected: object
) -> None:
    await define_users(surreal_server)
    store = SurrealDBStore(surreal_server.url, auth=auth, namespace="app", database="web")
    try:
        await round_trip(store)
    finally:
        await store.close()
    assert "signin" in surreal_server.methods
    assert SurrealDBStore(surreal_server.url, auth=expected)._connection.auth == expected  # type: ignore[arg-type]
    assert store._connection.auth == expected


async def test_a_token_mapping_authenticates(surreal_server: LoopbackSurreal) -> None:
    token = await surreal_server.rpc("signin", [{"user": ROOT_USER, "pass": ROOT_PASSWORD}])
    store = SurrealDBStore(surreal_server.url, auth={"token": str(token)})
    try:
        await round_trip(store)
    finally:
        await store.close()
    assert "authenticate" in surreal_server.methods
    assert isinstance(store._connection.auth, TokenAuth)


async def test_open_store_takes_a_mapping_too(surreal_server: LoopbackSurreal) -> None:
    url = "surrealdb+" + surreal_server.url
    store = open_store(url, auth={"username": ROOT_USER, "password": ROOT_PASSWORD})
    assert isinstance(store, SurrealDBStore)
    try:
        await round_trip(store)
    finally:
        await store.close()


async def test_a_wrong_password_in_a_mapping_is_refused_not_unavailable(
    surreal_server: LoopbackSurreal,
) -> None:
    store = SurrealDBStore(surreal_server.url, auth={"username": ROOT_USER, "password": "wrong horse"})
    try:
        with pytest.raises(StoreError, match="refused") as info:
            await asyncio.wait_for(store.get("s"), BOUND)
    finally:
        await store.close()
    assert not isinstance(info.value, StoreUnavailableError)
    assert "wrong horse" not in str(info.value)


@pytest.mark.parametrize(
    "auth",
    [
        "root:hunter2",
        ("root", "hunter2"),
        ["root", "hunter2"],
        {"username": "root"},
        {"password": "hunter2"},
        {"username": "root", "password": "hunter2", "access": "account"},
        {"namespace": "app", "database": "web", "access": "account", "variables": {"pass": "hunter2"}},
        {"username": "root", "password": 1234},
        {"token": "hunter2", "username": "root"},
        {"user": "root", "username": "root", "password": "hunter2"},
        {1: "root", "password": "hunter2"},
    ],
    ids=repr,
)
def test_anything_else_is_a_type_error_naming_the_accepted_forms(auth: Any) -> None:
    with pytest.raises(TypeError) as info:
        SurrealDBStore("ws://127.0.0.1:1/rpc", auth=auth)
    message = str(info.value)
    assert "hunter2" not in message
    assert "1234" not in message
    assert "RootAuth" in message
    assert "signinOpts" in message
