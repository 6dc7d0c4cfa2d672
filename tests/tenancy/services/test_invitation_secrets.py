"""An invitation's secret reaches the invited mailbox and nothing else, followed through a whole invite → accept:
not the response to the admin who created it, not any log record at any level (SQL included), not any URL or Referer
the server receives (what an access log such as gunicorn's writes down)."""

import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.signals import request_started
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tenancy.models import Membership, Role
from tests.conftest import member_client

# Whatever separates the secret from the page's path, so that this test reads any link format it is shown.
MAILED_LINK = re.compile(r"(\S+/invitations/accept[#/]([A-Za-z0-9_-]{43}))\s")


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Captures every record any logger emits, down to DEBUG, with each query's SQL and parameters."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    silenced = [logger for logger in loggers if not logger.propagate]
    for logger in loggers:
        caplog.set_level(logging.DEBUG, logger=logger.name if logger.name != "root" else None)
    for logger in silenced:
        logger.addHandler(caplog.handler)
    try:
        with CaptureQueriesContext(connection):  # forces the debug cursor: django.db.backends logs every query
            yield caplog
    finally:
        for logger in silenced:
            logger.removeHandler(caplog.handler)


@pytest.fixture
def urls_received() -> Iterator[list[str]]:
    """Path, query string and Referer of every request the server handles, as an access log would write them."""
    seen: list[str] = []

    def record(sender: Any, environ: dict[str, Any], **kwargs: Any) -> None:
        path, query = environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
        seen.append(f"{path}?{query} {environ.get('HTTP_REFERER', '')}")

    request_started.connect(record, dispatch_uid="tests.urls_received")
    yield seen
    request_started.disconnect(dispatch_uid="tests.urls_received")


def everything_in(record: logging.LogRecord) -> str:
    return f"{record.getMessage()} {record.args!r} {record.__dict__!r} {record.exc_text or ''}"


def test_the_secret_goes_to_the_mailbox_and_nowhere_else(
    tenant, everything_logged, urls_received, django_capture_on_commit_callbacks
):
    admin, _ = member_client(tenant, Role.ADMIN)

    # An admin invites; the worker mails the link once the invitation is committed.
    with django_capture_on_commit_callbacks(execute=True):
        created = admin.post(
            "/api/v1/invitations/", {"email": "expert@example.org", "role": "annotator"}, format="json"
        )
    (message,) = mail.outbox
    link, secret = MAILED_LINK.findall(message.body + "\n")[0]

    # The invitee's browser follows the link: it requests the URL without its fragment, and the page's script posts
    # the fragment; then the invitee chooses a name and a password and lands on the home page.
    browser = Client()
    parts = urlsplit(link)
    # First with a typo (a pasted link cut short): refused and counted as a failed attempt, and not logged either.
    typo = secret[:-1]
    mistyped = browser.post(parts.path, {"key": typo})
    landed = browser.get(parts.path + (f"?{parts.query}" if parts.query else ""), HTTP_REFERER="https://mail.example/")
    opened = browser.post(
        parts.path, {"key": parts.fragment}, HTTP_REFERER=f"{parts.scheme}://{parts.netloc}{parts.path}"
    )
    joined = browser.post(
        parts.path,
        {"key": parts.fragment, "action": "accept", "name": "Expert", "password": "a sound passphrase 42"},
        HTTP_REFERER=f"{parts.scheme}://{parts.netloc}{parts.path}",
    )
    home = browser.get(joined["Location"])

    # Nothing the server was asked for, nothing logged, nothing the admin got back holds the secret (or the typo).
    assert [url for url in urls_received if typo in url] == []
    assert len(urls_received) == 6
    records = everything_logged.records
    assert [everything_in(r) for r in records if typo in everything_in(r)] == []
    assert {"django.db.backends", "axes.handlers.database"} <= {r.name for r in records}
    assert secret not in created.content.decode()
    assert mistyped.status_code == 404
    # And the invitation worked.
    assert (parts.path, parts.fragment) == ("/invitations/accept", secret)
    assert (created.status_code, landed.status_code, opened.status_code, joined.status_code, home.status_code) == (
        201,
        200,
        200,
        302,
        200,
    )
    assert joined["Location"] == reverse("home")
    assert Membership.objects.get(user__email="expert@example.org").role == "annotator"
