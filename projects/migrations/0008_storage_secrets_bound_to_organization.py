"""Re-seal every storage connection's secret key bound to its organization (core.stored_secrets).

The keys were sealed with Fernet under one key for every organization; each one that opens under it is sealed again
for the organization that owns the connection. One that no longer opens (SECRET_KEY changed) is dropped: it was
already unusable, and the connection shows `has_secret: false` until an admin sets it again.
"""

import base64
import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import migrations

from core import stored_secrets

logger = logging.getLogger(__name__)

# The derivation projects.services.storage used before this migration; kept here, frozen, only to open what it
# sealed.
LEGACY_INFO = b"annotate.storage-connection-secret"
SELECT = (
    "SELECT id, secret_access_key_encrypted FROM projects_storageconnection "
    "WHERE organization_id = %s AND secret_access_key_encrypted <> '' ORDER BY id"
)
UPDATE = "UPDATE projects_storageconnection SET secret_access_key_encrypted = %s WHERE id = %s"


def _legacy_fernets() -> list[Fernet]:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [
        Fernet(
            base64.urlsafe_b64encode(
                HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=LEGACY_INFO).derive(key.encode())
            )
        )
        for key in keys
    ]


def legacy_open(sealed: str) -> str:
    """The secret a pre-migration value holds; '' when it does not open."""
    for fernet in _legacy_fernets():
        try:
            return fernet.decrypt(sealed.encode()).decode()
        except (InvalidToken, ValueError):
            continue
    return ""


def _each_organization(schema_editor: Any, reseal: Any) -> None:
    # The connections are under forced row-level security and the migrating owner has no BYPASSRLS: read and
    # write them one organization at a time, as that organization.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tenancy_organization ORDER BY id")
        for (organization_id,) in cursor.fetchall():
            cursor.execute("SELECT set_config('app.organization_id', %s, true)", [str(organization_id)])
            cursor.execute(SELECT, [organization_id])
            for connection_id, sealed in cursor.fetchall():
                resealed = reseal(organization_id, connection_id, sealed)
                if resealed is not None:
                    cursor.execute(UPDATE, [resealed, connection_id])
        cursor.execute("SELECT set_config('app.organization_id', '', true)")


def forward(apps: Any, schema_editor: Any) -> None:
    def reseal(organization_id: int, connection_id: int, sealed: str) -> str | None:
        if sealed.startswith(stored_secrets.PREFIX):
            return None  # bound already
        secret = legacy_open(sealed)
        if not secret:
            logger.warning("storage.secret_unreadable_dropped", extra={"storage_connection_id": connection_id})
            return ""
        return stored_secrets.seal(
            secret, organization_id=organization_id, purpose=stored_secrets.PURPOSE_STORAGE_SECRET_KEY
        )

    _each_organization(schema_editor, reseal)


def backward(apps: Any, schema_editor: Any) -> None:
    # Back to the old format, each secret sealed under the shared key again (the binding is lost with it).
    legacy = _legacy_fernets()[0]

    def reseal(organization_id: int, connection_id: int, sealed: str) -> str | None:
        if not sealed.startswith(stored_secrets.PREFIX):
            return None
        secret = stored_secrets.unseal_or_empty(
            sealed, organization_id=organization_id, purpose=stored_secrets.PURPOSE_STORAGE_SECRET_KEY
        )
        return legacy.encrypt(secret.encode()).decode() if secret else ""

    _each_organization(schema_editor, reseal)


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0007_import_write_costs"),
        ("tenancy", "0005_api_token_resolve"),
    ]

    operations = [migrations.RunPython(forward, backward)]
