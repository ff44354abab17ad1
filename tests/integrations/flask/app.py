"""A small Flask app over :class:`ConnectSession`: the documentation's login / cart /
logout flow plus one route per session operation.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, redirect, request
from flask.typing import ResponseReturnValue

from connectstore.integrations.flask import ConnectSession, current_session
from connectstore.integrations.store_source import StoreSource


def make_app(store: StoreSource, **options: Any) -> Flask:
    """The app; ``options`` go to :class:`ConnectSession` (secret: Flask's ``SECRET_KEY``)."""
    app = Flask(__name__)
    app.secret_key = "keyboard cat"
    ConnectSession(app, store, **options)

    @app.get("/")
    def show() -> ResponseReturnValue:
        session = current_session()
        return jsonify(available=session.available, id=session.id, data=dict(session), new=session.new)

    @app.get("/inc")
    def increment() -> ResponseReturnValue:
        session = current_session()
        session["views"] = session.get("views", 0) + 1
        return jsonify(id=session.id, views=session["views"])

    @app.post("/login")
    def login() -> ResponseReturnValue:
        session = current_session()
        old = session.id
        session.regenerate()
        session["user"] = request.form["user"]
        return jsonify(old=old, id=session.id)

    @app.get("/profile")
    def profile() -> ResponseReturnValue:
        user = current_session().get("user")
        if user is None:
            return jsonify(error="login required"), 401
        return jsonify(user=user, cart=current_session().get("cart", []))

    @app.post("/cart")
    def add_to_cart() -> ResponseReturnValue:
        session = current_session()
        session.setdefault("cart", []).append(request.form["item"])  # a nested change: no flag needed
        return jsonify(cart=session["cart"])

    @app.post("/logout")
    def logout() -> ResponseReturnValue:
        current_session().destroy()
        return jsonify(logged_out=True)

    @app.get("/save-and-redirect")
    def save_and_redirect() -> ResponseReturnValue:
        session = current_session()
        session["flash"] = "saved before the redirect"
        session.save()
        return redirect("/")

    @app.get("/remember-me")
    def remember_me() -> ResponseReturnValue:
        session = current_session()
        session.permanent = True
        session["remember"] = True
        return jsonify(permanent=session.permanent, modified=session.modified)

    @app.get("/grow/<int:size>")
    def grow(size: int) -> ResponseReturnValue:
        session = current_session()
        session["blob"] = "x" * size
        if request.args.get("save"):
            session.save()
        return jsonify(id=session.id)

    @app.get("/remove")
    def remove() -> ResponseReturnValue:
        current_session().remove()
        return jsonify(removed=True)

    return app
