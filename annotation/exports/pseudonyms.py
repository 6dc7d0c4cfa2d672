"""Pseudonymous annotator ids: the same member always gets the same id in one organization's exports, no two
organizations can link theirs, and nobody without the platform's secret key can tell who is behind one."""

import uuid

from django.utils.crypto import salted_hmac

PREFIX = "annotator-"


def annotator_pseudonym(*, organization_uuid: uuid.UUID | str, membership_uuid: uuid.UUID | str) -> str:
    """`annotator-<16 hex>`: an HMAC-SHA256 of the membership's id, keyed by SECRET_KEY salted with the
    organization. Never the email or name; stable while SECRET_KEY is (rotating it renames every annotator)."""
    digest = salted_hmac(
        f"annotate.exports.annotator:{organization_uuid}", str(membership_uuid), algorithm="sha256"
    ).hexdigest()
    return PREFIX + digest[:16]
