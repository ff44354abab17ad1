"""Views of the Django tests: the login / cart / logout flow and one route per operation.
They use only Django's session API, so both the session engine and the middleware run them.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse  # type: ignore[import-untyped]
from django.urls import path  # type: ignore[import-untyped]


def show(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"key": request.session.session_key, "data": dict(request.session.items())})


def increment(request: HttpRequest) -> HttpResponse:
    request.session["views"] = request.session.get("views", 0) + 1
    return JsonResponse({"key": request.session.session_key, "views": request.session["views"]})


async def async_increment(request: HttpRequest) -> HttpResponse:
    views = await request.session.aget("views", 0) + 1
    await request.session.aset("views", views)
    if request.GET.get("cycle"):
        await request.session.acycle_key()
    return JsonResponse({"views": views})


def login(request: HttpRequest) -> HttpResponse:
    old = request.session.session_key
    request.session.cycle_key()  # what django.contrib.auth.login does
    request.session["user"] = request.POST["user"]
    return JsonResponse({"old": old, "key": request.session.session_key})


def profile(request: HttpRequest) -> HttpResponse:
    user = request.session.get("user")
    if user is None:
        return JsonResponse({"error": "login required"}, status=401)
    return JsonResponse({"user": user, "cart": request.session.get("cart", [])})


def add_to_cart(request: HttpRequest) -> HttpResponse:
    request.session["cart"] = [*request.session.get("cart", []), request.POST["item"]]
    return JsonResponse({"cart": request.session["cart"]})


def logout(request: HttpRequest) -> HttpResponse:
    request.session.flush()  # what django.contrib.auth.logout does
    return JsonResponse({"logged_out": True})


def remember(request: HttpRequest) -> HttpResponse:
    request.session.set_expiry(3600)
    request.session["remember"] = True
    return JsonResponse({"age": request.session.get_expiry_age()})


def whoami(request: HttpRequest) -> HttpResponse:
    """Who ``django.contrib.auth`` says the request is (AuthenticationMiddleware)."""
    user = request.user
    return JsonResponse({"user": user.get_username() if user.is_authenticated else None})


def flash_and_redirect(request: HttpRequest) -> HttpResponse:
    request.session["flash"] = "kept across the redirect"
    return HttpResponseRedirect("/")


urlpatterns = [
    path("", show),
    path("inc", increment),
    path("async-inc", async_increment),
    path("login", login),
    path("profile", profile),
    path("cart", add_to_cart),
    path("logout", logout),
    path("remember", remember),
    path("flash", flash_and_redirect),
    path("whoami", whoami),
]
