"""The hash chain and checkpoint format, in plain Python (no Django), so an exported trail verifies offline.

Each organization keeps one chain per category. An event's hash is SHA-256 over the previous event's hash and the
event's canonical JSON; a checkpoint signs the head of the chain after its last event and links to the checkpoint
before it by digest.
"""

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64

# The fields an event is hashed over, in the form the database returns them and an export writes them.
EVENT_FIELDS = (
    "organization",
    "category",
    "sequence",
    "occurred_at",
    "action",
    "outcome",
    "actor_user_id",
    "actor_label",
    "actor_token_prefix",
    "ip",
    "user_agent",
    "request_id",
    "target_type",
    "target_id",
    "changes",
    "metadata",
)


TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_time(moment: datetime) -> str:
    """Times are hashed and exported in one fixed UTC form, microseconds always present."""
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def canonical(value: Any) -> bytes:
    """One byte string per value: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def event_hash(previous: str, event: Mapping[str, Any]) -> str:
    """The chain hash of `event` following the hash `previous` (hex)."""
    body = canonical({field: event.get(field) for field in EVENT_FIELDS})
    return hashlib.sha256(bytes.fromhex(previous) + body).hexdigest()


CHECKPOINT_FIELDS = (
    "organization",
    "category",
    "first_sequence",
    "last_sequence",
    "prev_head",
    "head",
    "previous_digest",
    "sealed_at",
    "key_id",
)


def checkpoint_payload(checkpoint: Mapping[str, Any]) -> bytes:
    """What a checkpoint's signature covers."""
    return canonical({field: checkpoint.get(field) for field in CHECKPOINT_FIELDS})


def checkpoint_digest(checkpoint: Mapping[str, Any]) -> str:
    """The id the next checkpoint links back to."""
    return hashlib.sha256(checkpoint_payload(checkpoint)).hexdigest()


def key_id(public_key_raw: bytes) -> str:
    return hashlib.sha256(public_key_raw).hexdigest()[:16]


def verify_signature(public_key_raw: bytes, checkpoint: Mapping[str, Any]) -> bool:
    """True when the checkpoint's signature is valid under this Ed25519 public key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        signature = base64.b64decode(str(checkpoint.get("signature", "")), validate=True)
        Ed25519PublicKey.from_public_bytes(public_key_raw).verify(signature, checkpoint_payload(checkpoint))
    except (InvalidSignature, ValueError):
        return False
    return True
