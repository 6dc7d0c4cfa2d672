"""Re-seal every stored audit stream token bound to its organization (core.stored_secrets).

Tokens were sealed with Fernet under one key for every organization, and the API took a sealed value back from a
client verbatim: one organization could be handed another's token. Each token that opens under the old key is
sealed again for the organization that holds it. A sealed value held by more than one organization was copied
between them (Fernet values are random, so two sealings never coincide): it cannot be told whose it was, so no
organization keeps it; their owners set the token again, and should rotate it at the receiver, since it leaked.
A value that no longer opens (SECRET_KEY changed) is dropped too: it was already streamed without.
"""

import base64
import logging
from collections import Counter
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import migrations

from core import stored_secrets

logger = logging.getLogger(__name__)

CONFIG_KEY = "audit_stream"
# The derivation audit.services.streaming used before this migration; kept here, frozen, only to open what it sealed.
LEGACY_INFO = b"annotate.audit-stream-token"


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
    """The token a pre-migration value holds; '' when it does not open."""
    for fernet in _legacy_fernets():
        try:
            return fernet.decrypt(sealed.encode()).decode()
        except (InvalidToken, ValueError):
            continue
    return ""


def _http_streams(organization_model: Any) -> list[tuple[int, dict[str, Any]]]:
    # Platform scope: Organization is the tenant registry, not under row-level security.
    rows = organization_model.objects.filter(settings__has_key=CONFIG_KEY).order_by("pk").values_list("pk", "settings")
    return [
        (pk, org_settings)
        for pk, org_settings in rows
        if isinstance(org_settings.get(CONFIG_KEY), dict) and org_settings[CONFIG_KEY].get("kind") == "http"
    ]


def forward(apps: Any, schema_editor: Any) -> None:
    organization_model = apps.get_model("tenancy", "Organization")
    streams = _http_streams(organization_model)
    held = Counter(str(s[CONFIG_KEY].get("token_sealed") or "") for _, s in streams)
    for pk, org_settings in streams:
        stream = org_settings[CONFIG_KEY]
        sealed = str(stream.get("token_sealed") or "")
        if sealed.startswith(stored_secrets.PREFIX):
            continue  # bound already
        token = ""
        if sealed and held[sealed] > 1:
            logger.warning("audit.stream_token_shared_dropped", extra={"organization_id": pk})
        elif sealed:
            token = legacy_open(sealed)
            if not token:
                logger.warning("audit.stream_token_unreadable_dropped", extra={"organization_id": pk})
        stream["token_sealed"] = (
            stored_secrets.seal(token, organization_id=pk, purpose=stored_secrets.PURPOSE_AUDIT_STREAM_TOKEN)
            if token
            else ""
        )
        organization_model.objects.filter(pk=pk).update(settings=org_settings)


def backward(apps: Any, schema_editor: Any) -> None:
    # Back to the old format, each token sealed under the shared key again (the binding is lost with it).
    organization_model = apps.get_model("tenancy", "Organization")
    legacy = _legacy_fernets()[0]
    for pk, org_settings in _http_streams(organization_model):
        stream = org_settings[CONFIG_KEY]
        sealed = str(stream.get("token_sealed") or "")
        if not sealed.startswith(stored_secrets.PREFIX):
            continue
        token = stored_secrets.unseal_or_empty(
            sealed, organization_id=pk, purpose=stored_secrets.PURPOSE_AUDIT_STREAM_TOKEN
        )
        stream["token_sealed"] = legacy.encrypt(token.encode()).decode() if token else ""
        organization_model.objects.filter(pk=pk).update(settings=org_settings)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_subjects_and_time_ordered_indexes"),
        ("tenancy", "0005_api_token_resolve"),
    ]

    operations = [migrations.RunPython(forward, backward)]
