"""Production: PostgreSQL, Redis, S3-compatible storage, behind TLS. Refuses to start when misconfigured."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import EMAIL_CONFIG, SECRET_KEY, env

_WEAK_MARKERS = ("insecure", "change-me", "changeme", "secret", "example")

if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or any(m in SECRET_KEY.lower() for m in _WEAK_MARKERS):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set to a random value of at least 50 characters in production "
        "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(64))')."
    )

DEBUG = False
if env.bool("DJANGO_DEBUG", default=False):
    raise ImproperlyConfigured("DJANGO_DEBUG must not be enabled in production.")

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must list the host names this deployment answers to.")

if not env("DATABASE_URL", default=""):
    # base.py falls back to a superuser on loopback for development; that would bypass row-level security here.
    raise ImproperlyConfigured(
        "DATABASE_URL must be set in production, as the app role (DATABASE_APP_ROLE), never as a superuser."
    )

if not (env("AUDIT_SIGNING_KEY", default="") or env("AUDIT_SIGNING_KEY_FILE", default="")):
    raise ImproperlyConfigured(
        "AUDIT_SIGNING_KEY (or AUDIT_SIGNING_KEY_FILE) must hold the Ed25519 key that signs audit checkpoints "
        "(generate one with: python -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')."
    )

# The console backend writes every mail, invitation links included (secrets, valid for days), to the worker's log,
# which outlives them and reaches people who should not hold them. It is base's default, so it must be chosen here
# on purpose. Checked on the backend EMAIL_URL resolves to (production reads no DJANGO_EMAIL_BACKEND).
_CONSOLE_MAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
_console_mail_allowed = env.bool("ANNOTATE_ALLOW_CONSOLE_MAIL", default=False)
if EMAIL_CONFIG.get("EMAIL_BACKEND") == _CONSOLE_MAIL_BACKEND and not _console_mail_allowed:
    raise ImproperlyConfigured(
        "Production refuses to print mail to the log (EMAIL_URL=consolemail://, the default): invitation links are "
        "secrets, valid for days, and a log line reaches people who should not hold them. Set EMAIL_URL to your mail "
        "server (smtp+tls://user:password@smtp.example.org:587), or ANNOTATE_ALLOW_CONSOLE_MAIL=true to accept it."
    )

if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=False):
    # Only behind a proxy that strips and sets this header itself; otherwise a client could claim HTTPS.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
