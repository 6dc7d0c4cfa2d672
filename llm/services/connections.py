"""Model connections and project budgets: created, changed and removed by admins, each change on the trail.

The API key is sealed at rest, bound to the organization and to this use (core.stored_secrets), and never returned;
the trail records that it changed, never its value. The endpoint is vetted when it is set (and again, by the
transport, before every call), so a connection can never be aimed at an address the operator has not allowed.
"""

import re
from typing import Any, cast
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import ProtectedError

from core import outbound, stored_secrets
from core.audit.record import audit_record
from core.context import current_organization_id
from core.errors import Conflict, ErrorList, FieldError, InvalidInput
from llm import config, permissions
from llm.client import PARAMETERS, Endpoint
from llm.models import ModelBudget, ModelConnection
from projects.models import Project
from tenancy.models import Membership
from tenancy.permissions import check

_FIELDS = ("name", "base_url", "model", "parameters", "api_key", "timeout_seconds", "enabled")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "max_tokens": (1, 131072),
    "presence_penalty": (-2, 2),
    "frequency_penalty": (-2, 2),
    "seed": (-(2**63), 2**63 - 1),
}
MAX_STOP_SEQUENCES = 4


def seal_api_key(raw: str, *, organization_id: int) -> str:
    if not raw:
        return ""
    return stored_secrets.seal(raw, organization_id=organization_id, purpose=stored_secrets.PURPOSE_MODEL_API_KEY)


def unseal_api_key(sealed: str, *, organization_id: int) -> str:
    return stored_secrets.unseal_or_empty(
        sealed, organization_id=organization_id, purpose=stored_secrets.PURPOSE_MODEL_API_KEY
    )


def connection_endpoint(connection: ModelConnection) -> Endpoint:
    """What the client needs to call this connection, its key opened for its own organization only."""
    return Endpoint(
        base_url=connection.base_url,
        model=connection.model,
        api_key=unseal_api_key(connection.api_key_sealed, organization_id=connection.organization_id),
        timeout_seconds=float(connection.timeout_seconds),
        parameters=dict(connection.parameters or {}),
    )


def base_url_vet(url: str) -> str:
    """The endpoint's base URL, if it is one the platform may call; DestinationRefused otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise outbound.DestinationRefused("The base URL is malformed.") from exc
    if parts.scheme not in ("http", "https"):
        raise outbound.DestinationRefused("The base URL must be an http:// or https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise outbound.DestinationRefused("The base URL must not carry credentials (set the API key instead).")
    if parts.query or parts.fragment:
        raise outbound.DestinationRefused("The base URL must not carry a query or a fragment.")
    if not parts.hostname:
        raise outbound.DestinationRefused("The base URL has no host.")
    outbound.resolve(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    return url.rstrip("/")


def parameters_errors(parameters: Any, path: str, errors: ErrorList) -> None:
    """Check call parameters: known names, the right types, sensible ranges."""
    if not isinstance(parameters, dict):
        errors.add(path, "Must be an object of parameters.")
        return
    for key, value in parameters.items():
        where = f"{path}.{key}"
        if key not in PARAMETERS:
            errors.add(where, f"Unknown parameter; allowed: {', '.join(sorted(PARAMETERS))}.", "unknown")
            continue
        expected = PARAMETERS[key]
        if isinstance(value, bool) or not isinstance(value, expected):
            errors.add(where, "Has the wrong type.")
            continue
        if key == "stop":
            stops: list[Any] = [value] if isinstance(value, str) else list(cast(list[Any], value))
            if len(stops) > MAX_STOP_SEQUENCES or not all(isinstance(s, str) and 0 < len(s) <= 64 for s in stops):
                errors.add(where, f"Must be at most {MAX_STOP_SEQUENCES} strings of 1 to 64 characters.")
            continue
        low, high = _RANGES[key]
        number = float(cast(float, value))
        if not low <= number <= high:
            errors.add(where, f"Must be between {low:g} and {high:g}.")


def _clean(fields: dict[str, Any], *, current: ModelConnection | None) -> dict[str, Any]:
    errors = ErrorList()
    if "name" in fields and (not str(fields["name"]).strip() or len(str(fields["name"])) > 100):
        errors.add("name", "Must be 1 to 100 characters.")
    if "model" in fields:
        model = str(fields["model"])
        if not model.strip() or len(model) > 200 or _CONTROL.search(model):
            errors.add("model", "Must be 1 to 200 printable characters.")
    if "parameters" in fields:
        parameters_errors(fields["parameters"], "parameters", errors)
    if "timeout_seconds" in fields:
        timeout = fields["timeout_seconds"]
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 600:
            errors.add("timeout_seconds", "Must be a whole number of seconds from 1 to 600.")
    if "api_key" in fields and (len(str(fields["api_key"])) > 4096 or _CONTROL.search(str(fields["api_key"]))):
        errors.add("api_key", "Must be at most 4096 printable characters.")
    if "base_url" in fields and len(str(fields["base_url"])) > 500:
        errors.add("base_url", "Must be at most 500 characters.")
    errors.raise_if_any("The model connection is invalid.")
    cleaned = {key: value for key, value in fields.items() if key != "api_key"}
    if "base_url" in fields:
        try:
            cleaned["base_url"] = base_url_vet(str(fields["base_url"]))
        except outbound.OutboundError as exc:
            raise InvalidInput(
                "The model connection is invalid.", errors=[FieldError("base_url", str(exc), "refused")]
            ) from exc
    if "api_key" in fields:
        organization_id = current.organization_id if current is not None else current_organization_id()
        cleaned["api_key_sealed"] = seal_api_key(str(fields["api_key"]), organization_id=organization_id)
    return cleaned


def _changes(cleaned: dict[str, Any], before: dict[str, Any] | None = None) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for key, value in cleaned.items():
        if key == "api_key_sealed":
            changes["api_key"] = ["[redacted]", "[redacted]"]
        elif before is None or before.get(key) != value:
            changes[key] = [None if before is None else before.get(key), value]
    return changes


def _unknown(fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(_FIELDS)
    if unknown:
        raise TypeError(f"unknown model connection fields: {sorted(unknown)}")


def model_connection_create(
    *, actor: Membership, name: str, base_url: str, model: str, **fields: Any
) -> ModelConnection:
    """Add an endpoint the organization's projects may call; it is vetted now and before every call."""
    check(permissions.connection_manage(actor))
    _unknown(fields)
    cleaned = _clean({"name": name, "base_url": base_url, "model": model, **fields}, current=None)
    with transaction.atomic():
        if ModelConnection.objects.filter(name=cleaned["name"]).exists():
            raise Conflict(f"A model connection named {cleaned['name']!r} exists already.")
        connection = ModelConnection.objects.create(created_by=actor.user, **cleaned)
        audit_record(action="model_connection.create", target=connection, changes=_changes(cleaned))
    return connection


def model_connection_update(*, actor: Membership, connection: ModelConnection, **fields: Any) -> ModelConnection:
    """Change a connection; an empty api_key removes the stored key, an absent one keeps it."""
    check(permissions.connection_manage(actor))
    _unknown(fields)
    cleaned = _clean(fields, current=connection)
    before = {key: getattr(connection, key) for key in cleaned}
    with transaction.atomic():
        if "name" in cleaned:
            taken = ModelConnection.objects.filter(name=cleaned["name"]).exclude(pk=connection.pk)
            if taken.exists():
                raise Conflict(f"A model connection named {cleaned['name']!r} exists already.")
        for key, value in cleaned.items():
            setattr(connection, key, value)
        connection.save()
        changes = _changes(cleaned, before)
        if changes:
            audit_record(action="model_connection.update", target=connection, changes=changes)
    return connection


def model_connection_delete(*, actor: Membership, connection: ModelConnection) -> None:
    """Remove a connection no call was ever made through (those keep their provenance: disable it instead)."""
    check(permissions.connection_manage(actor))
    try:
        with transaction.atomic():
            audit_record(action="model_connection.delete", target=connection, metadata={"name": connection.name})
            connection.delete()
    except ProtectedError as exc:
        raise Conflict("Calls were made through this connection; disable it instead of deleting it.") from exc


class _Unset:
    """Marks an argument not given (None is a value: no token limit)."""


UNSET = _Unset()


def model_budget_set(
    *,
    actor: Membership,
    project: Project,
    token_limit: int | _Unset | None = UNSET,
    max_concurrent: int | _Unset = UNSET,
) -> ModelBudget:
    """Set a project's token allowance (None: no limit) and its limit of calls running at once."""
    check(permissions.budget_change(actor))
    errors = ErrorList()
    if isinstance(token_limit, int) and (isinstance(token_limit, bool) or token_limit < 0):
        errors.add("token_limit", "Must be a number of tokens, 0 or more, or null for no limit.")
    if not isinstance(max_concurrent, _Unset) and (isinstance(max_concurrent, bool) or not 1 <= max_concurrent <= 1000):
        errors.add("max_concurrent", "Must be from 1 to 1000.")
    errors.raise_if_any("The model budget is invalid.")
    with transaction.atomic():
        budget = budget_row_locked(project=project)
        changes: dict[str, Any] = {}
        if not isinstance(token_limit, _Unset) and token_limit != budget.token_limit:
            changes["token_limit"] = [budget.token_limit, token_limit]
            budget.token_limit = token_limit
        if not isinstance(max_concurrent, _Unset) and max_concurrent != budget.max_concurrent:
            changes["max_concurrent"] = [budget.max_concurrent, max_concurrent]
            budget.max_concurrent = max_concurrent
        budget.save()
        if changes:
            audit_record(action="model_budget.update", target=project, changes=changes)
    return budget


def budget_row_locked(*, project: Project) -> ModelBudget:
    """The project's budget row, locked for this transaction; made with the defaults on first use."""
    budget = ModelBudget.objects.select_for_update().filter(project=project).first()
    if budget is None:
        ModelBudget.objects.bulk_create(
            [
                ModelBudget(
                    organization_id=project.organization_id,
                    project=project,
                    token_limit=config.default_token_limit(),
                    max_concurrent=config.default_max_concurrent(),
                )
            ],
            ignore_conflicts=True,
        )
        budget = ModelBudget.objects.select_for_update().get(project=project)
    return budget
