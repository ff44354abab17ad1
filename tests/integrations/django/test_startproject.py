"""A project made by ``django-admin startproject``, with the documented swap of Django's
``SessionMiddleware`` for ``ConnectSessionMiddleware``: its system checks pass (the admin's
``admin.E410`` accepts our middleware as the ``SessionMiddleware`` it is), and the admin
works with it (form login, and the test client's ``force_login``), each in a subprocess
as ``manage.py`` runs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TIMEOUT = 300.0  # seconds: a slow, loaded machine, not a hang

SETTINGS_ADDED = """
CONNECTSTORE = {"store": "memory://"}
SESSION_ENGINE = "connectstore.integrations.django.express"
SESSION_COOKIE_NAME = "connect.sid"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast: a test
"""

# Run with the project's settings: the admin's own login form, then the test client's
# force_login(), each followed by the admin index (which needs a logged-in staff user).
ADMIN_FLOW = """
import json, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
import django
django.setup()
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment

setup_test_environment()  # ALLOWED_HOSTS gets "testserver", as under manage.py test
call_command("migrate", verbosity=0)
admin = User.objects.create_superuser("admin", "admin@example.com", "secret-password")
result = {}

form = Client()
login_page = form.get("/admin/login/")
posted = form.post("/admin/login/?next=/admin/", {"username": "admin", "password": "secret-password"})
index = form.get("/admin/")
result["form"] = {
    "login_page": login_page.status_code,
    "cookie": login_page.cookies["connect.sid"].value[:2],
    "posted": posted.status_code,
    "location": posted.get("Location"),
    "index": index.status_code,
    "site_administration": b"Site administration" in index.content,
}

forced = Client()
forced.force_login(admin)
index = forced.get("/admin/")
result["force_login"] = {
    "index": index.status_code,
    "site_administration": b"Site administration" in index.content,
}

anonymous = Client().get("/admin/")
result["anonymous"] = {"index": anonymous.status_code, "location": anonymous.get("Location")}
print(json.dumps(result))
"""


def _django_admin() -> list[str]:
    script = shutil.which("django-admin", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "django"]


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh ``startproject`` project with the middleware swapped as docs/integrations.md says."""
    folder = tmp_path_factory.mktemp("startproject")
    made = _run([*_django_admin(), "startproject", "mysite", str(folder)], folder)
    assert made.returncode == 0, made.stderr
    settings = folder / "mysite" / "settings.py"
    text, swaps = re.subn(
        r"""(['"])django\.contrib\.sessions\.middleware\.SessionMiddleware\1""",
        '"connectstore.integrations.django.ConnectSessionMiddleware"',
        settings.read_text(encoding="utf-8"),
    )
    assert swaps == 1, "startproject's MIDDLEWARE no longer lists Django's SessionMiddleware"
    settings.write_text(text + SETTINGS_ADDED, encoding="utf-8")
    return folder


def test_manage_py_check_passes(project: Path) -> None:
    checked = _run([sys.executable, "manage.py", "check"], project)
    assert checked.returncode == 0, checked.stderr
    assert "admin.E410" not in checked.stdout + checked.stderr
    assert "System check identified no issues" in checked.stdout


def test_the_admin_works_with_the_middleware(project: Path) -> None:
    script = project / "admin_flow.py"
    script.write_text(ADMIN_FLOW, encoding="utf-8")
    ran = _run([sys.executable, str(script)], project)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result == {
        "form": {
            "login_page": 200,
            "cookie": "s:",  # express-session's signed cookie
            "posted": 302,
            "location": "/admin/",
            "index": 200,
            "site_administration": True,
        },
        "force_login": {"index": 200, "site_administration": True},
        "anonymous": {"index": 302, "location": "/admin/login/?next=/admin/"},
    }
