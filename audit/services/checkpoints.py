"""A copy of every checkpoint outside the database, in an S3 bucket (ideally under Object Lock), so that whoever
controls the database cannot also quietly rewrite or drop the signed history."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from audit import chain, signing
from audit.models import AuditCheckpoint
from audit.services.sealing import checkpoint_document
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


def checkpoint_export_by_id(checkpoint_id: int) -> str:
    """Copy one checkpoint of the organization in context to the checkpoint bucket (the worker's entry)."""
    checkpoint = AuditCheckpoint.objects.select_related("organization").get(pk=checkpoint_id)
    return checkpoint_export(organization=checkpoint.organization, checkpoint=checkpoint)


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


# --- the comparison: is the database's signed history the one the bucket holds? ---

# A checkpoint sealed this recently may still be on its way to the bucket (the copy is a task queued on commit).
COPY_GRACE = timedelta(minutes=10)


@dataclass(frozen=True)
class AnchorDifference:
    """One checkpoint on which the database and its copy in the bucket disagree."""

    category: str
    last_sequence: int
    problem: str


@dataclass
class AnchorReport:
    compared: int = 0
    pending: int = 0
    differences: list[AnchorDifference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def _copies(client: Any, bucket: str, prefix: str) -> Iterator[tuple[int, str]]:
    """(last sequence, key) of the copies under one category's prefix, in chain order (keys are zero-padded)."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            name = str(item["Key"])[len(prefix) :]
            if name.endswith(".json") and name[:-5].isdigit():
                yield int(name[:-5]), str(item["Key"])


def _copy_categories(client: Any, bucket: str, prefix: str) -> set[str]:
    found: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        found.update(str(p["Prefix"])[len(prefix) :].strip("/") for p in page.get("CommonPrefixes", []))
    return found


def _compare_one(database: dict[str, Any] | None, copy: dict[str, Any]) -> str | None:
    """What is wrong with one copy, against the database's checkpoint of the same end (None: it has none)."""
    trusted = signing.trusted_public_keys().get(str(copy.get("key_id")))
    if (
        trusted is None
        or not chain.verify_signature(trusted, copy)
        or chain.checkpoint_digest(copy) != copy.get("digest")
    ):
        return "has a copy in the bucket that no trusted key signed"
    if database is None:
        return "is in the bucket but not in the database: it was removed from the database"
    differing = sorted(name for name in set(database) | set(copy) if database.get(name) != copy.get(name))
    if differing:
        return f"differs between the database and the bucket in {', '.join(differing)}"
    return None


def checkpoint_copies_compare(*, organization: Organization, category: str | None = None) -> AnchorReport:
    """Compare the organization's signed checkpoints in the database with their copies in the checkpoint bucket,
    one category chain at a time, both sides in chain order (memory stays flat however long the history).

    The bucket (under Object Lock) is what whoever controls the database cannot rewrite: a checkpoint that was
    altered, re-signed with the head moved, or removed in the database no longer matches its copy.
    """
    bucket = checkpoint_bucket()
    if not bucket:
        raise RuntimeError("AUDIT_CHECKPOINT_BUCKET is not set; there are no copies to compare with.")
    client = _client()
    base = f"{checkpoint_prefix()}/{organization.uuid}/"
    categories = set(AuditCheckpoint.objects.values_list("category", flat=True).distinct())
    categories |= _copy_categories(client, bucket, base)
    report = AnchorReport()
    recent = timezone.now() - COPY_GRACE
    uuid = str(organization.uuid)
    for name in sorted(categories):
        if category is not None and name != category:
            continue
        in_database = AuditCheckpoint.objects.filter(category=name).order_by("last_sequence").iterator(chunk_size=500)
        in_bucket = _copies(client, bucket, f"{base}{name}/")
        checkpoint, copy = next(in_database, None), next(in_bucket, None)
        while checkpoint is not None or copy is not None:
            if copy is None or (checkpoint is not None and checkpoint.last_sequence < copy[0]):
                assert checkpoint is not None
                if checkpoint.sealed_at >= recent:
                    report.pending += 1
                else:
                    _add(report, name, checkpoint.last_sequence, "is in the database but not in the bucket")
                checkpoint = next(in_database, None)
                continue
            document = json.loads(client.get_object(Bucket=bucket, Key=copy[1])["Body"].read())
            matched = checkpoint is not None and checkpoint.last_sequence == copy[0]
            database = checkpoint_document(uuid, checkpoint) if matched and checkpoint is not None else None
            report.compared += 1
            problem = _compare_one(database, document)
            if problem:
                _add(report, name, copy[0], problem)
            if matched:
                checkpoint = next(in_database, None)
            copy = next(in_bucket, None)
    return report


def _add(report: AnchorReport, category: str, last_sequence: int, problem: str) -> None:
    report.differences.append(
        AnchorDifference(category, last_sequence, f"Checkpoint {category} through #{last_sequence} {problem}.")
    )
