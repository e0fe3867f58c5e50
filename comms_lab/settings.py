"""Settings for comms_lab, read from the environment with safe development defaults.

Every variable is listed in the README. With DEBUG=0 the deploy defaults switch on (HTTPS-only cookies, HSTS,
SSL redirect) and a real SECRET_KEY becomes mandatory.
"""

import ipaddress
import os
from pathlib import Path

import dj_database_url

from comms_lab.env import EnvError, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", True)
_DEV_SECRET = "django-insecure-dev-only-key-not-for-production-use-0123456789"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise EnvError("SECRET_KEY must be set when DEBUG=0 (50+ random characters)")
if not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure")):
    raise EnvError(
        f"SECRET_KEY is {len(SECRET_KEY)} characters with {len(set(SECRET_KEY))} distinct: with DEBUG=0 use 50+ "
        "random characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "comms_lab",
    "lab",
    "lessons",
    "quizzes",
]

MIDDLEWARE = [
    "comms_lab.metrics.RequestTimingMiddleware",  # outermost: times everything below it
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "comms_lab.middleware.CommonMiddleware",  # Django's, without the DEBUG-only 500 on POST to a slashless URL
    "django.middleware.csrf.CsrfViewMiddleware",
    "comms_lab.middleware.CsrfCookieMiddleware",  # inside Django's, which then sets the cookie it asks for
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Innermost, so it sees a view's exception first: a Redis outage becomes a 503 naming Redis, not a 500.
    "comms_lab.middleware.RedisUnavailableMiddleware",
]

ROOT_URLCONF = "comms_lab.urls"
ASGI_APPLICATION = "comms_lab.asgi.application"

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
            ],
        },
    },
]

# Redis: broker, channel layer, run state and event logs. `make run` starts an embedded server when unset.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
# Every key, queue and channel this app creates starts with this, so test runs and apps can share one server.
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "comms_lab")

# SQLite by default (WAL, so the web and worker processes can write side by side); DATABASE_URL for PostgreSQL.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0, minimum=0, maximum=3600),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Browser and worker tests run in other processes, so the test database must be a file, not :memory:.
    # One file per key prefix, so separate test sessions on one machine never share a test database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{REDIS_KEY_PREFIX}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "progress"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / ".staticfiles")))
# In development WhiteNoise serves straight from the source folders; with DEBUG=0 from collectstatic's output.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "comms_lab.storage.StaticStorage"
    },
}


CHANNEL_LAYER_PREFIX = f"{REDIS_KEY_PREFIX}:asgi"
CHANNEL_LAYERS = {
    "default": {
        # The pub/sub layer lost no messages under burst where the list-based layer dropped thousands
        # (DESIGN.md §2.2); socket_timeout=None keeps idle websockets open (redis-py 8 defaults to 5 s).
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
            "prefix": CHANNEL_LAYER_PREFIX,
            # JSON on the wire: the event log's append script publishes each batch to the run's group itself
            # (lab/events.py, live_channel).
            "serializer_format": "json",
        },
    }
}

CELERY_BROKER_URL = REDIS_URL
# One list per queue (no priority steps): half the Redis work per poll of the lab's shared queue.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "global_keyprefix": f"{REDIS_KEY_PREFIX}:",
    "visibility_timeout": 3600,
    "priority_steps": [0],
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = f"{REDIS_KEY_PREFIX}.default"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Housekeeping (comms_lab/retention.py), run by the `celery beat` process that `make run` starts.
RETENTION_CLEAN_UP_EVERY_S = env_int("RETENTION_CLEAN_UP_EVERY_S", 3600, minimum=60, maximum=7 * 24 * 3600)
CELERY_BEAT_SCHEDULE = {"clean-up": {"task": "comms_lab.clean_up", "schedule": RETENTION_CLEAN_UP_EVERY_S}}
# Finished lab runs each learner keeps (the newest); older ones go at the next clean-up.
LAB_MAX_STORED_RUNS_PER_LEARNER = env_int("LAB_MAX_STORED_RUNS_PER_LEARNER", 50, minimum=1, maximum=10_000)
# An anonymous learner with no activity for this long is deleted: longer than a session cookie lives (2 weeks).
ANONYMOUS_RETENTION_DAYS = env_int("ANONYMOUS_RETENTION_DAYS", 30, minimum=15, maximum=3650)

# Lab admission control and limits.
LAB_MAX_RUNS_PER_LEARNER = env_int("LAB_MAX_RUNS_PER_LEARNER", 2, minimum=1, maximum=20)
# Runs from one client address at once; a class of 30 behind one NAT address, two runs each, still fits.
LAB_MAX_RUNS_PER_ADDRESS = env_int("LAB_MAX_RUNS_PER_ADDRESS", 60, minimum=1, maximum=1000)
# Run sockets one browser session may hold open (lab/sockets.py); cookie-less share-link viewers count per address.
LAB_MAX_SOCKETS_PER_SESSION = env_int("LAB_MAX_SOCKETS_PER_SESSION", 10, minimum=1, maximum=1000)
LAB_MAX_SOCKETS_PER_ADDRESS = env_int("LAB_MAX_SOCKETS_PER_ADDRESS", 300, minimum=1, maximum=100_000)
LAB_MAX_CONCURRENT_RUNS = env_int("LAB_MAX_CONCURRENT_RUNS", 40, minimum=1, maximum=200)
# Engine operations per second the machine simulates faithfully (lab/model/cost.py); runs are admitted while
# their offered loads fit. Measured with bench/capacity.py (docs/benchmarks.md): on 2 cores, 30 checkout learners
# (28 each) and 12 cascade learners (60 each) keep their timings; scale it with the workers' cores.
LAB_CAPACITY = env_int("LAB_CAPACITY", 450 * (os.cpu_count() or 1), minimum=10, maximum=1_000_000)
LAB_MAX_DURATION_S = env_int("LAB_MAX_DURATION_S", 300, minimum=5, maximum=300)
LAB_MAX_RATE_RPS = env_int("LAB_MAX_RATE_RPS", 50, minimum=1, maximum=50)
LAB_EVENT_LOG_TTL_S = env_int("LAB_EVENT_LOG_TTL_S", 24 * 3600, minimum=60, maximum=30 * 24 * 3600)

# Who may read /metrics besides loopback: addresses or networks, e.g. "10.0.0.0/8" for a Prometheus in the cluster.
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", [])
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise EnvError(
            f"METRICS_ALLOWED_NETWORKS: {_network!r} is not an IP address or network (e.g. 10.0.0.0/8)"
        ) from None

# Client addresses (rate limits, per-address caps): X-Forwarded-For is believed only from these proxies
# (addresses or networks, e.g. "10.0.0.0/8,127.0.0.1"); empty means the socket's peer address is the client.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise EnvError(f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None

# Accounts: failed log-ins per user name and address, per address across names, and sign-ups per address.
LOGIN_FAILURES_PER_NAME = env_int("LOGIN_FAILURES_PER_NAME", 5, minimum=1, maximum=100)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 30, minimum=1, maximum=10000)
LOGIN_WINDOW_S = env_int("LOGIN_WINDOW_S", 300, minimum=10, maximum=86400)
SIGNUPS_PER_ADDRESS = env_int("SIGNUPS_PER_ADDRESS", 40, minimum=1, maximum=10000)
SIGNUP_WINDOW_S = env_int("SIGNUP_WINDOW_S", 3600, minimum=10, maximum=86400)
# "Retry my wrong answers" opens this long after the attempt finished (docs/quizzes.md).
QUIZ_RETRY_DELAY_MINUTES = env_int("QUIZ_RETRY_DELAY_MINUTES", 15, minimum=0, maximum=7 * 24 * 60)
PASSWORD_RESETS_PER_ADDRESS = env_int("PASSWORD_RESETS_PER_ADDRESS", 10, minimum=1, maximum=10000)

# E-mail (password reset), as a Django 6.1 mailer. In development the console backend prints messages to the web
# process's output; with DEBUG=0 the default is SMTP through EMAIL_HOST (Django's deploy check refuses console).
_EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
_SMTP_OPTIONS = {
    "host": env_str("EMAIL_HOST", "localhost"),
    "port": env_int("EMAIL_PORT", 25, minimum=1, maximum=65535),
    "username": env_str("EMAIL_HOST_USER", ""),
    "password": env_str("EMAIL_HOST_PASSWORD", ""),
    "use_tls": env_bool("EMAIL_USE_TLS", False),
    "use_ssl": env_bool("EMAIL_USE_SSL", False),
    "timeout": env_int("EMAIL_TIMEOUT", 10, minimum=1, maximum=120),
}
MAILERS = {
    "default": {
        "BACKEND": _EMAIL_BACKEND,
        "OPTIONS": _SMTP_OPTIONS if _EMAIL_BACKEND.endswith("smtp.EmailBackend") else {},
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "comms_lab <noreply@localhost>")
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600, minimum=300, maximum=7 * 86400)

# Sessions live in the database and are read through Redis (comms_lab/sessions.py says why not signed cookies).
SESSION_ENGINE = "comms_lab.sessions"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0, maximum=63072000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env_bool("BEHIND_HTTPS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}
CSRF_FAILURE_VIEW = "comms_lab.views.csrf_failure"

# Content-Security-Policy, with Django's own middleware: report-only for now (the lab page is being rebuilt);
# lessons, the glossary, quizzes, home and progress already run without a violation (tests/e2e/test_a11y.py).
# No 'unsafe-inline': scripts and styles come from static files, page data from json_script blocks.
from django.utils.csp import CSP  # noqa: E402

MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
)
# Enforced on every page: no inline script or style anywhere (browser tests listen for violations).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
