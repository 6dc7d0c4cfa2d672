"""Event MACs: made by the writer as it records an event, checked by the sealer before it seals one and by every
verifier. The key never reaches the database (audit.signing.event_mac_key), so whoever can only write rows there
cannot make an event that passes, whatever they do to the counters."""

import hashlib
import hmac
import json
import secrets
from typing import Any

from audit import chain, signing
from audit.models import AuditEvent

_MAC_SINCE_CONTEXT = b"annotate.audit-mac-since.v1\n"


def event_mac_for(event: AuditEvent) -> str:
    """The MAC of an event about to be written (its sequence is not known yet, nor needed: chain.MAC_FIELDS)."""
    document = {field: getattr(event, field) for field in chain.MAC_FIELDS}
    document["occurred_at"] = chain.format_time(event.occurred_at)
    # As they will read back: JSON's own types only (tuples become lists, keys strings), numbers as jsonb keeps them.
    document["changes"] = chain.as_stored(json.loads(json.dumps(event.changes)))
    document["metadata"] = chain.as_stored(json.loads(json.dumps(event.metadata)))
    nonce = secrets.token_hex(chain.MAC_NONCE_HEX // 2)
    return chain.event_mac(signing.event_mac_key(event.organization_id), document, nonce)


def row_mac_matches(organization_id: int, row: dict[str, Any]) -> bool:
    """True when an event as read back (`values()` of chain.MAC_FIELDS and `mac`) carries its valid MAC."""
    document = {**row, "occurred_at": chain.format_time(row["occurred_at"])}
    return chain.event_mac_matches(signing.event_mac_key(organization_id), document)


def mac_since_mac(organization_id: int, category: str, mac_since: int) -> str:
    """The MAC of a counter's `mac_since`: the record that events numbered below it were written without one."""
    body = chain.canonical({"category": category, "mac_since": mac_since})
    return hmac.new(signing.event_mac_key(organization_id), _MAC_SINCE_CONTEXT + body, hashlib.sha256).hexdigest()


def mac_since_vouched(organization_id: int, category: str, mac_since: int, tag: str) -> int:
    """The first number that needs a MAC: `mac_since` when its own MAC holds, else 1 (every event needs one)."""
    if mac_since > 1 and hmac.compare_digest(tag, mac_since_mac(organization_id, category, mac_since)):
        return mac_since
    return 1
