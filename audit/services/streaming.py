"""Streaming the audit trail to an organization's SIEM: JSON lines over HTTP(S), or RFC 5424 syslog over TCP.

Delivery is at least once. Each (organization, category) has a cursor, the last sequence the receiver acknowledged
(HTTP 2xx, or the TCP write completed). A batch is read after the cursor, sent, and the cursor advanced in the same
short transaction that locked it; a crash anywhere before that commit leaves the cursor where it was, so the batch is
sent again on restart (duplicates possible, never a gap). Sequences of a category commit in order, so "everything
after the cursor" is always a contiguous run. Receivers deduplicate by `event_id`, which is stable across resends.

Destinations are vetted by core.outbound on every delivery (and when configured), never trusted from storage.
An HTTP destination's bearer token is sent in clear by its owner and stored sealed for that organization alone
(core.stored_secrets): readers see `token_set`, and no client can hand a sealed value back.
"""

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction

from audit import permissions, sql
from audit.models import AuditEvent, AuditSequence, AuditStreamCursor
from audit.services.sealing import EVENT_COLUMNS, event_document
from audit.services.verification import expired_through
from core import outbound, stored_secrets
from core.audit.record import audit_record
from core.context import organization_context
from core.errors import FieldError, InvalidInput
from tenancy.models import Membership, Organization
from tenancy.permissions import check

logger = logging.getLogger(__name__)

CONFIG_KEY = "audit_stream"
KINDS = ("http", "syslog")
FRAMINGS = ("octet", "newline")
SYSLOG_FACILITY_AUDIT = 13  # "log audit" (RFC 5424, table 1)
_SEVERITY = {"success": 6, "denied": 4, "failure": 3}  # informational, warning, error
_PRINTABLE = re.compile(r"[^\x21-\x7e]")


# --- settings (typed accessors) ---


def batch_size() -> int:
    return max(1, int(getattr(settings, "AUDIT_STREAM_BATCH_SIZE", 500)))


def default_url() -> str:
    return str(getattr(settings, "AUDIT_STREAM_URL", "") or "")


def default_token() -> str:
    return str(getattr(settings, "AUDIT_STREAM_TOKEN", "") or "")


# --- destinations ---


@dataclass(frozen=True)
class Destination:
    """Where one organization's events go."""

    kind: str  # http | syslog
    url: str = ""
    token: str = field(default="", repr=False)
    host: str = ""
    port: int = 0
    framing: str = "octet"
    tls: bool = False


def _seal_token(token: str, organization_id: int) -> str:
    return stored_secrets.seal(
        token, organization_id=organization_id, purpose=stored_secrets.PURPOSE_AUDIT_STREAM_TOKEN
    )


def _unseal_token(sealed: str, organization_id: int) -> str:
    # Unreadable (another organization's, or SECRET_KEY rotated with no fallback): stream without the header
    # rather than not at all; the receiver will say 401, and the log says why.
    return stored_secrets.unseal_or_empty(
        sealed, organization_id=organization_id, purpose=stored_secrets.PURPOSE_AUDIT_STREAM_TOKEN
    )


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme, (parts.hostname or "").lower(), port or (443 if parts.scheme == "https" else 80)


def _invalid(field_name: str, message: str) -> InvalidInput:
    return InvalidInput(
        "The audit stream configuration is invalid.", errors=[FieldError(f"{CONFIG_KEY}.{field_name}", message)]
    )


def _syslog_from_url(url: str) -> Destination:
    parts = urlsplit(url)
    try:
        port = parts.port or 0
    except ValueError as exc:
        raise _invalid("url", "The port is not a number.") from exc
    return Destination(kind="syslog", host=parts.hostname or "", port=port, tls=parts.scheme == "syslog+tls")


def default_destination() -> Destination | None:
    """The operator-wide destination (AUDIT_STREAM_URL), for organizations that configure none."""
    url = default_url()
    if not url:
        return None
    if url.startswith(("syslog+tcp://", "syslog+tls://")):
        return _syslog_from_url(url)
    return Destination(kind="http", url=url, token=default_token())


def audit_stream_config_clean(
    raw: Any, *, organization: Organization, current: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Validate an organization's stream configuration and return it as stored (a plain token gets sealed).

    The token is write-only: a string sets it, null removes it, and without one (or with `token_set`, as read) the
    stored token stays, as long as the URL keeps its origin: a secret meant for one receiver never follows the stream
    to another (as core.outbound drops credentials on a cross-origin redirect). A sealed value is never taken.

    The destination is resolved and vetted now, so a refused address is a 400 at configuration time; delivery vets
    it again each time, since DNS answers change.
    """
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _invalid("kind", "Expected an object with a 'kind' of http or syslog, or null to stop streaming.")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise _invalid("kind", "Must be 'http' or 'syslog'.")
    known = {"kind", "enabled"} | (
        {"url", "token", "token_set"} if kind == "http" else {"host", "port", "framing", "tls"}
    )
    unknown = sorted(set(raw) - known)
    if unknown:
        raise _invalid(unknown[0], "Unknown field.")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _invalid("enabled", "Must be true or false.")
    cleaned: dict[str, Any] = {"kind": kind, "enabled": enabled}
    try:
        if kind == "http":
            url = raw.get("url")
            if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                raise _invalid("url", "Must be an http:// or https:// URL.")
            target = outbound._parse(url)
            outbound.resolve(target.host, target.port)
            cleaned["url"] = url
            # Stored even when empty, so that readers always see `token_set` for an HTTP destination.
            cleaned["token_sealed"] = _token_kept_or_new(raw, url, organization, current)
        else:
            host, port = raw.get("host"), raw.get("port")
            if not isinstance(host, str) or not host or len(host) > 253:
                raise _invalid("host", "Must be a host name or address.")
            if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
                raise _invalid("port", "Must be a port number between 1 and 65535.")
            framing = raw.get("framing", "octet")
            if framing not in FRAMINGS:
                raise _invalid("framing", "Must be 'octet' (RFC 6587 octet counting) or 'newline'.")
            tls = raw.get("tls", False)
            if not isinstance(tls, bool):
                raise _invalid("tls", "Must be true or false.")
            outbound.resolve(host, port)
            cleaned.update({"host": host, "port": port, "framing": framing, "tls": tls})
    except outbound.OutboundError as exc:
        raise _invalid("url" if kind == "http" else "host", str(exc)) from exc
    return cleaned


def _token_kept_or_new(
    raw: dict[str, Any], url: str, organization: Organization, current: dict[str, Any] | None
) -> str:
    """The sealed token to store with an HTTP destination: a new one, the current one, or '' for none."""
    if "token" in raw:
        token = raw["token"]
        if token is None:
            return ""
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise _invalid("token", "Must be a non-empty string, or null to stream without one.")
        return _seal_token(token, organization.pk)
    shown = raw.get("token_set")
    if shown is not None and not isinstance(shown, bool):
        raise _invalid("token_set", "Must be true or false (it is read-only: send `token` to change the token).")
    stored: dict[str, Any] = current if isinstance(current, dict) and current.get("kind") == "http" else {}
    kept = str(stored.get("token_sealed") or "")
    if shown is False or not kept:
        return ""
    if _origin(str(stored.get("url", ""))) != _origin(url):
        raise _invalid(
            "token",
            "The token never follows the stream to another origin: send it again, or null to stream without one.",
        )
    return kept


def destination_for(organization: Organization) -> Destination | None:
    """The organization's own destination, else the operator's default; None when nothing is configured."""
    config = (organization.settings or {}).get(CONFIG_KEY)
    if isinstance(config, dict):
        if not config.get("enabled", True):
            return None
        if config.get("kind") == "http":
            sealed = str(config.get("token_sealed") or "")
            return Destination(
                kind="http", url=str(config.get("url", "")), token=_unseal_token(sealed, organization.pk)
            )
        if config.get("kind") == "syslog":
            return Destination(
                kind="syslog",
                host=str(config.get("host", "")),
                port=int(config.get("port", 0)),
                framing=str(config.get("framing", "octet")),
                tls=bool(config.get("tls", False)),
            )
    return default_destination()


def audit_stream_configure(
    *, actor: Membership, organization: Organization, config: dict[str, Any] | None
) -> Organization:
    """Set (or, with None, remove) where the organization's audit trail is streamed. Owners only."""
    check(permissions.audit_stream_configure(actor))
    before = (organization.settings or {}).get(CONFIG_KEY)
    cleaned = audit_stream_config_clean(config, organization=organization, current=before)
    new_settings = {k: v for k, v in (organization.settings or {}).items() if k != CONFIG_KEY}
    if cleaned is not None:
        new_settings[CONFIG_KEY] = cleaned
    with transaction.atomic():
        organization.settings = new_settings
        organization.save(update_fields=["settings"])
        audit_record(action="audit.stream_configure", target=organization, changes={CONFIG_KEY: [before, cleaned]})
    return organization


# --- wire formats ---


def stream_document(organization: Organization, row: dict[str, Any]) -> dict[str, Any]:
    """The event as hashed (event_document), plus a stable id for deduplication and the organization's slug."""
    document = event_document(str(organization.uuid), row)
    document["event_id"] = f"{organization.uuid}:{row['category']}:{row['sequence']}"
    document["org"] = organization.slug
    return document


def json_line(document: dict[str, Any]) -> bytes:
    # json escapes control characters inside strings, so a document is always exactly one line.
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _syslog_hostname() -> str:
    host = urlsplit(str(getattr(settings, "PUBLIC_URL", ""))).hostname or ""
    host = _PRINTABLE.sub("", host)[:255]
    return host or "-"


def syslog_frame(document: dict[str, Any], *, framing: str = "octet", hostname: str = "-") -> bytes:
    """One RFC 5424 message (facility log audit), framed by octet counting (RFC 6587) or a trailing newline."""
    severity = _SEVERITY.get(str(document.get("outcome")), 6)
    msgid = _PRINTABLE.sub("", str(document.get("action") or ""))[:32] or "-"
    header = f"<{SYSLOG_FACILITY_AUDIT * 8 + severity}>1 {document['occurred_at']} {hostname} annotate - {msgid} - "
    message = header.encode() + json_line(document)
    if framing == "newline":
        return message + b"\n"
    return f"{len(message)} ".encode() + message


def _deliver(destination: Destination, documents: list[dict[str, Any]]) -> None:
    """Send one batch; returns only once the receiver acknowledged it, raises OutboundError otherwise."""
    if destination.kind == "http":
        headers = {"Content-Type": "application/x-ndjson", "User-Agent": "annotate-audit-stream/1"}
        if destination.token:
            headers["Authorization"] = f"Bearer {destination.token}"
        body = b"".join(json_line(document) + b"\n" for document in documents)
        response = outbound.request("POST", destination.url, body=body, headers=headers)
        if not response.ok:
            raise outbound.OutboundError(f"The audit stream receiver answered HTTP {response.status}.")
        return
    hostname = _syslog_hostname()
    payload = b"".join(syslog_frame(d, framing=destination.framing, hostname=hostname) for d in documents)
    sock = outbound.open_tcp(destination.host, destination.port, tls=destination.tls)
    try:
        sock.sendall(payload)
    except OSError as exc:
        raise outbound.OutboundError(f"Writing to {destination.host}:{destination.port} failed.") from exc
    finally:
        sock.close()


# --- the streamer ---


@dataclass
class StreamResult:
    events: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)


def stream_cursor_lock(organization_id: int, category: str) -> AuditStreamCursor | None:
    """The category's cursor, row-locked until the batch's transaction ends; None if another streamer has it."""
    with connection.cursor() as cursor:
        cursor.execute(sql.STREAM_CURSOR_ENSURE, {"organization": organization_id, "category": category})
    return AuditStreamCursor.objects.select_for_update(skip_locked=True).filter(category=category).first()


def _stream_batch(organization: Organization, category: str, destination: Destination, limit: int) -> int:
    """Deliver the next batch of one category and advance its cursor; runs inside the caller's transaction."""
    cursor = stream_cursor_lock(organization.pk, category)
    if cursor is None:
        return 0
    rows = list(
        AuditEvent.objects.filter(category=category, sequence__gt=cursor.last_sequence)
        .order_by("sequence")
        .values(*EVENT_COLUMNS)[:limit]
    )
    expected = cursor.last_sequence + 1
    if rows and rows[0]["sequence"] != expected and expected <= expired_through().get(category, 0):
        expected = rows[0]["sequence"]  # the events in between were removed by retention, legitimately
    contiguous = []
    for row in rows:
        if row["sequence"] != expected:
            logger.error(
                "audit.stream_gap",
                extra={"organization_id": organization.pk, "category": category, "missing_sequence": expected},
            )
            break
        contiguous.append(row)
        expected += 1
    if not contiguous:
        return 0
    _deliver(destination, [stream_document(organization, row) for row in contiguous])
    cursor.last_sequence = contiguous[-1]["sequence"]
    cursor.save(update_fields=["last_sequence", "updated_at"])
    return len(contiguous)


def audit_stream_organization(*, organization_id: int, max_batches: int | None = None) -> StreamResult:
    """Deliver an organization's undelivered events, category by category, one committed batch at a time.

    Each batch runs in its own tenant transaction so that its cursor is committed as soon as the receiver has
    acknowledged it: a crash later resends at most the batch in flight. A failing receiver stops that category
    for this run and the error is reported; the next run starts from the cursor again.
    """
    result = StreamResult()
    organization = Organization.objects.get(pk=organization_id)
    destination = destination_for(organization)
    if destination is None:
        return result
    limit = batch_size()
    with organization_context(organization_id):
        categories = sorted(AuditSequence.objects.values_list("category", flat=True))
    for category in categories:
        while max_batches is None or result.batches < max_batches:
            try:
                with organization_context(organization_id):
                    sent = _stream_batch(organization, category, destination, limit)
            except outbound.OutboundError as exc:
                logger.warning(
                    "audit.stream_failed",
                    extra={"organization": organization.slug, "category": category, "error": str(exc)},
                )
                result.errors.append(f"{category}: {exc}")
                break
            if sent == 0:
                break
            result.events += sent
            result.batches += 1
            logger.info(
                "audit.streamed", extra={"organization": organization.slug, "category": category, "events": sent}
            )
            if sent < limit:
                break
    return result


def organizations_to_stream() -> list[int]:
    """Ids of the organizations that have a destination (their own, or every one when the operator set one)."""
    # Platform scope: Organization is the tenant registry itself, not a tenant-owned table.
    organizations = Organization.objects.order_by("pk")
    if not default_url():
        organizations = organizations.filter(settings__has_key=CONFIG_KEY)
    return list(organizations.values_list("pk", flat=True))
