"""Django for these tests: configured once for the process (Django's settings are global),
with the connectstore session engine; each test swaps ``CONNECTSTORE`` and the middleware
with ``override_settings``.
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
        INSTALLED_APPS=[],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"],
        SESSION_ENGINE="connectstore.integrations.django",
        DATABASES={},
        USE_TZ=True,
    )
    django.setup()
