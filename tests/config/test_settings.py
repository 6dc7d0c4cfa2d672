"""Settings modules: production refuses unsafe configuration, local runs with nothing installed, headers are strict.

Production and local settings are loaded in a subprocess with a controlled environment, because a settings module
is imported once per process and the suite itself runs on config.settings.test.
"""

import json
import secrets
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config.database import embedded_socket_dir

ROOT = Path(__file__).resolve().parent.parent.parent
GOOD_SECRET_KEY = secrets.token_urlsafe(64)

# Loads the settings, then prints the values under test as JSON on the last line of stdout.
PROBE = """
import json, django
django.setup()
from django.conf import settings as s
from django.test import Client
names = json.loads(__import__("sys").argv[1])
values = {name: getattr(s, name, None) for name in names}
values["DATABASE_ENGINE"] = s.DATABASES["default"]["ENGINE"]
values["DATABASE_NAME"] = str(s.DATABASES["default"]["NAME"])
values["DATABASE_USER"] = str(s.DATABASES["default"]["USER"])
values["DATABASE_HOST"] = str(s.DATABASES["default"]["HOST"])
if "--requests" in __import__("sys").argv:
    host = s.ALLOWED_HOSTS[0]
    plain = Client().get("/healthz", HTTP_HOST=host)
    secure = Client().get("/healthz", HTTP_HOST=host, secure=True)
    login = Client().get("/api/v1/schema/", HTTP_HOST=host)
    values["requests"] = {
        "plain_healthz": plain.status_code,
        "secure_healthz_hsts": secure.headers.get("Strict-Transport-Security"),
        "plain_other": [login.status_code, login.headers.get("Location")],
    }
print(json.dumps(values, default=str))
"""


def _load(module: str, environment: dict[str, str], names: list[str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(names), *extra],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": f"config.settings.{module}", **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _values(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    values: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return values


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    return {
        "DJANGO_SECRET_KEY": GOOD_SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "annotate.example.org",
        "DATABASE_URL": "postgres://annotate_app:unused@127.0.0.1:5432/annotate",
        "ANNOTATE_DATA_DIR": str(tmp_path / "data"),
        "AUDIT_SIGNING_KEY": "cHJvZHVjdGlvbi10ZXN0LXNpZ25pbmctc2VlZC0zMmI=",
        "EMAIL_URL": "smtp+tls://annotate:unused@smtp.example.org:587",
    }


def _refusal(production_env: dict[str, str], **changes: str | None) -> str:
    merged: dict[str, str | None] = {**production_env, **changes}
    environment = {key: value for key, value in merged.items() if value is not None}
    result = _load("production", environment, [])
    assert result.returncode != 0, "production settings started with an unsafe configuration"
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr
    return result.stderr.strip().splitlines()[-1]


# --- production refuses to start ---


@pytest.mark.parametrize(
    "secret_key",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param(secrets.token_urlsafe(30), id="short"),
        pytest.param("django-insecure-" + "x" * 60, id="django-default-prefix"),
        pytest.param("change-me-" + secrets.token_hex(30), id="placeholder-word"),
        pytest.param("a" * 80, id="low-variety"),
    ],
)
def test_production_refuses_a_missing_short_or_default_secret_key(production_env, secret_key):
    message = _refusal(production_env, DJANGO_SECRET_KEY=secret_key)

    assert "DJANGO_SECRET_KEY must be set to a random value of at least 50 characters in production" in message


@pytest.mark.parametrize("debug", ["true", "1", "on"])
def test_production_refuses_debug(production_env, debug):
    message = _refusal(production_env, DJANGO_DEBUG=debug)

    assert message.endswith("DJANGO_DEBUG must not be enabled in production.")


@pytest.mark.parametrize("hosts", [None, ""])
def test_production_refuses_empty_allowed_hosts(production_env, hosts):
    message = _refusal(production_env, DJANGO_ALLOWED_HOSTS=hosts)

    assert message.endswith("DJANGO_ALLOWED_HOSTS must list the host names this deployment answers to.")


def test_production_refuses_to_fall_back_to_the_default_database(production_env):
    message = _refusal(production_env, DATABASE_URL=None)

    assert "DATABASE_URL must be set in production" in message


CONSOLE_MAIL_REFUSED = (
    "Production refuses to print mail to the log (EMAIL_URL=consolemail://, the default): invitation links are "
    "secrets, valid for days, and a log line reaches people who should not hold them. Set EMAIL_URL to your mail "
    "server (smtp+tls://user:password@smtp.example.org:587), or ANNOTATE_ALLOW_CONSOLE_MAIL=true to accept it."
)


@pytest.mark.parametrize("email_url", [pytest.param(None, id="unset"), "consolemail://"])
def test_production_refuses_to_print_mail_to_the_log(production_env, email_url):
    message = _refusal(production_env, EMAIL_URL=email_url)

    assert message.endswith(CONSOLE_MAIL_REFUSED)


def test_production_prints_mail_to_the_log_only_when_told_explicitly(production_env):
    told = {**production_env, "EMAIL_URL": "consolemail://", "ANNOTATE_ALLOW_CONSOLE_MAIL": "true"}

    values = _values(_load("production", told, ["EMAIL_BACKEND"]))
    refused = _refusal(production_env, EMAIL_URL="consolemail://", ANNOTATE_ALLOW_CONSOLE_MAIL="false")

    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert refused.endswith(CONSOLE_MAIL_REFUSED)


def test_production_sends_mail_through_the_configured_server(production_env):
    values = _values(_load("production", production_env, ["EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_USE_TLS"]))

    assert (values["EMAIL_BACKEND"], values["EMAIL_HOST"], values["EMAIL_USE_TLS"]) == (
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.org",
        True,
    )


# --- production starts, locked down ---


def test_production_starts_with_good_values_and_is_locked_down(production_env):
    names = [
        "DEBUG",
        "ALLOWED_HOSTS",
        "SECRET_KEY",
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "CSRF_COOKIE_SECURE",
        "CSRF_COOKIE_HTTPONLY",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_CONTENT_TYPE_NOSNIFF",
        "SECURE_PROXY_SSL_HEADER",
        "X_FRAME_OPTIONS",
        "CELERY_TASK_ACKS_LATE",
        "CELERY_TASK_ALWAYS_EAGER",
    ]

    values = _values(_load("production", production_env, names))

    assert values == {
        "DEBUG": False,
        "ALLOWED_HOSTS": ["annotate.example.org"],
        "SECRET_KEY": GOOD_SECRET_KEY,
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SECURE": True,
        "CSRF_COOKIE_HTTPONLY": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_PROXY_SSL_HEADER": None,
        "X_FRAME_OPTIONS": "DENY",
        "CELERY_TASK_ACKS_LATE": True,
        "CELERY_TASK_ALWAYS_EAGER": False,
        "DATABASE_ENGINE": "django.db.backends.postgresql",
        "DATABASE_NAME": "annotate",
        "DATABASE_USER": "annotate_app",
        "DATABASE_HOST": "127.0.0.1",
    }


def test_production_trusts_the_proxy_header_only_when_told(production_env):
    values = _values(
        _load("production", {**production_env, "DJANGO_SECURE_PROXY_SSL_HEADER": "true"}, ["SECURE_PROXY_SSL_HEADER"])
    )

    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_production_redirects_to_https_sends_hsts_and_exempts_healthz(production_env):
    values = _values(_load("production", production_env, [], "--requests"))

    assert values["requests"] == {
        # The compose health check probes over plain HTTP inside the container.
        "plain_healthz": 200,
        "secure_healthz_hsts": "max-age=31536000; includeSubDomains",
        "plain_other": [301, "https://annotate.example.org/api/v1/schema/"],
    }


# --- the embedded default ---


def test_local_settings_use_the_embedded_postgres_as_the_app_role_and_the_filesystem_broker(tmp_path):
    data_dir = tmp_path / "data"
    names = [
        *("DEBUG", "DATA_DIR", "CELERY_BROKER_URL", "CELERY_BROKER_TRANSPORT_OPTIONS", "CACHES", "SECRET_KEY"),
        "EMBEDDED_DATABASE",
    ]

    values = _values(_load("local", {"ANNOTATE_DATA_DIR": str(data_dir)}, names))

    assert values["DEBUG"] is False
    assert values["DATA_DIR"] == str(data_dir)
    assert values["EMBEDDED_DATABASE"] is True
    assert values["DATABASE_ENGINE"] == "django.db.backends.postgresql"
    assert values["DATABASE_NAME"] == "annotate"
    # The same non-owner role production's web and worker log in as, over the embedded server's private socket.
    assert values["DATABASE_USER"] == "annotate_app"
    # (under the data directory unless that path is too long for a socket: tests/config/test_database.py)
    assert values["DATABASE_HOST"] == str(embedded_socket_dir(data_dir))
    assert values["CELERY_BROKER_URL"] == "filesystem://localhost/"
    options = values["CELERY_BROKER_TRANSPORT_OPTIONS"]
    assert options["data_folder_in"] == str(data_dir / "broker" / "queue")
    assert options["data_folder_out"] == str(data_dir / "broker" / "queue")
    assert options["processed_folder"] == str(data_dir / "broker" / "processed")
    assert (data_dir / "broker" / "queue").is_dir()
    assert (data_dir / "broker" / "processed").is_dir()
    assert values["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.filebased.FileBasedCache"
    # The generated key is kept beside the database, readable by its owner only, and reused on the next start.
    key_file = data_dir / "secret_key"
    assert values["SECRET_KEY"] == key_file.read_text().strip()
    assert len(values["SECRET_KEY"]) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = _values(_load("local", {"ANNOTATE_DATA_DIR": str(data_dir)}, ["SECRET_KEY"]))
    assert again["SECRET_KEY"] == values["SECRET_KEY"]


def test_local_settings_use_a_database_url_as_given(tmp_path):
    url = {"ANNOTATE_DATA_DIR": str(tmp_path), "DATABASE_URL": "postgres://someone@db.example:5433/labels"}

    values = _values(_load("local", url, ["EMBEDDED_DATABASE"]))

    assert values["EMBEDDED_DATABASE"] is False
    assert (values["DATABASE_NAME"], values["DATABASE_USER"], values["DATABASE_HOST"]) == (
        "labels",
        "someone",
        "db.example",
    )


# --- response headers (the suite's own settings, in process) ---


def test_healthz_answers_with_a_strict_content_security_policy(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in (part.strip() for part in response.headers["Content-Security-Policy"].split(";"))
        if directive
    }
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    for sources in policy.values():
        assert "'unsafe-inline'" not in sources
        assert "'unsafe-eval'" not in sources
        assert "*" not in sources
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
