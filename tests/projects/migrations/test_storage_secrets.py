"""Migration 0008: storage secret keys sealed under the old shared key are sealed again, bound to their organization."""

import base64
import importlib
from types import SimpleNamespace

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.apps import apps
from django.conf import settings
from django.db import connection

from core.context import no_organization, organization_context
from projects.models import StorageConnection
from projects.services.storage import storage_connection_create, unseal_secret
from tenancy.models import Role
from tests.factories import MembershipFactory, OrganizationFactory

migration = importlib.import_module("projects.migrations.0008_storage_secrets_bound_to_organization")


def _legacy_seal(secret: str) -> str:
    """How projects.services.storage sealed a secret before the migration (one key for every organization)."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"annotate.storage-connection-secret").derive(
        settings.SECRET_KEY.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key)).encrypt(secret.encode()).decode()


def _connection(organization_id: int, name: str, secret_sealed: str) -> StorageConnection:
    """A connection whose column holds what a release before the migration wrote (no service writes it any more)."""
    with organization_context(organization_id):
        admin = MembershipFactory(role=Role.ADMIN)
        created = storage_connection_create(
            actor=admin, name=name, bucket="lab-data", endpoint_url="https://93.184.216.34", secret_access_key="x"
        )
        StorageConnection.objects.filter(pk=created.pk).update(secret_access_key_encrypted=secret_sealed)
    return created


def test_legacy_secrets_keep_working_bound_to_their_organization(db):
    alpha, bravo = OrganizationFactory(), OrganizationFactory()
    alpha_connection = _connection(alpha.pk, "alpha", _legacy_seal("alpha-s3-secret"))
    bravo_connection = _connection(bravo.pk, "bravo", _legacy_seal("bravo-s3-secret"))
    unreadable = _connection(bravo.pk, "rotated", "gAAAAABnot-a-value-this-key-opens")
    without = _connection(bravo.pk, "without", "")

    with no_organization():
        migration.forward(apps, SimpleNamespace(connection=connection))

    with organization_context(alpha.pk):
        alpha_sealed = StorageConnection.objects.get(pk=alpha_connection.pk).secret_access_key_encrypted
    with organization_context(bravo.pk):
        bravo_rows = dict(StorageConnection.objects.values_list("pk", "secret_access_key_encrypted"))
    assert alpha_sealed.startswith("sealed.v1.")
    assert unseal_secret(alpha_sealed, organization_id=alpha.pk) == "alpha-s3-secret"
    assert unseal_secret(alpha_sealed, organization_id=bravo.pk) == ""
    assert unseal_secret(bravo_rows[bravo_connection.pk], organization_id=bravo.pk) == "bravo-s3-secret"
    assert (bravo_rows[unreadable.pk], bravo_rows[without.pk]) == ("", "")
