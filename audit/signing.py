"""The keys of the audit trail, none of them in the database: the Ed25519 key that signs checkpoints (from
settings, or generated once for the embedded default) and the per-organization keys that MAC each event."""

import base64
import functools
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from audit.chain import key_id


def _load_private(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ImproperlyConfigured("AUDIT_SIGNING_KEY must be an Ed25519 key.")
        return key
    try:
        seed = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ImproperlyConfigured("AUDIT_SIGNING_KEY must be a PEM key or the base64 of a 32-byte seed.") from exc
    if len(seed) != 32:
        raise ImproperlyConfigured("AUDIT_SIGNING_KEY must be the base64 of a 32-byte Ed25519 seed.")
    return Ed25519PrivateKey.from_private_bytes(seed)


def _generated_key_file(path: Path) -> str:
    """Create the key file once, readable only by its owner; the database never holds the private key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        seed = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(seed).decode())
    return path.read_text()


@functools.cache
def signing_key() -> Ed25519PrivateKey:
    configured = str(getattr(settings, "AUDIT_SIGNING_KEY", "") or "")
    if configured:
        return _load_private(configured)
    key_file = str(getattr(settings, "AUDIT_SIGNING_KEY_FILE", "") or "")
    if not key_file:
        raise ImproperlyConfigured("Set AUDIT_SIGNING_KEY or AUDIT_SIGNING_KEY_FILE to sign audit checkpoints.")
    return _load_private(_generated_key_file(Path(key_file)))


def public_key_raw(key: Ed25519PublicKey | None = None) -> bytes:
    key = key or signing_key().public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_pem() -> str:
    return (
        signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def current_key_id() -> str:
    return key_id(public_key_raw())


def trusted_public_keys() -> dict[str, bytes]:
    """Key id → raw public key: the current key and any retired ones still needed to verify old checkpoints."""
    keys = {current_key_id(): public_key_raw()}
    for pem in getattr(settings, "AUDIT_RETIRED_PUBLIC_KEYS", []) or []:
        loaded = serialization.load_pem_public_key(pem.encode())
        if isinstance(loaded, Ed25519PublicKey):
            raw = public_key_raw(loaded)
            keys[key_id(raw)] = raw
    return keys


def sign(payload: bytes) -> str:
    return base64.b64encode(signing_key().sign(payload)).decode()


# --- event MACs ---

_MAC_SALT = b"annotate.audit-event-mac"


@functools.cache
def _event_mac_master() -> bytes:
    """AUDIT_EVENT_MAC_KEY when set; otherwise the signing key's seed, so that no second secret has to be kept."""
    configured = str(getattr(settings, "AUDIT_EVENT_MAC_KEY", "") or "").strip()
    if not configured:
        return signing_key().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
    try:
        master = base64.b64decode(configured, validate=True)
    except ValueError as exc:
        raise ImproperlyConfigured("AUDIT_EVENT_MAC_KEY must be the base64 of at least 32 random bytes.") from exc
    if len(master) < 32:
        raise ImproperlyConfigured("AUDIT_EVENT_MAC_KEY must be the base64 of at least 32 random bytes.")
    return master


@functools.lru_cache(maxsize=4096)
def event_mac_key(organization_id: int) -> bytes:
    """The key that MACs the events of one organization (HKDF-SHA256 of the master): one organization's key, handed
    to its auditor for offline checks, says nothing about another's."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=_MAC_SALT, info=f"organization:{organization_id}".encode()
    ).derive(_event_mac_master())
