"""Secrets handed to people (API tokens, invitation links): generated once, stored only as digests."""

import base64
import hashlib
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

TOKEN_SCHEME = "ann"  # noqa: S105 - the public scheme prefix, not a secret


@dataclass(frozen=True)
class IssuedSecret:
    raw: str  # shown to the person once, never stored
    prefix: str  # stored and shown, so people can tell their tokens apart
    digest: str  # stored; what lookups match


def digest(raw: str) -> str:
    # The secrets carry 256 bits of entropy, so a fast hash is enough: nobody can enumerate the input space.
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token() -> IssuedSecret:
    prefix = secrets.token_hex(4)
    raw = f"{TOKEN_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    return IssuedSecret(raw=raw, prefix=prefix, digest=digest(raw))


def issue_invitation_key() -> IssuedSecret:
    raw = secrets.token_urlsafe(32)
    return IssuedSecret(raw=raw, prefix=raw[:6], digest=digest(raw))


def _fernet() -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"annotate.broker-secrets").derive(
        settings.SECRET_KEY.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal_for_broker(raw: str) -> str:
    """Encrypt a secret that must pass through the task broker, which is not a place to keep secrets."""
    return _fernet().encrypt(raw.encode()).decode()


def unseal_from_broker(sealed: str) -> str:
    return _fernet().decrypt(sealed.encode()).decode()


class ShownSecret(str):
    """A secret on its way into a page: it renders as itself, but its repr, which is what a log record or an error
    report prints of a template's context or a call's arguments, is masked. Django logs the whole context at DEBUG
    whenever a template looks up a variable it lacks."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'[secret]'"
