"""Migration 0006: stream tokens sealed under the old shared key are sealed again, bound to their organization."""

import base64
import importlib
from types import SimpleNamespace
from typing import Any

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.apps import apps
from django.conf import settings
from django.db import connection

from audit.services.streaming import destination_for
from tenancy.models import Organization
from tests.factories import OrganizationFactory

migration = importlib.import_module("audit.migrations.0006_stream_tokens_bound_to_organization")


def _legacy_seal(token: str) -> str:
    """How audit.services.streaming sealed a token before the migration (one key for every organization)."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"annotate.audit-stream-token").derive(
        settings.SECRET_KEY.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key)).encrypt(token.encode()).decode()


def _stream(sealed: str) -> dict[str, Any]:
    return {
        "audit_stream": {"kind": "http", "enabled": True, "url": "https://siem.example.org/", "token_sealed": sealed}
    }


def _migrate() -> None:
    migration.forward(apps, SimpleNamespace(connection=connection))


def test_a_legacy_token_keeps_working_bound_to_its_organization(db):
    organization = OrganizationFactory(settings={**_stream(_legacy_seal("legacy-bearer")), "locale": "fr"})
    syslog = {"audit_stream": {"kind": "syslog", "host": "siem.example.org", "port": 514, "framing": "octet"}}
    other = OrganizationFactory(settings=syslog)

    _migrate()

    organization.refresh_from_db()
    other.refresh_from_db()
    assert organization.settings["audit_stream"]["token_sealed"].startswith("sealed.v1.")
    assert organization.settings["locale"] == "fr"
    assert destination_for(organization).token == "legacy-bearer"  # type: ignore[union-attr]
    assert other.settings == syslog


def test_a_token_copied_between_organizations_is_dropped_from_both(db):
    # The incident's trace: B's sealed value echoed into A's stream. Fernet never seals the same value twice.
    sealed = _legacy_seal("bravo-bearer")
    alpha, bravo = OrganizationFactory(settings=_stream(sealed)), OrganizationFactory(settings=_stream(sealed))
    charlie = OrganizationFactory(settings=_stream(_legacy_seal("charlie-bearer")))

    _migrate()

    tokens = []
    for organization in (alpha, bravo, charlie):
        organization.refresh_from_db()
        tokens.append(destination_for(organization).token)  # type: ignore[union-attr]
    assert tokens == ["", "", "charlie-bearer"]
    assert Organization.objects.get(pk=alpha.pk).settings["audit_stream"]["token_sealed"] == ""


def test_running_it_again_changes_nothing_and_backward_restores_the_old_format(db):
    organization = OrganizationFactory(settings=_stream(_legacy_seal("legacy-bearer")))
    _migrate()
    organization.refresh_from_db()
    once = organization.settings

    _migrate()
    organization.refresh_from_db()
    again = organization.settings
    migration.backward(apps, SimpleNamespace(connection=connection))
    organization.refresh_from_db()

    assert again == once
    assert migration.legacy_open(organization.settings["audit_stream"]["token_sealed"]) == "legacy-bearer"
