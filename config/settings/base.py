"""Settings shared by every environment; each value an operator may change is read from the environment here.

Every variable read below is documented in docs/configuration.md.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    env.read_env(str(BASE_DIR / ".env"))

# Where the embedded default keeps its database, broker folders, media and generated keys.
DATA_DIR = Path(env("ANNOTATE_DATA_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
PUBLIC_URL = env("ANNOTATE_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "core",
    "tenancy",
    "audit",
    "projects",
    "llm",
    "annotation",
    "workers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns an attempt that axes locked out into tenancy.throttling's 429 (axes asks to come after the others;
    # RequestContextMiddleware stays last, for its own reason).
    "axes.middleware.AxesMiddleware",
    "core.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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

DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/annotate"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The role the web and worker processes run as; migrations grant it row access and nothing more.
DATABASE_APP_ROLE = env("DATABASE_APP_ROLE", default="annotate_app")
# The role that owns the database and applies migrations (config/database/roles.sql creates both).
DATABASE_OWNER_ROLE = env("OWNER_DB_USER", default="annotate_owner")
# True only in the embedded default, whose own PostgreSQL platform_run starts (config.settings.local).
EMBEDDED_DATABASE = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "annotate",
    }
}

AUTH_USER_MODEL = "tenancy.User"
# axes' backend first: it refuses a locked-out account or address before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- failed sign-ins and invitation secrets: django-axes (tenancy/throttling.py says what counts, and why) ---
# Failures are kept in the database every process shares (a cache would need Redis, which the embedded default
# lacks); the tables are not tenant data, and migrate grants the app role on them as on every table.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# Failures within the cool-off that lock an account or a client address out, for the cool-off.
AXES_FAILURE_LIMIT = env.int("AUTH_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AUTH_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = "tenancy.throttling.lockout_parameters"
AXES_USERNAME_FORM_FIELD = "username"  # the sign-in form's field, and the key Django's failure signal carries
AXES_USERNAME_CALLABLE = "tenancy.throttling.attempt_username"
AXES_CLIENT_IP_CALLABLE = "core.middleware.client_ip"
AXES_LOCKOUT_CALLABLE = "tenancy.throttling.lockout_response"
# A locked client's further attempts are refused without being counted, so hammering does not prolong the lock.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A good sign-in clears nothing: it would let an attacker with an account of their own reset their address's count.
AXES_RESET_ON_SUCCESS = False
# Successful sign-ins are on the audit trail (auth.login); axes' own copy would only grow.
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ADMIN = False
# Masked wherever axes stores or logs a request's fields (its attempt rows keep the form's other fields).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "password", "key", "token", "csrfmiddlewaretoken"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default=str(DATA_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env("DJANGO_MEDIA_ROOT", default=str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- the platform's object store: uploaded datasets, media, exports (S3 when a bucket is named, else local disk) ---
OBJECT_STORAGE_ROOT = Path(env("OBJECT_STORAGE_ROOT", default=str(DATA_DIR / "objects")))
OBJECT_STORAGE_BUCKET = env("OBJECT_STORAGE_BUCKET", default="")
OBJECT_STORAGE_ENDPOINT_URL = env("OBJECT_STORAGE_ENDPOINT_URL", default="")
OBJECT_STORAGE_REGION = env("OBJECT_STORAGE_REGION", default="")
OBJECT_STORAGE_ACCESS_KEY_ID = env("OBJECT_STORAGE_ACCESS_KEY_ID", default="")
OBJECT_STORAGE_SECRET_ACCESS_KEY = env("OBJECT_STORAGE_SECRET_ACCESS_KEY", default="")

# --- security headers and cookies (production tightens the transport-level ones) ---
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=60 * 60 * 12)
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'; form-action 'self'"
)

# --- email (invitations) ---
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="annotate@localhost")

# --- API ---
# How many reverse proxies in front of the web service append to X-Forwarded-For (0: none, use REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=0)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenancy.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.IdCursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # drf-spectacular's, plus the error answers each view can give (tenancy/api/schema.py).
    "DEFAULT_SCHEMA_CLASS": "tenancy.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "invitation_accept": env("API_THROTTLE_INVITATION_ACCEPT", default="20/hour"),
        # Refused bearer tokens per client address (tenancy.throttling.TokenFailureThrottle).
        "token_failure": env("API_THROTTLE_TOKEN_FAILURES", default="30/minute"),
    },
    # Throttles and the audit trail take the client address the same way: REMOTE_ADDR, or the address the
    # trusted proxies appended to X-Forwarded-For; never a client-supplied entry, which anyone can rotate.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "STRICT_JSON": True,
    "UNICODE_JSON": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Annotate API",
    "DESCRIPTION": "Tenant-isolated expert data annotation. Authenticate with `Authorization: Bearer <token>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs page need a session or a token like every other route (docs/security.md, "What is
    # public"): the map of every route and limit helps nobody who cannot call them.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Several models have a `state` or `format` field with different choices: each set gets its own name.
    "ENUM_NAME_OVERRIDES": {
        "AssignmentStateEnum": "annotation.models.AssignmentState",
        "JobStateEnum": "projects.models.JobState",
        "ExportFormatEnum": "projects.models.ExportFormat",
        "ImportFormatEnum": "projects.imports.parsers.FORMATS",
        "SuggestionJobStateEnum": "annotation.models.SuggestionJobState",
        "JudgeRunStateEnum": "llm.models.JudgeRunState",
    },
}
# Largest request body the API reads; bigger bodies get 413 before anything is parsed.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=64 * 1024 * 1024)
# Deepest JSON nesting accepted in a request body.
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=64)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

PROJECTS_BULK_MAX_TASKS = env.int("PROJECTS_BULK_MAX_TASKS", default=10_000)
PROJECTS_LABEL_SCHEMA_MAX_BYTES = env.int("PROJECTS_LABEL_SCHEMA_MAX_BYTES", default=256 * 1024)
PROJECTS_TASK_DATA_MAX_BYTES = env.int("PROJECTS_TASK_DATA_MAX_BYTES", default=1024 * 1024)
PROJECTS_MEDIA_MAX_BYTES = env.int("PROJECTS_MEDIA_MAX_BYTES", default=100 * 1024 * 1024)
# Signed URLs of media and export files; capped at 300 seconds whatever is set.
PROJECTS_SIGNED_URL_SECONDS = env.int("PROJECTS_SIGNED_URL_SECONDS", default=300)
# Import jobs: largest file (as sent, and again decompressed), most rows, largest single value in a row.
IMPORT_MAX_FILE_BYTES = env.int("IMPORT_MAX_FILE_BYTES", default=1024 * 1024 * 1024)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=1_000_000)
IMPORT_MAX_FIELD_BYTES = env.int("IMPORT_MAX_FIELD_BYTES", default=1024 * 1024)
TENANCY_INVITATION_TTL_HOURS = env.int("TENANCY_INVITATION_TTL_HOURS", default=72)
TENANCY_TOKEN_TOUCH_SECONDS = env.int("TENANCY_TOKEN_TOUCH_SECONDS", default=60)

# --- Celery ---
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A message taken by a worker that dies (kill -9) returns to the queue after this many seconds, so this bounds how
# long a dead worker's messages (delayed ones included) wait. It is shorter than the longest tasks, so a message
# can come back while its first worker still runs it: imports and exports then find their job leased by that live
# worker and leave it (workers/leases.py), a tenant task finds its own run still going and skips (workers/base.py),
# and no countdown is ever longer than half of it (workers/config.py). Live workers sweep for such messages every
# tenth of it (at most every 10 s, at least every second).
CELERY_VISIBILITY_TIMEOUT_SECONDS = env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=300)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT_SECONDS,
    "unacked_restore_interval": max(1, min(10, CELERY_VISIBILITY_TIMEOUT_SECONDS // 10)),
    "unacked_restore_throttle": 1,
}
# How long an import or export job stays leased to its worker without a heartbeat (renewed every third of it by
# the running worker): a job whose worker died is taken over by the next message about it once this has passed.
WORKER_JOB_LEASE_SECONDS = env.int("WORKER_JOB_LEASE_SECONDS", default=60)
CELERY_TASK_IGNORE_RESULT = True
# Workers log through LOGGING below (one structured line per record, `extra` included) like the web processes,
# instead of Celery's own plain format on the root logger.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "invitations-expire": {"task": "tenancy.invitations_expire", "schedule": 15 * 60.0},
    # Leases lapse between runs only by up to this long; claims also expire a member's own lapsed leases inline.
    "routing-reap": {"task": "routing.reap_all", "schedule": 30.0},
    "routing-dispatch": {"task": "routing.dispatch_all", "schedule": 60.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# --- audit trail ---
# The Ed25519 key that signs checkpoints: PEM, or base64 of the 32-byte seed. Or a file holding either.
AUDIT_SIGNING_KEY = env("AUDIT_SIGNING_KEY", default="")
AUDIT_SIGNING_KEY_FILE = env("AUDIT_SIGNING_KEY_FILE", default="")
# Public keys (PEM) of keys rotated out, still trusted for the checkpoints they signed.
AUDIT_RETIRED_PUBLIC_KEYS = env.list("AUDIT_RETIRED_PUBLIC_KEYS", default=[])
# The master key of the per-organization keys that MAC every event as it is written (base64 of 32+ bytes);
# empty derives them from the signing key. Like the signing key, it must never be in the database.
AUDIT_EVENT_MAC_KEY = env("AUDIT_EVENT_MAC_KEY", default="")
AUDIT_SEAL_INTERVAL_SECONDS = env.int("AUDIT_SEAL_INTERVAL_SECONDS", default=60)
CELERY_BEAT_SCHEDULE["audit-seal"] = {"task": "audit.seal_all", "schedule": float(AUDIT_SEAL_INTERVAL_SECONDS)}
# A copy of each new checkpoint in an S3 bucket (off when no bucket is named), optionally under Object Lock.
AUDIT_CHECKPOINT_BUCKET = env("AUDIT_CHECKPOINT_BUCKET", default="")
AUDIT_CHECKPOINT_PREFIX = env("AUDIT_CHECKPOINT_PREFIX", default="audit-checkpoints")
AUDIT_CHECKPOINT_S3_ENDPOINT_URL = env("AUDIT_CHECKPOINT_S3_ENDPOINT_URL", default="")
AUDIT_CHECKPOINT_S3_REGION = env("AUDIT_CHECKPOINT_S3_REGION", default="")
AUDIT_CHECKPOINT_S3_ACCESS_KEY_ID = env("AUDIT_CHECKPOINT_S3_ACCESS_KEY_ID", default="")
AUDIT_CHECKPOINT_S3_SECRET_ACCESS_KEY = env("AUDIT_CHECKPOINT_S3_SECRET_ACCESS_KEY", default="")
AUDIT_CHECKPOINT_OBJECT_LOCK_DAYS = env.int("AUDIT_CHECKPOINT_OBJECT_LOCK_DAYS", default=0)

# --- outbound connections (SIEM streaming, webhooks), all through tenancy/outbound.py ---
# Non-public networks (CIDR) the platform may still reach, e.g. an internal SIEM; empty refuses all of them.
OUTBOUND_ALLOWED_NETWORKS = env.list("OUTBOUND_ALLOWED_NETWORKS", default=[])
OUTBOUND_TIMEOUT_SECONDS = env.float("OUTBOUND_TIMEOUT_SECONDS", default=10.0)
OUTBOUND_MAX_RESPONSE_BYTES = env.int("OUTBOUND_MAX_RESPONSE_BYTES", default=1024 * 1024)

# --- models in the loop (llm/config.py) ---
# A project's limit of model calls at once, and its token allowance, until an admin sets its own budget.
MODEL_DEFAULT_MAX_CONCURRENT = env.int("MODEL_DEFAULT_MAX_CONCURRENT", default=8)
MODEL_DEFAULT_TOKEN_LIMIT = env.int("MODEL_DEFAULT_TOKEN_LIMIT", default=None)

# --- audit streaming to a SIEM, and retention ---
# Operator-wide destination for organizations without their own: https://..., http://... or syslog+tcp://host:port.
AUDIT_STREAM_URL = env("AUDIT_STREAM_URL", default="")
AUDIT_STREAM_TOKEN = env("AUDIT_STREAM_TOKEN", default="")
AUDIT_STREAM_BATCH_SIZE = env.int("AUDIT_STREAM_BATCH_SIZE", default=500)
AUDIT_STREAM_INTERVAL_SECONDS = env.int("AUDIT_STREAM_INTERVAL_SECONDS", default=30)
CELERY_BEAT_SCHEDULE["audit-stream"] = {"task": "audit.stream_all", "schedule": float(AUDIT_STREAM_INTERVAL_SECONDS)}
# Days each audit category is kept ("data_access=365,default=2555"); 0 or unset keeps it forever.
AUDIT_RETENTION_DAYS = env.dict("AUDIT_RETENTION_DAYS", default={})

LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": {"()": "config.logging.StructuredFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
