"""The ASGI entry point: Django's async views (the streamed model replies) without holding a worker per stream.

`make run` serves the whole platform from it (uvicorn); in production the `stream` service serves it for the
streaming routes while gunicorn's threads keep the rest (docs/deployment.md says how the proxy splits them).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# Under ASGI each request's synchronous code runs on a thread of its own, so a connection kept for the next request
# would be left behind on a thread that is gone: close each at the end of its request, as Django advises for ASGI.
os.environ.setdefault("DATABASE_CONN_MAX_AGE", "0")
application = get_asgi_application()
