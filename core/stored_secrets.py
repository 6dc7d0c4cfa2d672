"""Secrets the platform keeps to act for an organization (a SIEM's bearer token, an S3 secret key): sealed at rest.

A sealed value is bound to the organization it belongs to and to what it is for. Moved to another organization (by
an API client, a database copy, a confused service) or to another purpose, it no longer opens: the secret of one
tenant can never be delivered on behalf of another.

How: AES-256-GCM under one key derived from SECRET_KEY (HKDF, for this use alone), with the organization's id and
the purpose as associated data. The AEAD authenticates the associated data, so the binding cannot be stripped or
edited without the key, and a value sealed for (organization 7, stream token) fails to open as anything else. One
key with the binding in the associated data was chosen over a key per organization because it says what is bound
in one place, readable at the call, and costs one derivation; random 96-bit nonces stay far below GCM's limit of
2^32 messages per key at the number of secrets an installation stores.

Sealed values are written by the server from a secret sent in clear, and never leave it: no API accepts one from a
client and none returns one. Settings documents name a sealed field `<name>_sealed`; readers see `<name>_set`.
SECRET_KEY_FALLBACKS are tried when opening, so a rotated SECRET_KEY keeps stored secrets readable until they are
set again.
"""

import base64
import binascii
import logging
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

logger = logging.getLogger(__name__)

# The format's version leads the value, so that a later format can be told apart (and migrated) by its prefix.
PREFIX = "sealed.v1."
SEALED_SUFFIX = "_sealed"
SHOWN_SUFFIX = "_set"
_NONCE_BYTES = 12

# What a secret is for; part of the associated data, so a secret sealed for one use never opens as another.
PURPOSE_AUDIT_STREAM_TOKEN = "audit.stream.token"  # noqa: S105 - a purpose label, not a secret
PURPOSE_STORAGE_SECRET_KEY = "storage.secret_access_key"  # noqa: S105 - a purpose label, not a secret
PURPOSE_MODEL_API_KEY = "model_connection.api_key"


class SecretUnreadable(Exception):
    """A sealed value that does not open here: sealed for another organization or purpose, altered, or sealed
    under a SECRET_KEY that is neither the current one nor a fallback."""


def _key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"annotate.stored-secrets.v1").derive(
        secret_key.encode()
    )


def _associated_data(organization_id: int, purpose: str) -> bytes:
    if not isinstance(organization_id, int) or isinstance(organization_id, bool) or organization_id <= 0:
        raise ValueError("a stored secret is bound to an organization's id")
    return f"annotate.stored-secret\x00{purpose}\x00organization:{organization_id}".encode()


def seal(plaintext: str, *, organization_id: int, purpose: str) -> str:
    """The secret, encrypted and bound to the organization and purpose, as text fit for a column or a JSON value."""
    nonce = os.urandom(_NONCE_BYTES)
    ciphertext = AESGCM(_key(settings.SECRET_KEY)).encrypt(
        nonce, plaintext.encode(), _associated_data(organization_id, purpose)
    )
    return PREFIX + base64.urlsafe_b64encode(nonce + ciphertext).decode()


def unseal(sealed: str, *, organization_id: int, purpose: str) -> str:
    """The secret in clear, for the one outbound call that needs it; SecretUnreadable if it is not this one's."""
    associated = _associated_data(organization_id, purpose)
    if not sealed.startswith(PREFIX):
        raise SecretUnreadable("not a sealed value of this platform")
    try:
        raw = base64.urlsafe_b64decode(sealed[len(PREFIX) :].encode())
    except (binascii.Error, ValueError) as exc:
        raise SecretUnreadable("malformed sealed value") from exc
    nonce, ciphertext = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
    if len(nonce) != _NONCE_BYTES or not ciphertext:
        raise SecretUnreadable("malformed sealed value")
    for secret_key in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        try:
            return AESGCM(_key(secret_key)).decrypt(nonce, ciphertext, associated).decode()
        except InvalidTag:
            continue
    raise SecretUnreadable("sealed for another organization or purpose, altered, or under another SECRET_KEY")


def unseal_or_empty(sealed: str, *, organization_id: int, purpose: str) -> str:
    """The secret in clear; '' when none is stored or it does not open here (logged, never raised)."""
    if not sealed:
        return ""
    try:
        return unseal(sealed, organization_id=organization_id, purpose=purpose)
    except SecretUnreadable:
        # Used without the secret (the receiver will refuse) rather than not at all; the log says why.
        logger.warning("stored_secret.unreadable", extra={"organization_id": organization_id, "purpose": purpose})
        return ""


# --- sealed fields in settings documents ---


def sealed_fields_hidden(value: Any) -> Any:
    """A settings document as readers see it: every `<name>_sealed` field replaced by `<name>_set` (a boolean)."""
    if isinstance(value, dict):
        shown: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and key.endswith(SEALED_SUFFIX):
                shown[key.removesuffix(SEALED_SUFFIX) + SHOWN_SUFFIX] = bool(item)
            else:
                shown[key] = sealed_fields_hidden(item)
        return shown
    if isinstance(value, list):
        return [sealed_fields_hidden(item) for item in value]
    return value


def sealed_field_paths(value: Any, path: str = "") -> list[str]:
    """Where a document from a client carries a `<name>_sealed` field (which no client may write), as dotted paths."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and key.endswith(SEALED_SUFFIX):
                found.append(here)
            else:
                found.extend(sealed_field_paths(item, here))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(sealed_field_paths(item, f"{path}[{index}]"))
    return found
