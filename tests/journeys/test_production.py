"""A lab's first day on a production install, as docs/deployment.md describes it but without Docker: a fresh
database made by the deployment's own roles script (owner and app roles with passwords) on the machine's
PostgreSQL, `migrate` as the owner with the production settings, the first organization and a token from the
operator commands, then gunicorn and a Celery worker as the app role on the machine's Redis, and the journey of
tests/journeys/support.py against them with this tree's `annotate` client.
"""

import base64
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
import pytest
import redis
from django.conf import settings
from psycopg import sql
from psycopg.conninfo import make_conninfo

from config.database import DatabaseRoles, database_drop, database_provision
from tests.journeys.support import (
    REPO_ROOT,
    Api,
    Cli,
    Service,
    Timings,
    assert_no_errors_logged,
    free_port,
    is_running,
    kill_pids,
    process_tree,
    run_command,
    shell_environment,
    stop_services,
    wait_for,
    wait_healthy,
    walk_journey,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc"),
]

PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
# Redis database of this journey alone: the suite uses 14 (TEST_REDIS_URL), a local platform 0. It is emptied
# before and after the journey, so that no message of an earlier, interrupted run reaches this run's worker.
REDIS_DB = 12
MIGRATE_TIMEOUT = 300.0
COMMAND_TIMEOUT = 120.0
START_TIMEOUT = 90.0


def _admin_dsn() -> str:
    """The suite's own login (DATABASE_URL: a superuser on loopback), on the maintenance database."""
    database = settings.DATABASES["default"]
    return make_conninfo(
        host=database["HOST"] or None,
        port=str(database["PORT"] or "") or None,
        user=database["USER"] or None,
        password=database["PASSWORD"] or None,
        dbname="postgres",
    )


def _database_url(roles: DatabaseRoles, role: str, password: str) -> str:
    database = settings.DATABASES["default"]
    host = database["HOST"] or "127.0.0.1"
    return f"postgres://{role}:{quote(password, safe='')}@{host}:{database['PORT'] or 5432}/{roles.name}"


def _redis_url() -> str:
    parts = urlsplit(settings.REDIS_URL)
    return parts._replace(path=f"/{REDIS_DB}").geturl()


@pytest.fixture
def roles() -> Iterator[DatabaseRoles]:
    """A database and two roles of this run's own (roles are cluster-wide: the suite's annotate_owner and
    annotate_app keep their passwords untouched), dropped at the end."""
    suffix = secrets.token_hex(4)
    made = DatabaseRoles(
        name=f"journey_{suffix}",
        owner=f"journey_{suffix}_owner",
        app=f"journey_{suffix}_app",
        owner_password=secrets.token_hex(32),  # hex, as docs/deployment.md advises: safe inside URLs
        app_password=secrets.token_hex(32),
    )
    yield made
    admin = _admin_dsn()
    database_drop(admin, made.name)
    with psycopg.connect(admin, autocommit=True) as connection:
        for role in (made.app, made.owner):
            connection.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture
def broker() -> Iterator[str]:
    url = _redis_url()
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {url} does not answer ({exc}); the production journey needs it as its broker")
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def test_production_services_serve_the_whole_journey(tmp_path: Path, roles: DatabaseRoles, broker: str) -> None:
    timings = Timings("production")
    assert roles.owner_password
    assert roles.app_password
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    # Every variable docs/configuration.md marks required in production, and plain HTTP on loopback.
    env = shell_environment(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=secrets.token_hex(32),  # 64 characters, none of the placeholder words production refuses
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        ANNOTATE_PUBLIC_URL=url.rstrip("/"),
        AUDIT_SIGNING_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        DJANGO_SECURE_SSL_REDIRECT="false",
        # A mail server as production requires one (it refuses to print invitation links to a log); the journey
        # invites nobody, so nothing ever connects to it.
        EMAIL_URL="smtp://127.0.0.1:25",
        DATABASE_URL=_database_url(roles, roles.app, roles.app_password),
        DATABASE_APP_ROLE=roles.app,
        OWNER_DB_USER=roles.owner,
        REDIS_URL=broker,
        OBJECT_STORAGE_ROOT=str(tmp_path / "objects"),
        ANNOTATE_DATA_DIR=str(tmp_path / "data"),
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    owner_env = {**env, "DATABASE_URL": _database_url(roles, roles.owner, roles.owner_password)}
    logs_dir = tmp_path / "logs"
    logs_dir.mkdir()
    services: list[Service] = []
    complete = False
    try:
        # Given a database made by the roles script, migrated by the owner role
        with timings.step("provision_database"):
            database_provision(_admin_dsn(), roles)
        with timings.step("migrate_as_owner"):
            run_command(
                [str(PYTHON), "manage.py", "migrate", "--noinput"],
                cwd=REPO_ROOT, env=owner_env, log=logs_dir / "migrate.log", timeout=MIGRATE_TIMEOUT,
            )  # fmt: skip

        # and the first organization, its owner and a token, made by the operator commands as the app role
        password = secrets.token_urlsafe(18)
        with timings.step("organization_create"):
            created = run_command(
                [str(PYTHON), "manage.py", "organization_create", "--name", "Acme Research", "--slug", "acme",
                 "--owner-email", "owner@acme.example", "--owner-password-stdin"],
                cwd=REPO_ROOT, env=env, log=logs_dir / "organization_create.log", timeout=COMMAND_TIMEOUT,
                stdin=password + "\n",
            )  # fmt: skip
        assert created.splitlines() == ["Created organization 'acme'.", "Created account owner@acme.example as owner."]
        with timings.step("token_create"):
            printed = run_command(
                [str(PYTHON), "manage.py", "token_create", "--organization", "acme", "--email", "owner@acme.example",
                 "--name", "journey"],
                cwd=REPO_ROOT, env=env, log=logs_dir / "token_create.log", timeout=COMMAND_TIMEOUT,
            )  # fmt: skip
        token = printed.strip()
        assert re.fullmatch(r"ann_\S+", token), printed

        # and the static files gathered, as the image's build does (WhiteNoise serves them from STATIC_ROOT)
        with timings.step("collectstatic"):
            run_command(
                [str(PYTHON), "manage.py", "collectstatic", "--noinput"],
                cwd=REPO_ROOT, env=env, log=logs_dir / "collectstatic.log", timeout=COMMAND_TIMEOUT,
            )  # fmt: skip

        # and gunicorn and a Celery worker as the app role
        with timings.step("web_and_worker_ready"):
            web = Service.start(
                "web",
                # No control socket: its default path is shared by every gunicorn of the account on this machine.
                [str(PYTHON), "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
                 "--workers", "2", "--graceful-timeout", "30", "--access-logfile", "-", "--no-control-socket"],
                cwd=REPO_ROOT, env=env, log=logs_dir / "web.log",
            )  # fmt: skip
            services.append(web)
            worker = Service.start(
                "worker",
                [str(PYTHON), "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", "2",
                 "--hostname", f"{roles.name}@%h"],
                cwd=REPO_ROOT, env=env, log=logs_dir / "worker.log",
            )  # fmt: skip
            services.append(worker)
            logs = [web.log, worker.log]
            wait_healthy(url, timeout=START_TIMEOUT, services=services, logs=logs)
            wait_for(
                lambda: True if re.search(r"@\S+ ready\.", worker.log.read_text(errors="replace")) else None,
                timeout=START_TIMEOUT, what="the Celery worker's 'ready.' line", logs=logs,
            )  # fmt: skip

        api = Api(url, token, logs)
        me = api.call("GET", "me")
        assert (me["organization"]["slug"], me["role"]) == ("acme", "owner"), me

        # When a lab walks the journey with the annotate client
        cli = Cli(REPO_ROOT / ".venv" / "bin" / "annotate", url, token, tmp_path / "journey", logs)
        cli.workdir.mkdir()
        walk_journey(api, cli, timings)

        # Then both services stop on SIGTERM within the bound, and leave nothing behind
        trees = {service.name: process_tree(service.pid) for service in services}
        with timings.step("stop"):
            stop_services(services)
        assert {service.name: service.process.returncode for service in services} == {"web": 0, "worker": 0}
        left = sorted(pid for pids in trees.values() for pid in pids if is_running(pid))
        assert left == [], f"processes left running after the stop: {left}"
        assert_no_errors_logged(logs)
        complete = True
    finally:
        if not complete:
            for service in services:
                tree = process_tree(service.pid) if service.alive() else set()
                service.kill()  # its process group: gunicorn's workers, Celery's pool
                kill_pids(tree)
        timings.write(complete=complete, logs=sorted(logs_dir.glob("*.log")))
