"""express-session's documented usage, in FastAPI: login / profile / logout, a shopping cart,
flash messages read once, a ``require_auth`` dependency, and the security best-practice
settings. Run it with any store URL::

    SESSION_SECRET=change-me SESSION_STORE_URL=sqlite:///sessions.db uvicorn examples.fastapi_app.app:app

(``SESSION_TRUST_PROXY=1`` behind a TLS-terminating proxy.) The cookie is ``Secure`` on
HTTPS and plain on HTTP (``secure="auto"``), so the app works over both.

The session's contents are typed with a ``TypedDict`` (:class:`AppSession`): the session
itself is a ``MutableMapping[str, Any]``, and :func:`typed` gives the same object under the
application's type, so the type checker knows ``session["cart"]`` is a list of items.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, TypedDict, cast

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel

from connectstore import CookieOptions, Session, SessionEngine, Store, open_store
from connectstore.integrations.asgi import SessionMiddleware

USERS = {"alice": "wonderland", "bob": "builder"}  # a stand-in for a real user database


class CartItem(TypedDict):
    """One line of the shopping cart."""

    product_id: str
    quantity: int


class Flash(TypedDict):
    """A message shown once, on the next page."""

    type: str
    message: str


class AppSession(TypedDict, total=False):
    """What this application keeps in a session."""

    user_id: str
    cart: list[CartItem]
    flash: list[Flash]


class Login(BaseModel):
    username: str
    password: str


class AddToCart(BaseModel):
    product_id: str
    quantity: int = 1


def typed(session: Session) -> AppSession:
    """The session under the application's type (the same object: writes go to the session)."""
    return cast(AppSession, session)


def get_session(request: Request) -> Session:
    """The request's session (the middleware always provides one on this app's paths)."""
    session: Session | None = request.scope.get("session")
    if session is None:
        raise HTTPException(status_code=503, detail="sessions are unavailable")
    return session


SessionDep = Annotated[Session, Depends(get_session)]


def require_auth(session: SessionDep) -> str:
    """The logged-in user's id, or 401: express's ``requireAuth`` middleware."""
    user_id = typed(session).get("user_id")
    if user_id is None:
        raise HTTPException(status_code=401, detail="authentication required")
    return user_id


def flash(session: Session, kind: str, message: str) -> None:
    """Queue a message for the next page."""
    typed(session).setdefault("flash", []).append({"type": kind, "message": message})


def create_app(store: Store, secret: str | list[str], *, trust_proxy: bool = False) -> FastAPI:
    """The example application on ``store``, with express-session's recommended settings;
    ``trust_proxy``: believe ``X-Forwarded-Proto`` (when served behind a TLS proxy).
    """
    app = FastAPI()
    engine = SessionEngine(
        store,
        secret=secret,
        resave=False,  # never rewrite an unchanged session (no lost updates between requests)
        save_uninitialized=False,  # no session, no cookie, until there is something to keep
        # secure="auto": the cookie is Secure on HTTPS (never sent back over plain HTTP) and
        # plain on HTTP, so the app also works as run above; behind a TLS-terminating proxy
        # pass trust_proxy=True so X-Forwarded-Proto: https counts as HTTPS.
        cookie=CookieOptions(max_age=3600, http_only=True, secure="auto", same_site="strict"),
        trust_proxy=trust_proxy,
    )
    app.add_middleware(SessionMiddleware, engine=engine)

    @app.post("/login")
    async def login(body: Login, session: SessionDep) -> dict[str, Any]:
        if USERS.get(body.username) != body.password:
            raise HTTPException(status_code=401, detail="invalid credentials")
        await session.regenerate()  # a new id on login: defeats session fixation
        typed(session)["user_id"] = body.username
        flash(session, "success", f"Welcome, {body.username}")
        return {"user": body.username}

    @app.get("/profile")
    async def profile(user_id: Annotated[str, Depends(require_auth)], session: SessionDep) -> dict[str, Any]:
        return {"user": user_id, "cart_items": len(typed(session).get("cart", []))}

    @app.post("/logout")
    async def logout(session: SessionDep) -> dict[str, Any]:
        await session.destroy()
        return {"logged_out": True}

    @app.post("/cart")
    async def add_to_cart(body: AddToCart, session: SessionDep) -> dict[str, Any]:
        cart = typed(session).setdefault("cart", [])
        for item in cart:
            if item["product_id"] == body.product_id:
                item["quantity"] += body.quantity
                break
        else:
            cart.append({"product_id": body.product_id, "quantity": body.quantity})
        return {"cart": cart}

    @app.get("/cart")
    async def show_cart(session: SessionDep) -> dict[str, Any]:
        return {"cart": typed(session).get("cart", [])}

    @app.get("/messages")
    async def messages(session: SessionDep) -> dict[str, Any]:
        return {"messages": typed(session).pop("flash", [])}  # read once

    return app


def _app_from_environment() -> FastAPI:
    secret = os.environ.get("SESSION_SECRET")
    if not secret:
        raise RuntimeError("set SESSION_SECRET (and optionally SESSION_STORE_URL) to run the example app")
    store = open_store(os.environ.get("SESSION_STORE_URL", "memory://"))
    return create_app(store, secret, trust_proxy=os.environ.get("SESSION_TRUST_PROXY") == "1")


def __getattr__(name: str) -> Any:
    """``examples.fastapi_app.app:app`` for uvicorn, built from the environment on first use."""
    if name == "app":
        return _app_from_environment()
    raise AttributeError(name)
