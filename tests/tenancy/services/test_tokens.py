"""tenancy.services.tokens called directly: issuing, revoking and the bookkeeping of use."""

import pytest

from core.errors import NotAllowed
from tenancy.models import ApiToken, Role
from tenancy.services.tokens import api_token_create, api_token_revoke, api_token_touch
from tests.factories import ApiTokenFactory, MembershipFactory


def test_api_token_create_stores_only_the_digest(tenant):
    actor = MembershipFactory(role=Role.MANAGER)

    issued = api_token_create(actor=actor, name="svc")

    stored = ApiToken.objects.get(pk=issued.token.pk)
    assert stored.role == "manager"
    assert stored.key_hash != issued.raw
    assert issued.raw.startswith(f"ann_{stored.prefix}_")


def test_api_token_revoke_by_another_non_admin_is_refused(tenant):
    token = ApiTokenFactory(membership__role=Role.MANAGER)
    other = MembershipFactory(role=Role.MANAGER)

    with pytest.raises(NotAllowed):
        api_token_revoke(actor=other, token=token)

    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_api_token_touch_writes_once_per_interval(tenant, settings):
    settings.TENANCY_TOKEN_TOUCH_SECONDS = 60
    token = ApiTokenFactory()

    api_token_touch(token=token)
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    api_token_touch(token=token)

    assert first is not None
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
