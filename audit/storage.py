"""A copy of every checkpoint outside the database, in an S3 bucket (ideally under Object Lock), so that whoever
controls the database cannot also quietly rewrite or drop the signed history."""

import json
from datetime import timedelta
from typing import Any

from django.conf import settings

from audit.models import AuditCheckpoint
from audit.sealing import checkpoint_document
from tenancy.models import Organization

# --- settings (typed accessors, defaults in one place) ---


def checkpoint_bucket() -> str:
    return str(getattr(settings, "AUDIT_CHECKPOINT_BUCKET", "") or "")


def checkpoint_prefix() -> str:
    return str(getattr(settings, "AUDIT_CHECKPOINT_PREFIX", "") or "audit-checkpoints").strip("/")


def object_lock_days() -> int:
    return int(getattr(settings, "AUDIT_CHECKPOINT_OBJECT_LOCK_DAYS", 0) or 0)


def _client() -> Any:
    import boto3  # type: ignore[import-untyped]  # boto3 ships no type information

    # The endpoint is the operator's own configuration, never tenant input, so it is not an SSRF surface.
    return boto3.client(
        "s3",
        endpoint_url=getattr(settings, "AUDIT_CHECKPOINT_S3_ENDPOINT_URL", "") or None,
        region_name=getattr(settings, "AUDIT_CHECKPOINT_S3_REGION", "") or None,
        aws_access_key_id=getattr(settings, "AUDIT_CHECKPOINT_S3_ACCESS_KEY_ID", "") or None,
        aws_secret_access_key=getattr(settings, "AUDIT_CHECKPOINT_S3_SECRET_ACCESS_KEY", "") or None,
    )


# --- the document ---


def checkpoint_object_key(organization: Organization, checkpoint: AuditCheckpoint) -> str:
    """`<prefix>/<org uuid>/<category>/<last_sequence, 12 digits>.json`: lexical order is chain order."""
    return f"{checkpoint_prefix()}/{organization.uuid}/{checkpoint.category}/{checkpoint.last_sequence:012d}.json"


def checkpoint_export(*, organization: Organization, checkpoint: AuditCheckpoint) -> str:
    """Write one checkpoint to the configured bucket (locked in compliance mode when asked); returns its key."""
    bucket = checkpoint_bucket()
    if not bucket:
        raise RuntimeError("AUDIT_CHECKPOINT_BUCKET is not set; there is nowhere to copy checkpoints to.")
    key = checkpoint_object_key(organization, checkpoint)
    body = json.dumps(checkpoint_document(str(organization.uuid), checkpoint), sort_keys=True, indent=2).encode()
    extra: dict[str, Any] = {}
    if days := object_lock_days():
        extra["ObjectLockMode"] = "COMPLIANCE"
        extra["ObjectLockRetainUntilDate"] = checkpoint.sealed_at + timedelta(days=days)
    # Writing the same checkpoint twice writes the same bytes: a retried task is harmless (a locked bucket keeps
    # both versions, identical).
    _client().put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", **extra)
    return key
