"""Verify an audit export offline, with the standard library and `cryptography` only (no Django, no database).

    python -m audit.offline_verify export.jsonl --public-key audit-key.pem

Checks, and names the first thing that fails (exit code 1), or prints OK (exit code 0):

- every checkpoint is signed by a given public key, matches its digest, and links to the checkpoint before it;
- the seals at a checkpoint's ends lead to its signed heads (`prev_head` before the first event, `head` after the
  last);
- every exported event, hashed after the seal of the event before it, gives its own seal.

An unfiltered export holds every event of each range, so this recomputes each chain from `prev_head` to the signed
`head`. A filtered export leaves events out: each exported event is still checked against the seals around it, and
the seals are tied to the signed heads at the ends of their ranges; events newer than the last checkpoint are
reported as unsealed (nothing signs them yet). Get the public key from the operator out of band: the copy in the
export's header is only used, with a warning, when none is given.

With `--mac-key` (the organization's event-MAC key, `manage.py audit_mac_key`), every unsealed event must also
carry its valid MAC, and no two events the same one: an event the platform did not write is named even before a
checkpoint covers it. Sealed events need no MAC check: the sealer checked each before sealing it.
"""

import argparse
import base64
import bisect
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit import chain

FORMAT_NAME = "annotate-audit-export"


class VerificationFailed(Exception):
    """The first check that failed, in words an auditor can act on."""


@dataclass
class Checkpoints:
    """Checkpoints of one category, ordered by first sequence."""

    items: list[dict[str, Any]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)

    def covering(self, sequence: int) -> dict[str, Any] | None:
        index = bisect.bisect_right(self.starts, sequence) - 1
        if index >= 0 and self.items[index]["last_sequence"] >= sequence:
            return self.items[index]
        return None


@dataclass
class Summary:
    events: int = 0
    unsealed: int = 0
    checkpoints: int = 0
    full_ranges: int = 0
    macs_checked: bool = False


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except ValueError as exc:
                raise VerificationFailed(f"line {number} is not JSON: {exc}") from exc
            if not isinstance(record, dict) or "type" not in record:
                raise VerificationFailed(f"line {number} is not an export record")
            yield number, record


def load_public_key(pem: bytes) -> bytes:
    """The raw Ed25519 public key of a PEM file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise VerificationFailed("the public key is not an Ed25519 key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _check_checkpoints(
    organization: str, by_category: dict[str, Checkpoints], keys: dict[str, bytes], seals: dict[tuple[str, int], str]
) -> int:
    count = 0
    for category, checkpoints in sorted(by_category.items()):
        previous: dict[str, Any] | None = None
        for checkpoint in checkpoints.items:
            count += 1
            span = f"checkpoint {category} {checkpoint['first_sequence']}..{checkpoint['last_sequence']}"
            if checkpoint.get("organization") != organization:
                raise VerificationFailed(f"{span} belongs to another organization")
            key = keys.get(str(checkpoint.get("key_id")))
            if key is None:
                raise VerificationFailed(f"{span} is signed by key {checkpoint.get('key_id')}, which was not given")
            if not chain.verify_signature(key, checkpoint):
                raise VerificationFailed(f"{span} has an invalid signature")
            if chain.checkpoint_digest(checkpoint) != checkpoint.get("digest"):
                raise VerificationFailed(f"{span} does not match its digest")
            first, last = checkpoint["first_sequence"], checkpoint["last_sequence"]
            if first == 1 and (checkpoint["prev_head"], checkpoint["previous_digest"]) != (chain.GENESIS, ""):
                raise VerificationFailed(f"{span} starts the chain but does not start from the genesis hash")
            if (
                previous is not None
                and previous["last_sequence"] + 1 == first
                and (checkpoint["prev_head"], checkpoint["previous_digest"]) != (previous["head"], previous["digest"])
            ):
                raise VerificationFailed(f"{span} does not follow the checkpoint before it")
            if (category, last) in seals and seals[(category, last)] != checkpoint["head"]:
                raise VerificationFailed(f"{span}: the seal of event {category} #{last} is not the signed head")
            if (category, first - 1) in seals and seals[(category, first - 1)] != checkpoint["prev_head"]:
                raise VerificationFailed(
                    f"{span}: the seal of event {category} #{first - 1} is not the signed previous head"
                )
            previous = checkpoint
    return count


def load_mac_key(text: str) -> bytes:
    """The organization's event-MAC key from its base64 form."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise VerificationFailed("the MAC key is not base64") from exc
    if len(key) != 32:
        raise VerificationFailed("the MAC key is not 32 bytes")
    return key


def verify_export(path: Path, public_keys: list[bytes], mac_key: bytes | None = None) -> Summary:
    """Verify the export at `path`; raises VerificationFailed naming the first failure."""
    header: dict[str, Any] | None = None
    by_category: dict[str, Checkpoints] = {}
    seals: dict[tuple[str, int], str] = {}
    for number, record in _records(path):
        kind = record["type"]
        if kind == "header":
            if header is not None:
                raise VerificationFailed(f"line {number}: a second header")
            header = record
        elif kind == "checkpoint":
            by_category.setdefault(record["category"], Checkpoints()).items.append(record)
        elif kind == "seal":
            seals[(record["category"], int(record["sequence"]))] = record["event_hash"]
    if header is None or header.get("format") != FORMAT_NAME:
        raise VerificationFailed(f"not an audit export: no {FORMAT_NAME} header")
    organization = str(header["organization"])
    if not public_keys:
        sys.stderr.write("warning: no --public-key given; trusting the key in the export's own header\n")
        public_keys = [load_public_key(str(header["public_key_pem"]).encode())]
    keys = {chain.key_id(raw): raw for raw in public_keys}
    for checkpoints in by_category.values():
        checkpoints.items.sort(key=lambda c: c["first_sequence"])
        checkpoints.starts = [c["first_sequence"] for c in checkpoints.items]
    summary = Summary(checkpoints=_check_checkpoints(organization, by_category, keys, seals))
    summary.macs_checked = mac_key is not None

    seen: dict[str, set[int]] = {}
    macs: dict[str, str] = {}
    for number, record in _records(path):
        if record["type"] != "event":
            continue
        category, sequence = str(record.get("category")), int(record.get("sequence") or 0)
        name = f"event {category} #{sequence} (line {number})"
        if record.get("organization") != organization:
            raise VerificationFailed(f"{name} belongs to another organization")
        numbers = seen.setdefault(category, set())
        if sequence in numbers:
            raise VerificationFailed(f"{name} appears twice")
        numbers.add(sequence)
        mac = str(record.get("mac") or "")
        if mac_key is not None and mac:
            if mac in macs:
                raise VerificationFailed(f"{name} is a copy of {macs[mac]}: it was not written by the platform")
            macs[mac] = name
        checkpoint = by_category.get(category, Checkpoints()).covering(sequence)
        if checkpoint is None:
            if mac_key is not None and not chain.event_mac_matches(mac_key, record):
                raise VerificationFailed(
                    f"{name} does not carry the platform's MAC: it was not written by the platform"
                )
            summary.unsealed += 1
            continue
        previous = (
            checkpoint["prev_head"] if sequence == checkpoint["first_sequence"] else seals.get((category, sequence - 1))
        )
        sealed = seals.get((category, sequence))
        if previous is None or sealed is None:
            raise VerificationFailed(f"{name}: the export lacks the seals needed to check it")
        if chain.event_hash(previous, record) != sealed:
            raise VerificationFailed(f"{name} does not match its seal: it was altered")
        summary.events += 1
    for category, checkpoints in by_category.items():
        numbers = seen.get(category, set())
        summary.full_ranges += sum(
            1
            for c in checkpoints.items
            if all(n in numbers for n in range(c["first_sequence"], c["last_sequence"] + 1))
        )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit.offline_verify", description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path, help="a JSONL export from GET /api/v1/audit/events/export")
    parser.add_argument(
        "--public-key",
        action="append",
        type=Path,
        default=[],
        help="an Ed25519 public key (PEM) that signs checkpoints; repeat for retired keys",
    )
    parser.add_argument(
        "--mac-key",
        type=Path,
        help="a file holding the organization's event-MAC key (base64), to authenticate events not sealed yet",
    )
    args = parser.parse_args(argv)
    try:
        keys = [load_public_key(path.read_bytes()) for path in args.public_key]
        mac_key = load_mac_key(args.mac_key.read_text()) if args.mac_key else None
        summary = verify_export(args.export, keys, mac_key)
    except (VerificationFailed, OSError, ValueError, KeyError, TypeError) as exc:
        sys.stdout.write(f"FAILED: {exc}\n")
        return 1
    sys.stdout.write(
        f"OK: {summary.events} events verified against {summary.checkpoints} signed checkpoints "
        f"({summary.full_ranges} complete ranges recomputed from prev_head to head); "
        f"{summary.unsealed} events not sealed yet"
        f"{', each carrying its valid MAC' if summary.macs_checked else ''}\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
