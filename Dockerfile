# syntax=docker/dockerfile:1
# One image for every platform process: web (the default command), stream, worker, beat and the migrate job.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv

# The same uv that wrote uv.lock, so `--frozen` installs exactly what the lock file lists.
RUN pip install "uv==0.13.9"

RUN groupadd --system --gid 10001 annotate \
    && useradd --system --uid 10001 --gid annotate --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin annotate

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lock file changes, not on every code change. The lock's
# runtime dependencies hold every server the services start: gunicorn (web), uvicorn (stream) and celery.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

ENV PATH="/opt/venv/bin:${PATH}" \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    ANNOTATE_DATA_DIR=/app/var \
    DJANGO_STATIC_ROOT=/app/staticfiles \
    DJANGO_MEDIA_ROOT=/app/media

# The code stays owned by root: the process that serves it cannot rewrite it.
COPY . .
# Now the project itself, which puts the lab's `annotate` client on PATH beside the platform's commands.
RUN uv sync --frozen --no-dev

# Production settings refuse to load without these; the values exist only for this build step and are not kept
# in the image's environment. collectstatic connects to neither the database nor Redis.
RUN DJANGO_SECRET_KEY="build-only-collectstatic-key-never-used-at-runtime-0123456789abcdefghij" \
    DJANGO_ALLOWED_HOSTS="build.invalid" \
    DATABASE_URL="postgres://build@build.invalid:5432/build" \
    AUDIT_SIGNING_KEY="YnVpbGQtb25seS1rZXktbmV2ZXItdXNlZC1hdC1ydW4=" \
    EMAIL_URL="dummymail://" \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var /app/media \
    && chown annotate:annotate /app/var /app/media

USER annotate:annotate

# gunicorn (web) and uvicorn (stream, docker-compose.yml).
EXPOSE 8000 8001

HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py", "web"]

# Worker count comes from WEB_CONCURRENCY (gunicorn reads it); heartbeats go to memory, not the image's disk.
CMD ["gunicorn", "config.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--worker-tmp-dir", "/dev/shm", \
     "--access-logfile", "-", \
     "--graceful-timeout", "30"]
