"""Settings for the access portal, read from the environment.

A fresh clone runs with no environment at all when DEBUG is on: SQLite under ``var/``,
tasks through the embedded worker (no broker), and a fake Identity Center started by
``make run``. Production sets ``SECRET_KEY``, ``DATABASE_URL``, ``CELERY_BROKER_URL`` and
the standard boto3 variables.
"""

import os
from pathlib import Path

from django.conf import global_settings
from django.core.exceptions import ImproperlyConfigured

from portal.env import (
    cache_from_url,
    database_settings,
    email_settings,
    env_bool,
    env_choice,
    env_count,
    env_int,
    env_list,
    env_rate,
    env_switch,
    identity_source_settings,
    proxy_ssl_header,
)
from portal.logs import logging_settings
from portal.schedule import beat_schedule

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it to a long random value, or set DEBUG=1 for development."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"
# Earlier keys, still accepted: sessions and signed values survive a rotation, and audit
# events sealed with an earlier key keep verifying (docs/audit.md, "Seals").
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # allauth's list of security keys says when each was last used with `naturaltime`.
    "django.contrib.humanize",
    "rest_framework",
    # Not "rest_framework.authtoken": its tokens were never-expiring keys stored in clear.
    # Personal API tokens (accessgroups.auth.tokens) replace them; migration 0009 of
    # accessgroups drops the old table (docs/authentication.md, "API tokens").
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    # allauth.account, allauth.socialaccount and allauth.mfa, named for Django admin
    # (accessgroups.auth.apps).
    "accessgroups.auth.apps.SignInConfig",
    "accessgroups.auth.apps.SingleSignOnConfig",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    "accessgroups.auth.apps.TwoFactorConfig",
    "accessgroups",
    "provisioning",
]

MIDDLEWARE = [
    # First: /healthz and /readyz are answered before sessions, sign-in, the allowed hosts
    # and the HTTPS redirect (portal/health.py).
    "portal.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves collected static files (API docs, admin) from gunicorn: no CDN, no extra server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # After authentication: approvers and admins without MFA are sent to enrol first.
    "accessgroups.auth.mfa.RequireMFAMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accessgroups.web.navigation.navigation",
                "accessgroups.auth.mfa.mfa_notice",
            ],
            # {% url %} with its answers kept per process; {{ moment|utc_time }}.
            "builtins": ["accessgroups.web.links", "accessgroups.web.moments"],
        },
    },
]

# Inputs and text areas written without a template each (accessgroups.web.form_renderer).
FORM_RENDERER = "accessgroups.web.form_renderer.FormRenderer"

if not os.environ.get("DATABASE_URL"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
# Persistent connections (DATABASE_CONN_MAX_AGE, with health checks): portal.env.
DATABASES = {
    "default": database_settings(default_url=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}", debug=DEBUG)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded worker writes while the web process reads: wait for the lock
    # instead of failing with "database is locked".
    # IMMEDIATE transactions take the write lock up front, so that two writers
    # serialise instead of one failing halfway through.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accessgroups.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Django's hashers, its PBKDF2-SHA256 derived in half the CPU (accessgroups/auth/hashers.py).
PASSWORD_HASHERS = ["accessgroups.auth.hashers.PBKDF2PasswordHasher"]
PASSWORD_HASHERS += global_settings.PASSWORD_HASHERS[1:]  # [0] is Django's PBKDF2-SHA256

LANGUAGE_CODE, TIME_ZONE, USE_I18N, USE_TZ = "en-us", "UTC", True, True
LOCALE_PATHS = [BASE_DIR / "locale"]  # the portal's words on allauth's two-factor pages

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"

# --- Sign-in (django-allauth) -----------------------------------------------------------
from portal.sso import oidc_apps, saml_apps

AUTHENTICATION_BACKENDS = [
    # The admin and the API's session login (/api-auth/) sign in by username.
    "django.contrib.auth.backends.ModelBackend",
    # The portal's sign-in page: username or email, and SSO.
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"
ACCOUNT_ADAPTER = "accessgroups.auth.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accessgroups.auth.adapters.SocialAccountAdapter"
# SSO providers (allauth provider ids, e.g. "oidc") whose own sign-in enforces MFA: a sign-in
# through them counts as the portal's second factor. Any other SSO sign-in does not.
SSO_MFA_PROVIDERS = env_list("SSO_MFA_PROVIDERS")
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_FORMS = {"login": "accessgroups.auth.forms.LoginForm"}
# Local signup is closed (the adapter says so); these fields describe the account SSO creates.
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# Users are created by admins and SSO, not by signing up: no verification mail to send.
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
# A reset asked for an unknown address sends nothing: there is no signup to point it to.
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Access portal] "
# SSO: a provider's VERIFIED email finds an existing user and links the identity to it; a
# new employee's first sign-in creates their user from the claims. Unverified addresses
# never match (the social adapter refuses them).
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_REQUIRED = True
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_PROVIDERS = {
    "openid_connect": {"APPS": oidc_apps(os.environ)},
    "saml": {"APPS": saml_apps(os.environ)},
}
# MFA: authenticator apps (TOTP), security keys and passkeys (WebAuthn), recovery codes.
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_PASSKEY_LOGIN_ENABLED = env_bool("MFA_PASSKEY_LOGIN_ENABLED", True)
MFA_TOTP_ISSUER = os.environ.get("MFA_TOTP_ISSUER", "Access portal")
# A refused security key is said in words, not as an error of a hidden field.
MFA_FORMS = {
    "authenticate_webauthn": "accessgroups.auth.mfa.AuthenticateWebAuthnForm",
    "login_webauthn": "accessgroups.auth.mfa.LoginWebAuthnForm",
    "reauthenticate_webauthn": "accessgroups.auth.mfa.ReauthenticateWebAuthnForm",
}
# WebAuthn needs HTTPS or http://localhost; allauth's MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN
# stays off even with DEBUG: localhost passes the origin check without it.
# Approvers and admins must enrol an authenticator before they may use any page.
REQUIRE_MFA_FOR_APPROVERS = env_bool("REQUIRE_MFA_FOR_APPROVERS", not DEBUG)

# Personal API tokens last 30 days unless their creator asks otherwise, and never longer
# than this many days.
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 90)
if API_TOKEN_MAX_DAYS < 1:
    raise ImproperlyConfigured("API_TOKEN_MAX_DAYS must be a whole number of days, at least 1.")

SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)

# --- Deployment hardening: HTTPS, HSTS, content security policy, session lifetime ----------
# What each variable does, and a setup behind a load balancer: docs/security.md, "Production
# settings". These variables are strict: a value that is not understood stops the start
# instead of quietly turning a protection off.
from csp.constants import NONE, SELF

# Plain HTTP is answered with a redirect to HTTPS. Health checks are exempt: a load balancer
# probes its targets over plain HTTP, and a redirect would count as a failed probe. (Their
# middleware answers before this redirect; the list says so to whoever reads it here.)
SECURE_SSL_REDIRECT = env_switch("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$"]
# Behind a proxy that terminates TLS, every request reaches Django over plain HTTP: without
# this header, Django would redirect to HTTPS forever. Only set it when the proxy overwrites
# the header a client sends (docs/security.md).
SECURE_PROXY_SSL_HEADER = proxy_ssl_header(os.environ.get("SECURE_PROXY_SSL_HEADER", ""))
# HSTS: a browser that has seen the portal over HTTPS never tries plain HTTP again for that
# long. With DEBUG it is off: it would stick to http://localhost for a year.
SECURE_HSTS_SECONDS = env_count(
    "SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, least=0, unit="seconds"
)
# The portal's own host name and the names below it; harmless on a host that has none.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_switch(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_HSTS_SECONDS > 0
)
# Consent to the browsers' preload list. It takes effect only when someone submits the
# registrable domain (example.com, not access.example.com) at hstspreload.org.
SECURE_HSTS_PRELOAD = env_switch("SECURE_HSTS_PRELOAD", SECURE_HSTS_SECONDS > 0)

# Content-Security-Policy (django-csp): scripts and styles only from the portal's own static
# files, never inline; the portal is never framed. form-action is left out: the SSO buttons
# post a form that redirects to the identity provider, which the browser would refuse.
INSTALLED_APPS.append("csp")
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "portal.csp.PortalCSPMiddleware",
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # Swagger UI's stylesheet draws its icons from data: URLs.
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    },
}

# A browser session ends after SESSION_IDLE_MINUTES without activity and SESSION_MAX_HOURS
# after sign-in, whichever comes first (accessgroups.auth.sessions); API tokens have none.
SESSION_IDLE_MINUTES = env_count("SESSION_IDLE_MINUTES", 60, least=1, unit="minutes")
SESSION_MAX_HOURS = env_count("SESSION_MAX_HOURS", 12, least=1, unit="hours")
# The cookie lives as long as an idle session; the middleware refreshes it while the
# person is active (not on every request: SESSION_SAVE_EVERY_REQUEST would write the session
# for every poll, and keep an idle page's session alive for ever).
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
# Sessions live in the database, never in the cache: signing in must not depend on Redis.
# Django's database store, read with SQL built once per process.
SESSION_ENGINE = "accessgroups.auth.sessions"
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware") + 1,
    "accessgroups.auth.sessions.SessionLifetimeMiddleware",
)
# --- end of deployment hardening ----------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # `Authorization: Token KEY` with a personal API token (hashed, expiring, revocable).
        "accessgroups.auth.tokens.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "accessgroups.api.pagination.PortalPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "accessgroups.api.openapi.PortalAutoSchema",
    "EXCEPTION_HANDLER": "accessgroups.api.errors.exception_handler",
    "URL_FORMAT_OVERRIDE": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Access portal API",
    "DESCRIPTION": "Self-service access to AWS accounts through IAM Identity Center.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Bodies are documented as JSON, the one encoding that carries every field (lists of
    # objects, null). Form encodings still reach the browsable API.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    "ENUM_NAME_OVERRIDES": {
        "RiskEnum": "accessgroups.models.catalogue.Risk",
        # The list and the detail of a request share one status enum, under its old name.
        "AccessRequestOutStatusEnum": "accessgroups.models.RequestStatus",
    },
}

# --- Celery -----------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
if not CELERY_BROKER_URL:
    # No broker configured: the embedded worker and the web process share a folder.
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://localhost/"  # a host name, or kombu warns it has none
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # kombu's default is "control" under the current directory: every process must
        # share one, wherever it was started from.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    # kombu writes into these folders but does not create them.
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    EMBEDDED_WORKER = True
else:
    EMBEDDED_WORKER = False
    if os.environ.get("CELERY_BROKER_KEY_PREFIX"):
        # Portals (or test runs) that share one Redis keep their queues apart by prefix.
        CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": os.environ["CELERY_BROKER_KEY_PREFIX"]}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Identity Center writes go to their own queue so that the fleet's share of AWS's
# limits can be reasoned about in one place.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {"provisioning.tasks.*": {"queue": "identity-center"}}
# The dispatcher (accessgroups.core.dispatch) sends again, this often, provisioning work
# whose task was lost (broker down, a process killed) and takes over dead workers' rows.
RECONCILE_INTERVAL_SECONDS = env_count("RECONCILE_INTERVAL_SECONDS", 300, least=1, unit="seconds")
# A worker renews its claim on a row this often (a third of it); a claim not renewed for
# this long belongs to a worker that died.
PROVISIONING_LEASE_SECONDS = env_count("PROVISIONING_LEASE_SECONDS", 60, least=1, unit="seconds")
# Admins get one mail about an ended membership still not removed from Identity Center
# after this long.
REMOVAL_ALERT_MINUTES = env_count("REMOVAL_ALERT_MINUTES", 30, least=1, unit="minutes")
# Break-glass access: its longest grant, and its review's delay (docs/decisions/0016-approval-policies.md).
BREAK_GLASS_MAX_HOURS = env_count("BREAK_GLASS_MAX_HOURS", 4, least=1, unit="hours")
BREAK_GLASS_REVIEW_HOURS = env_count("BREAK_GLASS_REVIEW_HOURS", 24, least=1, unit="hours")
# Pending requests nobody decided within this time turn timed_out (docs/decisions/0017).
PENDING_REQUEST_TTL_HOURS = env_count("PENDING_REQUEST_TTL_HOURS", 72, least=1, unit="hours")
# When access ends, deny the person's sessions that are still running on the group's
# permission set until they have run out (docs/decisions/0012-session-revocation.md).
REVOKE_SESSIONS = env_switch("REVOKE_SESSIONS", True)
# The drift scan (docs/decisions/0011-drift.md): how often, and whether it undoes what it
# finds ("revert") or only reports it ("report"). An interval of 0 turns the periodic scan
# off; `manage.py drift_scan` and POST /api/v1/drift/scan/ still run one.
DRIFT_SCAN_INTERVAL_SECONDS = env_count("DRIFT_SCAN_INTERVAL_SECONDS", 900, least=0, unit="seconds")
DRIFT_POLICY = env_choice("DRIFT_POLICY", ("revert", "report"), "revert")
# How often Identity Center's groups and the members of approver and eligible groups are read
# again (docs/operations.md, "Approvers and eligibility by group"); 0: only on demand.
GROUP_SYNC_SECONDS = env_count("GROUP_SYNC_SECONDS", 300, least=0, unit="seconds")
# What beat sends, and how often (portal/schedule.py).
CELERY_BEAT_SCHEDULE = beat_schedule(
    reconcile_seconds=RECONCILE_INTERVAL_SECONDS,
    drift_seconds=DRIFT_SCAN_INTERVAL_SECONDS,
    group_seconds=GROUP_SYNC_SECONDS,
)
# What an access review does at its deadline with memberships nobody reviewed: "revoke"
# them, or "flag" them for the auditor and leave access as it is.
ACCESS_REVIEW_UNREVIEWED = env_choice("ACCESS_REVIEW_UNREVIEWED", ("revoke", "flag"), "revoke")
# "required": a second admin approves access group changes (docs/decisions/0018).
CHANGE_APPROVAL = env_choice("CHANGE_APPROVAL", ("off", "required"), "off")
CELERY_TASK_ALWAYS_EAGER = False

# --- Email ------------------------------------------------------------------------------
# EMAIL_URL (smtp://user:password@host:587?tls=1, smtps://... for implicit TLS, console://)
# or the EMAIL_HOST/EMAIL_PORT/... variables. With DEBUG and neither, mail is printed to
# the console (make run shows it in the serve log).
globals().update(email_settings(DEBUG))
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Access portal <access-portal@localhost>")
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
# Links in mail point here: the address people reach the portal at.
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:8000")

# --- Identity Center ---------------------------------------------------------------------
AWS_REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
AWS_ENDPOINT_URL = os.environ.get("AWS_ENDPOINT_URL", "")
IDENTITY_CENTER_INSTANCE_ARN = os.environ.get("IDENTITY_CENTER_INSTANCE_ARN", "")
IDENTITY_STORE_ID = os.environ.get("IDENTITY_STORE_ID", "")
# Who owns the identity store's users (docs/operations.md, "Identity source"): the portal
# ("identity_center", it creates them) or an identity provider pushing them by SCIM
# ("external", the portal only finds them by IDENTITY_MATCH and never writes a user).
IDENTITY_SOURCE, IDENTITY_MATCH = identity_source_settings()
# Role the portal assumes in member accounts to check that customer managed policies
# exist before they are attached; empty: no check, the assignment's failure is shown.
MEMBER_ACCOUNT_ROLE_NAME = os.environ.get("MEMBER_ACCOUNT_ROLE_NAME", "")
# AWS's default quota of managed plus customer managed policies per permission set.
PERMISSION_SET_MANAGED_POLICY_QUOTA = env_int("PERMISSION_SET_MANAGED_POLICY_QUOTA", 20)
# Limits of the whole fleet (AWS quotas for IAM Identity Center).
SSO_ADMIN_TPS = env_int("SSO_ADMIN_TPS", 20)
MAX_OUTSTANDING_ASSIGNMENT_CREATIONS = env_int("MAX_OUTSTANDING_ASSIGNMENT_CREATIONS", 15)
MAX_CONCURRENT_PERMISSION_SET_PROVISIONS = env_int("MAX_CONCURRENT_PERMISSION_SET_PROVISIONS", 3)
# AWS Organizations' calls per second for the whole fleet; AWS throttles its List calls
# without publishing a figure per operation, so the portal stays well under (operations.md).
ORGANIZATIONS_TPS = env_count("ORGANIZATIONS_TPS", 5, least=1, unit="calls per second")
# Where the fleet-wide limits live; defaults to the broker when it is Redis.
PROVISIONING_REDIS_URL = os.environ.get("PROVISIONING_REDIS_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)

# --- Throttling and the shared cache (begin) ---------------------------------------------
# Sign-in limits (allauth) and API throttles (DRF) count in Django's default cache. It is
# shared by every process and replica: Redis (CACHE_URL, else the Redis of the fleet-wide
# limits above), else a table of the database. Never per-process memory, which would give
# every gunicorn worker an allowance of its own, except while Redis cannot be reached: then
# each process counts alone rather than answer 500 (portal/cache.py, decision 0010).
# docs/authentication.md, "Limits".
from accessgroups.core.throttling import parse_rate as _parse_rate  # noqa: E402

# Several portals (or test runs) sharing one Redis keep apart by prefix, as the broker does.
CACHE_KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX") or os.environ.get(
    "CELERY_BROKER_KEY_PREFIX", "portal"
)
CACHE_URL = os.environ.get("CACHE_URL") or PROVISIONING_REDIS_URL or "db://"
CACHES = {"default": cache_from_url(CACHE_URL, CACHE_KEY_PREFIX)}

# Proxies in front of the portal that append the client's address to X-Forwarded-For (a
# load balancer: 1). 0 trusts none and counts REMOTE_ADDR; too high lets clients choose
# their address. One rule for allauth and DRF: accessgroups.core.throttling.client_address.
try:
    TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
except ValueError:
    TRUSTED_PROXY_COUNT = -1
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be a whole number, 0 or more.")
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT

# Sign-in (allauth). A failed sign-in counts against its account (whichever name was
# typed) and its address; over either limit every attempt, the right password included, is
# answered 429 until the oldest counted failure is a period old. A success is not counted.
LOGIN_FAILED_PER_ACCOUNT = env_rate("LOGIN_FAILED_PER_ACCOUNT", "5/15m")
LOGIN_FAILED_PER_ADDRESS = env_rate("LOGIN_FAILED_PER_ADDRESS", "30/15m")
LOGIN_ATTEMPTS_PER_ADDRESS = env_rate("LOGIN_ATTEMPTS_PER_ADDRESS", "30/minute")
ACCOUNT_RATE_LIMITS = {
    # Every POST of the sign-in page, right or wrong, per address.
    "login": f"{_parse_rate(LOGIN_ATTEMPTS_PER_ADDRESS)}/ip",
    # Failed password checks: sign-in, reauthentication and wrong MFA codes.
    "login_failed": (
        f"{_parse_rate(LOGIN_FAILED_PER_ADDRESS)}/ip,{_parse_rate(LOGIN_FAILED_PER_ACCOUNT)}/key"
    ),
    # allauth's defaults, written down so that they are seen.
    "reauthenticate": "10/m/user",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
}

# The API (DRF): per signed-in user (token or session) and per anonymous address; 429
# with Retry-After past it.
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "accessgroups.api.throttling.UserThrottle",
    "accessgroups.api.throttling.AnonThrottle",
]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "user": env_rate("API_THROTTLE_USER", "120/minute"),
    "anon": env_rate("API_THROTTLE_ANON", "30/minute"),
}
# --- Throttling and the shared cache (end) -----------------------------------------------

# /metrics (portal/metrics.py) is off unless this is set; scrapers then send it as
# `Authorization: Bearer <token>`.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip()

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
# One line per request with DEBUG (gunicorn writes its own access log): portal/logs.py.
ACCESS_LOG = env_switch("ACCESS_LOG", DEBUG)
if ACCESS_LOG:
    MIDDLEWARE.insert(0, "portal.logs.AccessLogMiddleware")
LOGGING = logging_settings(level=LOG_LEVEL, access_log=ACCESS_LOG, debug=DEBUG)
