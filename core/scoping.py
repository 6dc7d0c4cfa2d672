"""Tenant-owned models: a fail-closed default manager and an organization column set from the context."""

import uuid
from typing import Any, ClassVar, TypeVar

from django.db import models

from core.context import current_organization_id

_M = TypeVar("_M", bound=models.Model)

# Privileges the app role gets on a table unless its model says otherwise (see AppendOnly models).
DEFAULT_APP_GRANTS = ("SELECT", "INSERT", "UPDATE", "DELETE")


class TenantMismatch(RuntimeError):
    """A row of one organization was about to be written while acting for another."""


class TenantManager(models.Manager[_M]):
    """Every query is filtered to the organization in context; with none set, it raises instead of leaking."""

    use_in_migrations = False

    def get_queryset(self) -> models.QuerySet[_M]:
        return super().get_queryset().filter(organization_id=current_organization_id())

    def none(self) -> models.QuerySet[_M]:
        # An empty queryset reveals nothing, so it needs no tenant (schema generators and filters build them).
        return super().get_queryset().none()

    def unscoped(self) -> models.QuerySet[_M]:
        """Rows of every organization. For admin commands and pre-tenant lookups only; say why at each use."""
        return super().get_queryset()


class TenantOwned(models.Model):
    """A row that belongs to one organization. The organization comes from the context, never from input."""

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.PROTECT, related_name="+", editable=False)

    objects: ClassVar[TenantManager[Any]] = TenantManager()
    app_role_grants: ClassVar[tuple[str, ...]] = DEFAULT_APP_GRANTS
    # Extra rows the table's read policy admits before a tenant is known (an SQL expression), if any.
    rls_extra_using: ClassVar[str] = ""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        # An invariant, not business logic: refused here with a clear error rather than left to the row policy
        # alone, which a superuser connection bypasses.
        organization_id = current_organization_id()
        if self.organization_id is None:
            self.organization_id = organization_id
        elif self.organization_id != organization_id:
            raise TenantMismatch(
                f"{type(self).__name__} of organization {self.organization_id} written "
                f"while acting for {organization_id}"
            )
        super().save(*args, **kwargs)


class TenantModel(TenantOwned):
    """A tenant-owned row with a public UUID; internal integer ids never leave the server."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
