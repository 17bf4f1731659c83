"""Django settings. Every setting that differs between machines comes from the environment.

See docs/configuration.md for the list of variables.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent
VAR_DIR = Path(os.environ.get("FLOTILLA_VAR_DIR", PROJECT_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)
(VAR_DIR / "staticfiles").mkdir(exist_ok=True)

#: Where the published reference and sitrep files live (never inside the repository).
DATA_DIR = Path(os.environ.get("FLOTILLA_DATA_DIR", PROJECT_DIR.parent / "shared" / "data"))


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _env_bool("FLOTILLA_DEBUG", False)
SECRET_KEY = os.environ.get("FLOTILLA_SECRET_KEY", "")
if not SECRET_KEY:
    # A development key is generated once per machine and kept under var/, so that sessions
    # survive restarts without anyone committing a secret.
    # Readable by its owner only (0600), created so from the start, never widened later.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        import secrets

        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it a moment ago
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(50))
    if key_file.stat().st_mode & 0o077:
        key_file.chmod(0o600)  # made by an earlier version, readable by others
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("FLOTILLA_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("FLOTILLA_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    # The second factor (TOTP and one-time recovery codes) admins must pass: see ADR 0031.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "flotilla.audit",
    "flotilla.notifications",
    "flotilla.organisations",
    "flotilla.collaboratives",
    "flotilla.authz",
    "flotilla.accounts",
    "flotilla.sharing",
    "flotilla.reporting",
    "flotilla.escalation",
    "flotilla.alerts",
    "flotilla.directory",
    "flotilla.coordination",
    "flotilla.picture",
    "flotilla.exchange",
    "flotilla.planning",
    "flotilla.interop",
    "flotilla.demo",
    "flotilla.jobs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the session: a NUL in a cookie or address is refused before any query sees it.
    "flotilla.middleware.RefuseNulMiddleware",
    "flotilla.middleware.ContentSecurityPolicyMiddleware",
    "flotilla.middleware.RateLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "flotilla.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "flotilla.middleware.RememberAccessMiddleware",
    "flotilla.sharing.ledger.AccessRecordMiddleware",
]

ROOT_URLCONF = "flotilla.urls"
WSGI_APPLICATION = "flotilla.wsgi.application"

_NHSUK_TEMPLATES = None
try:
    import nhsuk_frontend_jinja

    _NHSUK_TEMPLATES = Path(nhsuk_frontend_jinja.__file__).parent / "templates"
except ImportError:  # pragma: no cover - the lock file always installs it
    pass

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "jinja2", *([_NHSUK_TEMPLATES] if _NHSUK_TEMPLATES else [])],
        "APP_DIRS": True,
        "OPTIONS": {
            "environment": "flotilla.jinja2.environment",
            "autoescape": True,
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
    {
        # The Django admin and ninja's API docs page use Django templates.
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    },
]

DEFAULT_SQLITE = f"sqlite:///{VAR_DIR / 'flotilla.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", DEFAULT_SQLITE),
        conn_max_age=int(os.environ.get("FLOTILLA_CONN_MAX_AGE", "60")),
    )
}
#: The longest one SQL statement may run on PostgreSQL before it is cancelled (an error, not
#: a hung worker holding locks). Migrations and long commands can lift it with
#: FLOTILLA_STATEMENT_TIMEOUT_MS=0.
STATEMENT_TIMEOUT_MS = int(os.environ.get("FLOTILLA_STATEMENT_TIMEOUT_MS", "30000"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"]["options"] = f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {
            # WAL lets readers go on while one writer commits; IMMEDIATE takes the write lock
            # at BEGIN so that concurrent writers queue instead of failing mid-transaction.
            # A 64 MB page cache keeps index pages in memory during large imports.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    # Tests that use threads need a file, not the default in-memory database; one per test
    # process, so that runs side by side do not share it (Django deletes it afterwards).
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

#: An API call may carry 20,000 values (about 3 MB of JSON); uploads of sitrep files are
#: streamed to disk above this size anyway.
DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Signing in with OpenID Connect (ADR 0029), beside passwords: on only when the client id and
# all four endpoints are set (flotilla.accounts.oidc.enabled); otherwise the sign-in page shows
# no button and its routes answer 404. The settings are mozilla-django-oidc's.
OIDC_RP_CLIENT_ID = os.environ.get("FLOTILLA_OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("FLOTILLA_OIDC_CLIENT_SECRET", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("FLOTILLA_OIDC_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("FLOTILLA_OIDC_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("FLOTILLA_OIDC_USERINFO_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("FLOTILLA_OIDC_JWKS_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = os.environ.get("FLOTILLA_OIDC_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = os.environ.get("FLOTILLA_OIDC_SCOPES", "openid email profile")
#: The provider's `iss`: ID tokens naming another issuer are refused. Empty: not checked, and
#: identities are recorded under the token endpoint's origin.
OIDC_ISSUER = os.environ.get("FLOTILLA_OIDC_ISSUER", "").rstrip("/")
#: The words of the sign-in page's button.
OIDC_NAME = os.environ.get("FLOTILLA_OIDC_NAME", "Sign in with your organisation's account")
#: Accounts are made only by invitation, never by signing in (the backend refuses anyway).
OIDC_CREATE_USER = False
#: Seconds to wait for the provider's token, user info and key endpoints.
OIDC_TIMEOUT = 10
#: Passwords first; the OIDC backend answers only the OIDC callback.
AUTHENTICATION_BACKENDS = [
    "flotilla.accounts.backends.PasswordBackend",
    "flotilla.accounts.oidc.OidcBackend",
]

#: How long an invitation link to join an organisation works.
#: Admins (organisation admins and platform staff) must pass a second factor, a code from an
#: authenticator app, after signing in (ADR 0031). On unless FLOTILLA_ADMIN_SECOND_FACTOR=0.
ADMIN_SECOND_FACTOR = _env_bool("FLOTILLA_ADMIN_SECOND_FACTOR", True)
#: The name authenticator apps show beside the code.
OTP_TOTP_ISSUER = os.environ.get("FLOTILLA_TOTP_ISSUER", "Flotilla")
#: A wrong code makes the next try wait 1, 2, 4, 8… seconds (django-otp's throttle).
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1

INVITATION_DAYS = int(os.environ.get("FLOTILLA_INVITATION_DAYS", "7"))
#: Sign-in throttle: this many failures within the window lock the account name (as typed)
#: for the lock time. A client address gets a higher limit, because a whole trust's network
#: often reaches us from one address.
SIGNIN_MAX_FAILURES = int(os.environ.get("FLOTILLA_SIGNIN_MAX_FAILURES", "5"))
SIGNIN_ADDRESS_MAX_FAILURES = int(os.environ.get("FLOTILLA_SIGNIN_ADDRESS_MAX_FAILURES", "50"))
SIGNIN_WINDOW_MINUTES = int(os.environ.get("FLOTILLA_SIGNIN_WINDOW_MINUTES", "15"))
SIGNIN_LOCK_MINUTES = int(os.environ.get("FLOTILLA_SIGNIN_LOCK_MINUTES", "15"))
#: Access requests and password resets (each sends an email to an address someone typed)
#: allowed from one client address per hour; then such forms are paused there for an hour.
MAIL_FORMS_PER_HOUR = int(os.environ.get("FLOTILLA_MAIL_FORMS_PER_HOUR", "10"))
#: How many proxies in front of the app append to X-Forwarded-For; 0 uses the connection's
#: own address. The client is the address that many entries from the end.
TRUSTED_PROXIES = int(os.environ.get("FLOTILLA_TRUSTED_PROXIES", "0"))
#: Requests a minute one client address, and one API token, may make (flotilla.middleware);
#: 0 turns a limit off. An organisation's staff may share one address behind its network.
RATE_LIMIT_PER_ADDRESS = int(os.environ.get("FLOTILLA_RATE_LIMIT_PER_ADDRESS", "1200"))
RATE_LIMIT_PER_TOKEN = int(os.environ.get("FLOTILLA_RATE_LIMIT_PER_TOKEN", "600"))

# Email: printed to the console unless an SMTP server is configured.
EMAIL_HOST = os.environ.get("FLOTILLA_EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("FLOTILLA_EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("FLOTILLA_EMAIL_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("FLOTILLA_EMAIL_PASSWORD", "")
    EMAIL_USE_TLS = _env_bool("FLOTILLA_EMAIL_USE_TLS", True)
    EMAIL_TIMEOUT = 10
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("FLOTILLA_FROM_EMAIL", "Flotilla <flotilla@localhost>")

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("FLOTILLA_TIME_ZONE", "Europe/London")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
#: Django's database sessions, with the read every signed-in request makes written out.
SESSION_ENGINE = "flotilla.accounts.sessions"
#: Served over HTTPS only (production): plain HTTP is redirected, browsers are told to use
#: HTTPS for a year (HSTS), and cookies are sent over HTTPS only.
HTTPS_ONLY = _env_bool("FLOTILLA_HTTPS", False)
SECURE_SSL_REDIRECT = HTTPS_ONLY
SECURE_HSTS_SECONDS = int(os.environ.get("FLOTILLA_HSTS_SECONDS", "31536000")) if HTTPS_ONLY else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS_ONLY
#: Asking browsers to preload HTTPS for the domain is the domain owner's decision (hard to
#: undo): off unless FLOTILLA_HSTS_PRELOAD is set, and `check --deploy` is told so.
SECURE_HSTS_PRELOAD = _env_bool("FLOTILLA_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
if _env_bool("FLOTILLA_BEHIND_TLS_PROXY", False):
    # The TLS proxy in front says the request came over HTTPS; set only behind one that
    # always sets (or strips) this header, or anyone could claim HTTPS.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = _env_bool("FLOTILLA_SECURE_COOKIES", False) or HTTPS_ONLY
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
#: Every response's Content-Security-Policy (flotilla.middleware): everything from the server
#: itself, no inline script or style, no eval, no plugins, no framing. `data:` images are the
#: NHS.UK frontend's small inline icons in its CSS.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
#: A form sent without a valid CSRF token gets the styled 403 page.
CSRF_FAILURE_VIEW = "flotilla.errors.csrf_failure"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
#: A worker silent for this long is taken for dead and its running jobs are put back in the
#: queue (it beats every sixth of it). Longer than any pause of a live worker's database
#: connection; clocks of the machines running workers must agree to well within it.
JOBS_WORKER_LOST_AFTER_SECONDS = float(os.environ.get("FLOTILLA_WORKER_LOST_AFTER", "60"))
#: Seconds an answer the sharing policy worked out for one viewer (the dashboard's table, the
#: picture API) may be given to the others who may see exactly the same (ADR 0038). 0: off.
SHARED_ANSWER_SECONDS = float(os.environ.get("FLOTILLA_SHARED_ANSWER_SECONDS", "5"))
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Process-local and bounded: shared answers never leave the process that worked them out.
    "shared-answers": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "shared-answers",
        "OPTIONS": {"MAX_ENTRIES": 1000},
    },
}
#: A job that recomputes from an organisation's newest figures (levels, forecasts, alert
#: rules) is due this many seconds after the report that queued it, so that the reports of
#: those seconds are worked out once (ADR 0037). 0: due at once.
JOBS_SETTLE_SECONDS = float(os.environ.get("FLOTILLA_JOBS_SETTLE", "10"))
#: The same for an organisation's forecasts, which look a day and more ahead from daily
#: figures: a minute late costs nobody anything, and each run is the dearest of the three
#: (ADR 0043). 0: due at once.
FORECASTS_SETTLE_SECONDS = float(os.environ.get("FLOTILLA_FORECASTS_SETTLE", "60"))
#: Finished background jobs (succeeded or failed) are deleted after this many days.
JOBS_KEEP_DAYS = int(os.environ.get("FLOTILLA_JOBS_KEEP_DAYS", "14"))

# Notifications (see docs/configuration.md and ADR 0016).
#: Flotilla's own address, for the links in emails and webhook bodies (which leave the site).
SITE_URL = os.environ.get("FLOTILLA_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
#: Minutes to wait before each retry of a failed email or webhook delivery; after the last,
#: the delivery is given up (a dead letter an organisation admin can replay).
NOTIFICATION_RETRY_MINUTES = [
    int(m)
    for m in os.environ.get("FLOTILLA_NOTIFICATION_RETRY_MINUTES", "1,5,30,120,480,1440").split(",")
    if m.strip()
]
#: How long a webhook receiver has to answer.
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("FLOTILLA_WEBHOOK_TIMEOUT_SECONDS", "5"))
#: Networks a webhook may be sent to although they are not public (private, loopback,
#: link-local). Empty in production, so that a webhook cannot reach inside our own network;
#: loopback when debugging, for a receiver on the developer's machine.
WEBHOOK_ALLOWED_NETWORKS = [
    n.strip()
    for n in os.environ.get(
        "FLOTILLA_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128" if DEBUG else ""
    ).split(",")
    if n.strip()
]

#: Figures older than this many multiples of the expected reporting interval are stale.
STALE_FACTOR = 2

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("FLOTILLA_LOG_LEVEL", "WARNING")},
}
