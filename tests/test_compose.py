"""The production compose stack, the image, and the operator docs, checked by parsing, and the stream service's command
run as a local process (no container engine needed)."""

import ast
import http.client
import re
import secrets
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gunicorn.config
import pytest
import yaml

from config.database import ROLES_SQL

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
PYPROJECT = ROOT / "pyproject.toml"
UV_LOCK = ROOT / "uv.lock"
CONFIGURATION_DOC = ROOT / "docs" / "configuration.md"
ENV_EXAMPLE = ROOT / ".env.example"
SETTINGS_DIR = ROOT / "config" / "settings"

EXPECTED_SERVICES = {"postgres", "redis", "minio", "migrate", "web", "stream", "worker", "beat"}
ONE_SHOT_SERVICES = {"migrate"}
APP_SERVICES = {"web", "stream", "worker", "beat"}
IMAGE_SERVICES = APP_SERVICES | {"migrate"}
SECRET_KEY_PATTERN = re.compile(r"PASSWORD|SECRET|KEY|AUTH|TOKEN")
INTERPOLATION = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}")
ONLY_INTERPOLATION = re.compile(r"^\$\{[A-Z][A-Z0-9_]*(?::?[-?][^}]*)?\}$")
# Credentials inside a URL: scheme://[user]:password@host
URL_CREDENTIALS = re.compile(r"^[a-z][a-z0-9+.-]*://(\$\{[^}]*\}|[^:/@$]*):(\$\{[^}]*\}|[^@]*)@")
# Variables the production settings refuse to start without.
PRODUCTION_REQUIRED = {"DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return parsed


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict[str, Any]]:
    parsed: dict[str, dict[str, Any]] = compose["services"]
    return parsed


def _command(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def _option(command: list[str], name: str) -> str:
    """The value following `name` in a command given as a list; the option must appear once."""
    assert command.count(name) == 1, f"{name} appears {command.count(name)} times in {command}"
    return command[command.index(name) + 1]


def _seconds(duration: str) -> int:
    """A compose duration such as "75s" or "2m", in seconds."""
    match = re.fullmatch(r"(\d+)([sm])", duration)
    assert match, f"unexpected duration {duration!r}"
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


def _healthcheck_module() -> Any:
    sys.path.insert(0, str(ROOT / "docker"))
    try:
        import healthcheck
    finally:
        sys.path.remove(str(ROOT / "docker"))
    return healthcheck


def _environment(service: dict[str, Any]) -> dict[str, Any]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in environment)
    return environment


def _strings(node: Any) -> list[str]:
    """Every string anywhere in a parsed YAML tree, keys included."""
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in [*_strings(key), *_strings(value)]]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return [node] if isinstance(node, str) else []


def _compose_variables(compose: dict[str, Any]) -> dict[str, set[str]]:
    """Each variable compose interpolates, with the operators it is used with ('' plain, ':-' default, ':?')."""
    found: dict[str, set[str]] = {}
    for text in _strings(compose):
        for name, operator, _ in INTERPOLATION.findall(text.replace("$$", "")):
            found.setdefault(name, set()).add(operator)
    return found


def _settings_variables() -> dict[str, set[str]]:
    """Every variable read through `env(...)`, `env.bool(...)` and friends, with the settings modules reading it."""
    found: dict[str, set[str]] = {}
    for path in sorted(SETTINGS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            reads_env = (isinstance(func, ast.Name) and func.id == "env") or (
                isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env"
            )
            if not reads_env or (isinstance(func, ast.Attribute) and func.attr == "read_env"):
                continue
            first = node.args[0]
            assert isinstance(first, ast.Constant), f"{path.name}:{node.lineno}: variable name is not a literal"
            assert isinstance(first.value, str), f"{path.name}:{node.lineno}: variable name is not a string"
            found.setdefault(first.value, set()).add(path.stem)
    return found


def _doc_section(heading: str) -> str:
    text = CONFIGURATION_DOC.read_text()
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _doc_table(heading: str) -> dict[str, list[str]]:
    """Rows of the section's table whose first cell is a `VARIABLE`, as {name: remaining cells}."""
    rows: dict[str, list[str]] = {}
    for line in _doc_section(heading).splitlines():
        match = re.match(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|(.*)\|\s*$", line)
        if match:
            assert match.group(1) not in rows, f"{match.group(1)} is documented twice under '{heading}'"
            rows[match.group(1)] = [cell.strip() for cell in re.split(r"(?<!\\)\|", match.group(2))]
    return rows


def _env_example() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(.env.example's set variables, its commented-out ones, the comment line above each)."""
    assigned: dict[str, str] = {}
    commented: dict[str, str] = {}
    comments: dict[str, str] = {}
    previous = ""
    for line in ENV_EXAMPLE.read_text().splitlines():
        if match := re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line):
            assigned[match.group(1)] = match.group(2)
            comments[match.group(1)] = previous
        elif match := re.match(r"^# ([A-Z][A-Z0-9_]*)=(.*)$", line):
            commented[match.group(1)] = match.group(2)
            comments[match.group(1)] = previous
        previous = line if line.startswith("# ") and not re.match(r"^# [A-Z][A-Z0-9_]*=", line) else ""
    return assigned, commented, comments


# --- services, health, order ---


def test_compose_defines_exactly_the_production_services(services):
    assert set(services) == EXPECTED_SERVICES


def test_every_long_running_service_has_a_health_check_and_restarts(services):
    for name in EXPECTED_SERVICES - ONE_SHOT_SERVICES:
        healthcheck = services[name].get("healthcheck")
        assert healthcheck, f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), f"{name} disables its healthcheck"
        assert healthcheck["test"], name
        assert services[name]["restart"] == "unless-stopped", name


def test_health_checks_probe_what_each_service_serves(services):
    def probe(name: str) -> str:
        return " ".join(services[name]["healthcheck"]["test"])

    assert "pg_isready" in probe("postgres")
    assert "redis-cli ping" in probe("redis")
    assert probe("minio") == "CMD mc ready local"
    assert probe("web") == "CMD python /app/docker/healthcheck.py web"
    assert probe("stream") == "CMD python /app/docker/healthcheck.py stream"
    assert probe("worker") == "CMD python /app/docker/healthcheck.py worker"
    assert probe("beat") == "CMD python /app/docker/healthcheck.py beat"


def test_migrate_is_one_shot_and_never_restarted(services):
    migrate = services["migrate"]
    assert migrate["restart"] == "no"
    assert _command(migrate) == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_services_start_after_migrate_on_healthy_postgres_and_redis(services, name):
    depends_on = services[name]["depends_on"]
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"
    assert depends_on["postgres"]["condition"] == "service_healthy"
    assert depends_on["redis"]["condition"] == "service_healthy"


def test_every_dependency_waits_for_health_or_completion(services):
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            expected = "service_completed_successfully" if dependency in ONE_SHOT_SERVICES else "service_healthy"
            assert spec["condition"] == expected, f"{name} -> {dependency}"


# --- commands and image ---


def test_web_runs_gunicorn_on_the_wsgi_app_with_production_settings(services):
    web = services["web"]
    command = _command(web)
    assert command[:2] == ["gunicorn", "config.wsgi:application"]
    assert command[command.index("--bind") + 1] == "0.0.0.0:8000"
    assert _environment(web)["DJANGO_SETTINGS_MODULE"] == "config.settings.production"


def test_worker_runs_a_celery_worker_and_beat_runs_celery_beat(services):
    assert _command(services["worker"])[:4] == ["celery", "-A", "config", "worker"]
    assert _command(services["beat"])[:4] == ["celery", "-A", "config", "beat"]
    assert "replicas" not in (services["beat"].get("deploy") or {})  # exactly one scheduler


def test_stream_runs_uvicorn_on_the_asgi_app_with_production_settings(services):
    stream = services["stream"]
    command = _command(stream)
    assert command[:2] == ["uvicorn", "config.asgi:application"]
    assert _option(command, "--host") == "0.0.0.0"  # noqa: S104 - inside its container; published on loopback
    assert _option(command, "--port") == "8001"
    assert _option(command, "--workers") == "${STREAM_WORKERS:-2}"
    assert _option(command, "--lifespan") == "off"
    assert "--proxy-headers" in command
    environment = _environment(stream)
    assert environment["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    # config/asgi.py closes each connection at the end of its request; a value set in .env for web must not undo it.
    assert environment["DATABASE_CONN_MAX_AGE"] == "0"
    # uvicorn stops waiting for unfinished replies before compose kills it, so it still closes cleanly.
    assert int(_option(command, "--timeout-graceful-shutdown")) < _seconds(stream["stop_grace_period"])


def test_stream_trusts_forwarded_headers_from_exactly_the_peers_gunicorn_trusts(services):
    # Both servers leave the proxy's headers to Django's settings: neither may rewrite the client's address or scheme
    # for a request arriving from the proxy, which reaches the container from outside its loopback.
    trusted = _option(_command(services["stream"]), "--forwarded-allow-ips").split(",")
    assert set(trusted) == set(gunicorn.config.Config().forwarded_allow_ips) == {"127.0.0.1", "::1"}
    assert "--forwarded-allow-ips" not in _command(services["web"])


def test_stream_runs_in_the_same_container_setup_and_environment_as_web(services):
    web, stream = services["web"], services["stream"]
    for key in (
        "build",
        "image",
        "networks",
        "logging",
        "security_opt",
        "cap_drop",
        "read_only",
        "tmpfs",
        "restart",
        "depends_on",
        "volumes",
    ):
        assert stream[key] == web[key], key
    expected = {key: value for key, value in _environment(web).items() if key != "WEB_CONCURRENCY"}
    assert _environment(stream) == {**expected, "DATABASE_CONN_MAX_AGE": "0"}


def test_web_and_stream_are_published_on_loopback_by_default(services):
    assert services["web"]["ports"] == ["${WEB_BIND:-127.0.0.1}:${WEB_PORT:-8000}:8000"]
    assert services["stream"]["ports"] == ["${STREAM_BIND:-127.0.0.1}:${STREAM_PORT:-8001}:8001"]


def test_every_server_the_services_start_is_a_locked_runtime_dependency(services):
    programs = {_command(services[name])[0] for name in IMAGE_SERVICES} - {"python"}
    assert programs == {"gunicorn", "uvicorn", "celery"}
    pyproject = tomllib.loads(PYPROJECT.read_text())
    # The image installs the lock without the dev group (`uv sync --frozen --no-dev`).
    runtime = {
        re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0] for requirement in pyproject["project"]["dependencies"]
    }
    assert programs <= runtime
    lock = tomllib.loads(UV_LOCK.read_text())
    project = next(package for package in lock["package"] if package["name"] == pyproject["project"]["name"])
    assert programs <= {dependency["name"] for dependency in project["dependencies"]}


@pytest.mark.parametrize("name", sorted(IMAGE_SERVICES))
def test_platform_services_build_the_dockerfile_with_production_settings(services, name):
    build = services[name]["build"]
    assert build["context"] == "."
    assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    assert _environment(services[name])["DJANGO_SETTINGS_MODULE"] == "config.settings.production"


def test_dockerfile_runs_as_a_non_root_user_with_pinned_uv_and_frozen_lock():
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    froms = [line for line in lines if line.startswith("FROM ")]
    assert froms == ["FROM python:3.11-slim"]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users, "the image never leaves root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    text = DOCKERFILE.read_text()
    assert 'pip install "uv==0.13.9"' in text
    assert "uv sync --frozen --no-dev" in text
    assert "collectstatic --noinput" in text
    assert "EXPOSE 8000 8001" in lines
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    cmd = [line for line in lines if line.startswith("CMD ")][-1]  # the first is HEALTHCHECK's continuation
    assert cmd.startswith('CMD ["gunicorn", "config.wsgi:application"')


def test_dockerfile_build_key_is_accepted_by_production_settings():
    # The dummy values let collectstatic load the production settings at build time; they must pass their checks.
    build_step = DOCKERFILE.read_text().split("python manage.py collectstatic")[0].rsplit("RUN ", 1)[1]
    values = dict(re.findall(r'([A-Z_]+)="([^"]+)"', build_step))
    assert "DJANGO_SECRET_KEY" in values, "the Dockerfile sets no build-time DJANGO_SECRET_KEY"
    result = _production_settings_check(values)
    assert result.returncode == 0, result.stderr


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_image():
    patterns = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", "var", ".git", ".env", "test-artifacts", ".pytest_cache"} <= patterns
    assert not {"docker", "docker/", "docker/healthcheck.py"} & patterns  # the health check script ships


def test_health_check_script_exists_and_the_roles_script_is_the_one_the_suite_applies():
    assert (ROOT / "docker" / "healthcheck.py").is_file()
    # The postgres image runs *.sql files in its init folder with psql, as the suite and `make run` do.
    assert ROLES_SQL == ROOT / "config" / "database" / "roles.sql"
    assert ROLES_SQL.is_file()


def test_health_check_host_header_is_one_the_settings_allow():
    healthcheck = _healthcheck_module()
    assert healthcheck.probe_host("annotate.example.org,other.example.org") == "annotate.example.org"
    assert healthcheck.probe_host(" .example.org") == "example.org"
    assert healthcheck.probe_host("*") == "localhost"
    assert healthcheck.probe_host("") == "localhost"


def test_web_and_stream_health_checks_probe_healthz_on_the_port_each_server_binds(services):
    healthcheck = _healthcheck_module()
    web_port = int(_option(_command(services["web"]), "--bind").rsplit(":", 1)[1])
    stream_port = int(_option(_command(services["stream"]), "--port"))
    for url, port in ((healthcheck.WEB_URL, web_port), (healthcheck.STREAM_URL, stream_port)):
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname, parts.port, parts.path) == ("http", "127.0.0.1", port, "/healthz")


STREAM_HOST = "annotate.example.org"


@contextmanager
def _stream_server(command: list[str], proxy_ssl_header: str) -> Iterator[int]:
    """The stream service's own command, under production settings, on a free loopback port with one process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    arguments = command[1:]
    for name, value in (("--host", "127.0.0.1"), ("--port", str(port)), ("--workers", "1")):
        arguments[arguments.index(name) + 1] = value
    environment = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": STREAM_HOST,
        "DATABASE_URL": "postgres://annotate_app:unused@127.0.0.1:5432/annotate",
        "AUDIT_SIGNING_KEY": "Y29tcG9zZS10ZXN0LXNpZ25pbmctc2VlZC0zMi1ieXQ=",
        "EMAIL_URL": "dummymail://",
        # Nothing these requests do may reach Redis; a closed port makes it fail loudly if one does.
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "DJANGO_SECURE_PROXY_SSL_HEADER": proxy_ssl_header,
        "DJANGO_TRUSTED_PROXY_COUNT": "1",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *arguments],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"uvicorn exited: {server.communicate()[0]}"
            assert time.monotonic() < deadline, "uvicorn did not listen within 60 s"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _get(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    """A GET from 127.0.0.2: like the proxy's requests, from a peer other than the container's loopback."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=("127.0.0.2", 0))
    try:
        connection.request("GET", path, headers={"Host": STREAM_HOST, **headers})
        response = connection.getresponse()
        response.read()
        return response.status, {key.lower(): value for key, value in response.getheaders()}
    finally:
        connection.close()


@pytest.mark.parametrize(("proxy_ssl_header", "trusted"), [("true", True), ("false", False)])
def test_stream_command_serves_the_asgi_app_and_leaves_the_proxy_headers_to_django(
    services, monkeypatch, proxy_ssl_header, trusted
):
    chat = "/api/v1/assignments/a1/chat/dialogue/turns"
    with _stream_server(_command(services["stream"]), proxy_ssl_header) as port:
        # The container's health check, aimed at this server, with the Host it derives from the settings.
        monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", STREAM_HOST)
        assert _healthcheck_module().check_http(f"http://127.0.0.1:{port}/healthz") is True

        # Plain HTTP is sent to HTTPS, as web does.
        status, headers = _get(port, chat, {})
        assert (status, headers["location"]) == (301, f"https://{STREAM_HOST}{chat}")

        # X-Forwarded-Proto counts only when the settings say the proxy sets it: uvicorn adds no trust of its own.
        status, headers = _get(port, chat, {"X-Forwarded-Proto": "https"})
        healthz_status, healthz_headers = _get(port, "/healthz", {"X-Forwarded-Proto": "https"})
    assert healthz_status == 200
    if trusted:
        assert status == 405  # the chat view itself answered: GET is not one of its methods
        assert healthz_headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    else:
        assert (status, headers.get("location")) == (301, f"https://{STREAM_HOST}{chat}")
        assert "strict-transport-security" not in healthz_headers


# --- volumes, ports, networks ---


def test_named_volumes_are_declared_and_each_is_used(services, compose):
    declared = set(compose["volumes"])
    used = set()
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume["source"]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} mounts undeclared volume {source}"
                used.add(source)
    assert declared == used
    assert {"postgres-data", "redis-data", "minio-data"} <= declared


def test_data_services_keep_their_data_in_named_volumes(services):
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "redis-data:/data" in services["redis"]["volumes"]
    assert "minio-data:/data" in services["minio"]["volumes"]


def test_postgres_and_redis_are_not_published_and_sit_on_an_internal_network(services, compose):
    for name in ("postgres", "redis"):
        assert "ports" not in services[name], f"{name} publishes a port to the host"
        assert services[name]["networks"] == ["backend"]
    assert compose["networks"]["backend"]["internal"] is True


def test_postgres_runs_version_15_with_the_roles_script(services):
    postgres = services["postgres"]
    assert postgres["image"].split(":")[1].startswith("15")
    assert "./config/database/roles.sql:/docker-entrypoint-initdb.d/10-roles.sql:ro" in postgres["volumes"]


# --- secrets and database roles ---


def test_no_literal_secrets_anywhere_in_the_compose_file(services):
    for name, service in services.items():
        for key, value in _environment(service).items():
            if value is None:
                continue  # passed through from .env, no value in the file
            if SECRET_KEY_PATTERN.search(key):
                assert ONLY_INTERPOLATION.match(str(value)), f"{name}.{key} holds a literal: {value!r}"
            if credentials := URL_CREDENTIALS.match(str(value)):
                assert ONLY_INTERPOLATION.match(credentials.group(2)), f"{name}.{key} embeds a literal password"


def test_required_secrets_fail_loudly_when_missing(compose):
    variables = _compose_variables(compose)
    for name in (
        "DJANGO_SECRET_KEY",
        "DJANGO_ALLOWED_HOSTS",
        "POSTGRES_PASSWORD",
        "OWNER_DB_PASSWORD",
        "APP_DB_PASSWORD",
        "REDIS_PASSWORD",
        "MINIO_ROOT_PASSWORD",
    ):
        assert variables[name] == {":?"}, f"{name} must be required with ${{{name}:?message}}"


def test_migrate_connects_as_the_owner_and_the_app_as_the_app_role(services):
    owner_url = _environment(services["migrate"])["DATABASE_URL"]
    assert owner_url.startswith("postgres://${OWNER_DB_USER:-annotate_owner}:${OWNER_DB_PASSWORD:?")
    for name in APP_SERVICES:
        environment = _environment(services[name])
        assert environment["DATABASE_URL"].startswith(
            "postgres://${DATABASE_APP_ROLE:-annotate_app}:${APP_DB_PASSWORD:?"
        )
        assert environment["DATABASE_APP_ROLE"] == "${DATABASE_APP_ROLE:-annotate_app}"
    postgres = _environment(services["postgres"])
    assert postgres["APP_DB_USER"] == "${DATABASE_APP_ROLE:-annotate_app}"
    assert postgres["OWNER_DB_USER"] == "${OWNER_DB_USER:-annotate_owner}"
    # The owner's password never reaches the long-running app processes.
    for name in APP_SERVICES:
        assert "OWNER_DB_PASSWORD" not in str(_environment(services[name]))


def test_app_services_pass_only_variables_the_settings_read(services):
    settings_variables = set(_settings_variables()) | {"DJANGO_SETTINGS_MODULE", "WEB_CONCURRENCY"}
    for name in IMAGE_SERVICES:
        unknown = set(_environment(services[name])) - settings_variables
        assert not unknown, f"{name} sets variables nothing reads: {sorted(unknown)}"


# --- docs and .env.example cannot drift ---


def test_configuration_doc_lists_exactly_the_variables_the_settings_read():
    documented = _doc_table("Settings variables")
    read = _settings_variables()
    assert sorted(set(read) - set(documented)) == [], "read in config/settings but undocumented"
    assert sorted(set(documented) - set(read)) == [], "documented but no longer read in config/settings"
    for name, modules in read.items():
        default, read_in, meaning = documented[name]
        assert {m.strip() for m in read_in.split(",")} == modules, f"{name}: 'Read in' should be {sorted(modules)}"
        assert default, f"{name} has no default documented"
        assert meaning, f"{name} has no meaning documented"


def test_configuration_doc_lists_exactly_the_compose_only_variables(compose):
    documented = _doc_table("Compose variables")
    compose_only = set(_compose_variables(compose)) - set(_settings_variables())
    assert sorted(compose_only - set(documented)) == [], "used in docker-compose.yml but undocumented"
    assert sorted(set(documented) - compose_only) == [], "documented but not used by docker-compose.yml"


def test_env_example_covers_every_compose_and_production_required_variable(compose, services):
    assigned, commented, comments = _env_example()
    variables = _compose_variables(compose)
    required = {name for name, operators in variables.items() if ":?" in operators} | PRODUCTION_REQUIRED
    for name in required:
        assert assigned.get(name), f".env.example must set a placeholder for required {name}"
    passed_through = {
        key for name in IMAGE_SERVICES for key, value in _environment(services[name]).items() if value is None
    }
    for name in set(variables) | passed_through:
        assert name in assigned or name in commented, f".env.example does not mention {name}"
    for name in set(assigned) | set(commented):
        assert comments.get(name), f".env.example: {name} has no comment line above it"
    assert not set(assigned) & set(commented)
    assert set(assigned) | set(commented) <= set(variables) | passed_through, "stale names in .env.example"


def test_env_example_secret_key_placeholder_is_refused_by_production():
    assigned, _, _ = _env_example()
    result = _production_settings_check({"DJANGO_SECRET_KEY": assigned["DJANGO_SECRET_KEY"]})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set to a random value" in result.stderr


def _production_settings_check(overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_ALLOWED_HOSTS": "annotate.example.org",
        "DATABASE_URL": "postgres://annotate_app:unused@127.0.0.1:5432/annotate",
        "AUDIT_SIGNING_KEY": "Y29tcG9zZS10ZXN0LXNpZ25pbmctc2VlZC0zMi1ieXQ=",
        **overrides,
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
