"""The test suite: real PostgreSQL and Redis on loopback (DATABASE_URL, REDIS_URL)."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = "test-only-key-that-is-never-used-outside-the-suite-0123456789abcdef"  # noqa: S105
DEBUG = False
# A fixed test-only signing seed, so checkpoints signed by one test process verify in another.
AUDIT_SIGNING_KEY = "dGVzdC1vbmx5LWF1ZGl0LXNpZ25pbmctc2VlZC0zMmI="
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
# Fast hashing: the suite creates many users; production keeps Django's default.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
# A separate Redis database keeps the suite's keys away from a developer's running platform, and each parallel
# test process (pytest-xdist's gw0, gw1, ...) has its own, so that no worker takes another's Celery messages.
_XDIST_INDEX = int(env("PYTEST_XDIST_WORKER", default="gw0").removeprefix("gw") or 0)
_TEST_REDIS_URL = env("TEST_REDIS_URL", default=REDIS_URL.rsplit("/", 1)[0] + f"/{14 - _XDIST_INDEX}")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _TEST_REDIS_URL,
        "KEY_PREFIX": "annotate-test",
    }
}
CELERY_BROKER_URL = _TEST_REDIS_URL
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
# Worker subprocesses started by the suite write mail to files the test can read; the suite itself uses locmem.
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
EMAIL_FILE_PATH = env("DJANGO_EMAIL_FILE_PATH", default=None)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
LOGGING["root"]["level"] = env("LOG_LEVEL", default="WARNING")  # noqa: F405
STATIC_ROOT = None  # served from the app folders through finders; nothing is collected
