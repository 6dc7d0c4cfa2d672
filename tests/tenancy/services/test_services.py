"""Tenancy services called directly: organizations, memberships, invitations, token bookkeeping."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from core.context import no_organization, organization_context
from core.errors import Conflict, InvalidInput, NotAllowed
from tenancy import services
from tenancy.models import ApiToken, Invitation, Membership, Organization, Role
from tests.factories import ApiTokenFactory, MembershipFactory, UserFactory


def test_changes_between_lists_only_changed_fields():
    assert services.changes_between({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == {"b": [2, 3], "c": [None, 4]}


def test_organization_create_records_its_first_event(db):
    with no_organization():
        organization = services.organization_create(actor=None, name="  New Lab ", slug="new-lab")

    assert (organization.name, organization.slug) == ("New Lab", "new-lab")
    with organization_context(organization.pk):
        event = AuditEvent.objects.get()
    assert (event.action, event.sequence) == ("organization.create", 1)
    assert event.changes == {"name": [None, "New Lab"], "slug": [None, "new-lab"]}
    assert event.metadata == {"by_staff": "operator"}


def test_organization_create_reports_every_problem(db, tenant):
    with no_organization(), pytest.raises(InvalidInput) as raised:
        services.organization_create(actor=None, name=" ", slug=tenant.slug)

    assert [(e.field, e.code) for e in raised.value.errors] == [("name", "blank"), ("slug", "unique")]
    assert Organization.objects.count() == 1


def test_organization_update_needs_admin(tenant):
    manager = MembershipFactory(role=Role.MANAGER)

    with pytest.raises(NotAllowed):
        services.organization_update(actor=manager, organization=tenant, name="Mine")


def test_membership_add_is_audited_with_its_route(tenant):
    user = UserFactory(email="added@example.org")

    membership = services.membership_add(organization=tenant, user=user, role=Role.REVIEWER, via="command")

    assert Membership.objects.get(pk=membership.pk).role == "reviewer"
    event = AuditEvent.objects.get(action="member.add")
    assert event.changes == {"role": [None, "reviewer"], "user": [None, "added@example.org"]}
    assert event.metadata == {"via": "command"}


def test_the_last_owner_cannot_be_removed_even_by_a_service_caller(tenant):
    owner = MembershipFactory(role=Role.OWNER)

    with pytest.raises(Conflict):
        services.membership_remove(actor=owner, membership=owner)

    assert Membership.objects.filter(pk=owner.pk).exists()


def test_an_owner_demotes_another_owner_while_one_remains(tenant):
    first, second = MembershipFactory(role=Role.OWNER), MembershipFactory(role=Role.OWNER)

    services.membership_update_role(actor=first, membership=second, role=Role.MANAGER)

    assert Membership.objects.get(pk=second.pk).role == "manager"
    assert AuditEvent.objects.get(action="member.update").changes == {"role": ["owner", "manager"]}


def test_invitation_find_ignores_unknown_and_used_keys(tenant):
    issued = services.invitation_create(actor=None, organization=tenant, email="a@example.org", role=Role.ANNOTATOR)
    key = issued.secret

    with no_organization():
        found = services.invitation_find(key)
        unknown = services.invitation_find("nope")

    assert found.pk == issued.invitation.pk
    assert unknown is None


def test_invitations_purge_deletes_only_long_expired_ones(tenant, settings):
    settings.TENANCY_INVITATION_TTL_HOURS = 0
    old = services.invitation_create(actor=None, organization=tenant, email="old@example.org", role=Role.ANNOTATOR)
    Invitation.objects.filter(pk=old.invitation.pk).update(expires_at=timezone.now() - timedelta(days=40))
    settings.TENANCY_INVITATION_TTL_HOURS = 72
    fresh = services.invitation_create(actor=None, organization=tenant, email="new@example.org", role=Role.ANNOTATOR)

    deleted = services.invitations_purge(older_than=timedelta(days=30))

    assert deleted == 1
    assert list(Invitation.objects.values_list("pk", flat=True)) == [fresh.invitation.pk]
    assert AuditEvent.objects.get(action="invitation.purge").metadata["count"] == 1


def test_invitations_purge_with_nothing_stale_records_nothing(tenant):
    assert services.invitations_purge(older_than=timedelta(days=30)) == 0
    assert not AuditEvent.objects.filter(action="invitation.purge").exists()


def test_api_token_create_stores_only_the_digest(tenant):
    actor = MembershipFactory(role=Role.MANAGER)

    issued = services.api_token_create(actor=actor, name="svc")

    stored = ApiToken.objects.get(pk=issued.token.pk)
    assert stored.role == "manager"
    assert stored.key_hash != issued.raw
    assert issued.raw.startswith(f"ann_{stored.prefix}_")


def test_api_token_revoke_by_another_non_admin_is_refused(tenant):
    token = ApiTokenFactory(membership__role=Role.MANAGER)
    other = MembershipFactory(role=Role.MANAGER)

    with pytest.raises(NotAllowed):
        services.api_token_revoke(actor=other, token=token)

    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_api_token_touch_writes_once_per_interval(tenant, settings):
    settings.TENANCY_TOKEN_TOUCH_SECONDS = 60
    token = ApiTokenFactory()

    services.api_token_touch(token=token)
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    services.api_token_touch(token=token)

    assert first is not None
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
