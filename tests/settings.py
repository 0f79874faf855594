"""Settings for the test run: the portal's own, with a throwaway secret key."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-used-anywhere-else")

from portal.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The test client and the live servers speak plain HTTP: no redirect to HTTPS. The redirect
# itself is tested where it is on (tests/system/test_settings.py, test_production_stack.py).
SECURE_SSL_REDIRECT = False
# Page tests sign approvers in without MFA; tests/auth turns the requirement on where it matters.
REQUIRE_MFA_FOR_APPROVERS = False

# A connection per request, as with DEBUG: the live servers' threads would otherwise keep
# theirs open past the test and hold the test database when it is dropped. The processes
# that tests/system starts use the production default (portal.env.database_settings).
if not os.environ.get("DATABASE_CONN_MAX_AGE"):
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

# Every test run gets its own database, so that runs side by side never share one.
_run = os.getpid()
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: tests with threads need SQLite's real locking (busy timeout).
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{_run}.sqlite3")}  # noqa: F405
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_portal_{_run}"}  # noqa: F405

# Without a broker configured, the portal's default is a folder under var/ that a `make run`
# started from the same checkout reads: tasks sent for real during tests (live servers,
# on-commit callbacks that run) stay in this process's memory instead.
if CELERY_BROKER_URL.startswith("filesystem://"):  # noqa: F405
    CELERY_BROKER_URL = "memory://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {}

# A throwaway cache of this process for the tests that are not about limits (emptied after
# every test by tests/conftest.py); the limit tests put Redis in its place (`shared_cache`).
# The portal's own settings never use per-process memory.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": f"tests-{_run}",
    }
}
