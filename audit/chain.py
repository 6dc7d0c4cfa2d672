"""The hash chain and checkpoint format, in plain Python (no Django), so an exported trail verifies offline.

Each organization keeps one chain per category. An event's hash is SHA-256 over the previous event's hash and the
event's canonical JSON; a checkpoint signs the head of the chain after its last event and links to the checkpoint
before it by digest.
"""

import base64
import functools
import hashlib
import hmac
import ipaddress
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
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


# What an event's MAC covers: every hashed field but two. The organization is left out because each organization
# has a MAC key of its own (audit.signing.event_mac_key), which binds the event to it. The sequence is left out
# because the database gives it out in the very statement that writes the event, after the MAC is made; a second
# round trip to learn it first would hold the category's counter lock (every writer's queue) for that much
# longer. What the sequence would have caught, a genuine event copied to another number, is caught instead by
# its MAC appearing twice (audit.services.integrity); a random nonce under the MAC keeps two genuine events of identical
# content and instant from ever sharing one.
MAC_FIELDS = tuple(field for field in EVENT_FIELDS if field not in ("organization", "sequence"))
MAC_CONTEXT = b"annotate.audit-event-mac.v1\n"
MAC_NONCE_HEX = 32


def as_stored(value: Any) -> Any:
    """A JSON value (as json.loads gives it) as PostgreSQL's jsonb gives it back, for the writer to MAC what will be
    read: jsonb keeps numbers as decimals, so a float written in exponent form that is a whole number (1e+16) comes
    back as an integer, and -0.0 as 0.0. Everything else survives the round trip, and a value read back is already
    in this form, so readers need no such step."""
    if isinstance(value, float):
        text = repr(value)
        if "e" in text:
            exact = Decimal(text)
            if exact == exact.to_integral_value():
                return int(exact)
        return 0.0 if value == 0 else value
    if isinstance(value, dict):
        return {key: as_stored(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_stored(item) for item in value]
    return value


@functools.lru_cache(maxsize=4096)
def _address(value: str) -> str:
    """One text form per address, whichever way PostgreSQL's inet or the request wrote it (few addresses recur
    across many events, so each is parsed once)."""
    return str(ipaddress.ip_address(value))


def event_mac(key: bytes, event: Mapping[str, Any], nonce: str) -> str:
    """`<nonce>.<HMAC-SHA256 hex>` of an event under its organization's MAC key, over the nonce and MAC_FIELDS of
    its document (`occurred_at` in TIME_FORMAT; `changes` and `metadata` as read back: see as_stored), the same
    whether taken from the event about to be written or read back."""
    document = {field: event.get(field) for field in MAC_FIELDS}
    ip = document["ip"]
    document["ip"] = _address(str(ip)) if ip not in (None, "") else None
    body = MAC_CONTEXT + nonce.encode() + b"\n" + canonical(document)
    return f"{nonce}.{hmac.new(key, body, hashlib.sha256).hexdigest()}"


def event_mac_matches(key: bytes, event: Mapping[str, Any]) -> bool:
    """True when the event carries the MAC its content calls for under `key`."""
    given = str(event.get("mac") or "")
    nonce, _, _ = given.partition(".")
    if len(nonce) != MAC_NONCE_HEX:
        return False
    return hmac.compare_digest(given, event_mac(key, event, nonce))


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
