"""The embedded default: PostgreSQL from a wheel under the data directory, Celery on kombu's filesystem transport,
files on local disk.

Nothing needs to be installed or running beforehand; `manage.py platform_run` starts the database, then web, worker
and beat. The database has the same roles, grants and row-level security as production (config/database/roles.sql):
migrations run as the owner role, everything else as the app role.
"""

import secrets

from config.database import SOCKET_PORT, embedded_socket_dir

from .base import *  # noqa: F403
from .base import DATA_DIR, DATABASE_APP_ROLE, DATABASES, env

DATA_DIR.mkdir(parents=True, exist_ok=True)


def _persisted_secret_key() -> str:
    """Generate the key once and keep it beside the database, so sessions survive restarts."""
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env("DJANGO_SECRET_KEY", default="") or _persisted_secret_key()
# Generated on first start beside the database, never inside it (see audit.signing).
AUDIT_SIGNING_KEY_FILE = env("AUDIT_SIGNING_KEY_FILE", default=str(DATA_DIR / "audit_signing_key"))

# With DATABASE_URL set, the platform uses that server as it is (and migrates as the role it names); without it,
# platform_run starts the embedded server and logs in over its private socket.
EMBEDDED_DATABASE = not env("DATABASE_URL", default="")
if EMBEDDED_DATABASE:
    DATABASES["default"].update(
        NAME="annotate",
        USER=DATABASE_APP_ROLE,
        PASSWORD="",
        HOST=str(embedded_socket_dir(DATA_DIR)),
        PORT=str(SOCKET_PORT),
    )
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(DATA_DIR / "cache"),
    }
}

_broker_dir = DATA_DIR / "broker"
for _sub in ("queue", "processed", "control"):
    (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
# A host is named only so that kombu does not warn, at every connection, that it assumed one.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://localhost/")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "data_folder_in": str(_broker_dir / "queue"),
    "data_folder_out": str(_broker_dir / "queue"),
    "processed_folder": str(_broker_dir / "processed"),
    "control_folder": str(_broker_dir / "control"),
    "store_processed": False,
}

EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = str(DATA_DIR / "mail")

# Static files are served from the app folders directly, so a fresh checkout needs no collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG  # noqa: F405
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT = None  # served from the app folders through finders; nothing is collected
