"""Container health checks for the platform's own processes: `python docker/healthcheck.py web|stream|worker|beat`.

Exit status 0 means healthy. The image has no curl, and a plain request to 127.0.0.1 would be refused by
ALLOWED_HOSTS, so the web and stream checks send one of the configured host names themselves.
"""

import os
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

# What each HTTP service listens on inside its container (docker-compose.yml): gunicorn, and uvicorn for streams.
WEB_URL = "http://127.0.0.1:8000/healthz"
STREAM_URL = "http://127.0.0.1:8001/healthz"
TIMEOUT_SECONDS = 5


def probe_host(allowed_hosts: str) -> str:
    """The Host header to send: the first configured name, made concrete if it is a pattern."""
    for raw in allowed_hosts.split(","):
        host = raw.strip()
        if not host:
            continue
        if host == "*":
            return "localhost"
        # ".example.org" allows the domain and its subdomains; the bare domain is a valid instance.
        return host.lstrip(".")
    return "localhost"


def check_http(url: str) -> bool:
    """The Django process behind `url` answers /healthz with 200 to a host name the settings allow."""
    host = probe_host(os.environ.get("DJANGO_ALLOWED_HOSTS", ""))
    request = urllib.request.Request(url, headers={"Host": host})  # noqa: S310 - WEB_URL or STREAM_URL: http on loopback
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - the same URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def check_worker() -> bool:
    """The worker in this container answers a broadcast ping through the broker."""
    from config.celery import app

    replies = app.control.ping(destination=[f"celery@{socket.gethostname()}"], timeout=TIMEOUT_SECONDS)
    return bool(replies)


def check_beat() -> bool:
    """Beat cannot be pinged: its schedule file exists and the broker it publishes to accepts a connection."""
    from django.conf import settings

    from config.celery import app

    schedule = Path(settings.CELERY_BEAT_SCHEDULE_FILENAME)
    if not any(schedule.parent.glob(schedule.name + "*")):
        return False
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)
    return True


def check_web() -> bool:
    return check_http(WEB_URL)


def check_stream() -> bool:
    return check_http(STREAM_URL)


CHECKS = {"web": check_web, "stream": check_stream, "worker": check_worker, "beat": check_beat}
# These ask over HTTP and need no Django; the Celery checks load the settings like the processes they check.
HTTP_CHECKS = {"web", "stream"}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in CHECKS:
        sys.stderr.write(f"usage: healthcheck.py {{{'|'.join(CHECKS)}}}\n")
        return 2
    if argv[1] not in HTTP_CHECKS:
        # The Celery checks read the broker from the Django settings, like the processes they check.
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
        import django

        django.setup()
    try:
        healthy = CHECKS[argv[1]]()
    except Exception as exc:  # a health check reports failure, it does not crash with a traceback
        sys.stderr.write(f"{argv[1]} unhealthy: {exc}\n")
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
