"""The Flask test app as a pre-fork server imports it (``gunicorn --preload``).

``CONNECTSTORE_TEST_STORE`` is the store URL given to :class:`ConnectSession`. With
``CONNECTSTORE_TEST_WARM=1`` the app also serves one request while it is imported, as an
app that smoke-tests itself at start-up would: the bridge, its store and the session engine
then exist in the master before the workers are forked.
"""

from __future__ import annotations

import os

from tests.integrations.flask.app import make_app

app = make_app(os.environ["CONNECTSTORE_TEST_STORE"])
if os.environ.get("CONNECTSTORE_TEST_WARM") == "1":
    assert app.test_client().get("/inc").status_code == 200
