"""Writes to organizations: creating a tenant, renaming it and changing its settings. Each records its audit event."""

from typing import Any

from django.db import IntegrityError, transaction

from core import stored_secrets
from core.audit.record import audit_record
from core.context import organization_context
from core.errors import ErrorList, FieldError, InvalidInput
from tenancy import permissions, signals
from tenancy.models import Membership, Organization, User
from tenancy.services.changes import changes_between


def organization_create(*, actor: User | None, name: str, slug: str) -> Organization:
    """Create a tenant. Platform operators (command) and staff (API) only; its first owner comes by invitation."""
    errors = ErrorList()
    if not name.strip():
        errors.add("name", "This field may not be blank.", "blank")
    if Organization.objects.filter(slug=slug).exists():
        errors.add("slug", f"An organization with slug {slug!r} already exists.", "unique")
    errors.raise_if_any()
    try:
        with transaction.atomic():
            organization = Organization.objects.create(name=name.strip(), slug=slug)
            with organization_context(organization.pk):
                audit_record(
                    action="organization.create",
                    target=organization,
                    changes={"name": [None, organization.name], "slug": [None, slug]},
                    metadata={"by_staff": actor.email if actor else "operator"},
                )
    except IntegrityError as exc:  # a concurrent create of the same slug
        raise InvalidInput(
            "Invalid organization.",
            errors=[FieldError("slug", f"An organization with slug {slug!r} already exists.", "unique")],
        ) from exc
    return organization


def organization_update(
    *, actor: Membership, organization: Organization, name: str | None = None, settings: dict[str, Any] | None = None
) -> Organization:
    """Rename an organization or change its settings (owners and admins).

    Settings are replaced as a whole, as read back from the API: a sealed secret shows there as `<name>_set`, and a
    section sent back exactly as read is kept as stored. A `<name>_sealed` field from the client is refused: only the
    server seals, from a secret sent in clear, for this organization (core.stored_secrets).
    """
    permissions.check(permissions.organization_change(actor))
    before = {"name": organization.name, "settings": organization.settings}
    if settings is not None:
        settings = _settings_clean(actor=actor, organization=organization, settings=settings)
    if name is not None:
        organization.name = name
    if settings is not None:
        organization.settings = settings
    with transaction.atomic():
        organization.save(update_fields=["name", "settings"])
        audit_record(
            action="organization.update",
            target=organization,
            changes=changes_between(before, {"name": organization.name, "settings": organization.settings}),
        )
    return organization


def _settings_clean(*, actor: Membership, organization: Organization, settings: dict[str, Any]) -> dict[str, Any]:
    sealed = stored_secrets.sealed_field_paths(settings)
    if sealed:
        message = "Send the secret itself (write-only); a sealed value is never accepted."
        raise InvalidInput(
            "The settings carry a sealed value.", errors=[FieldError(path, message, "sealed_value") for path in sealed]
        )
    for key in _OWNED_ELSEWHERE:
        current = (organization.settings or {}).get(key)
        incoming = settings.get(key)
        if incoming == stored_secrets.sealed_fields_hidden(current):
            # Unchanged (an admin saving other settings sends the section back as read): keep it as stored.
            settings = {**settings, key: current} if current is not None else settings
            continue
        answers = signals.organization_setting_clean.send(
            sender=key, actor=actor, organization=organization, incoming=incoming, current=current
        )
        if not answers:
            # Nobody here knows the section's rules (its secret would be kept unsealed): refuse it rather than
            # store it as sent.
            raise InvalidInput(
                f"The {key} setting cannot be changed on this installation.",
                errors=[FieldError(f"settings.{key}", "Not available here.", "unknown_setting")],
            )
        settings = {k: v for k, v in settings.items() if k != key}
        cleaned = answers[0][1]
        if cleaned is not None:
            settings[key] = cleaned
    return settings


# Settings whose shape and rules belong to an app built on tenancy, which cleans them (audit.receivers: where the
# audit trail is streamed).
_OWNED_ELSEWHERE = ("audit_stream",)
