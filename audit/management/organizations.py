"""Which organizations an audit command acts on, from its `--organization` option."""

from django.core.management.base import CommandError

from tenancy.models import Organization


def organizations_named(slugs: list[str] | None) -> list[Organization]:
    """The organizations to act on: those named (all must exist), or every one, in slug order."""
    # Platform scope: Organization is the tenant registry itself, not a tenant-owned table.
    organizations = Organization.objects.order_by("slug")
    if not slugs:
        return list(organizations)
    found = list(organizations.filter(slug__in=slugs))
    unknown = sorted(set(slugs) - {o.slug for o in found})
    if unknown:
        raise CommandError(f"No organization with slug {', '.join(repr(s) for s in unknown)}.")
    return found
