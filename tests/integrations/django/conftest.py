"""Django for these tests: configured once for the process (Django's settings are global),
with the connectstore session engine; each test swaps ``CONNECTSTORE`` and the middleware
with ``override_settings``. ``django.contrib.auth`` runs on an in-memory SQLite database
that the tests needing users create (``database`` fixture of ``test_test_client.py``).
"""

from __future__ import annotations

import django  # type: ignore[import-untyped]
from django.conf import settings  # type: ignore[import-untyped]

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="keyboard cat",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF="tests.integrations.django.urls",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"],
        SESSION_ENGINE="connectstore.integrations.django",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],  # fast: tests only
        USE_TZ=True,
    )
    django.setup()
