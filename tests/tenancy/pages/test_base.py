"""A web page's transaction (tenancy/views.py `organization_page`): kept when the page succeeds, undone when it
answers an error, as the API's is; a refusal recorded on the way stays on the trail."""

import pytest
from django.http import HttpRequest, HttpResponse
from django.urls import path

from audit.models import AuditEvent
from config import urls as site_urls
from tenancy.models import Membership, Role
from tenancy.pages.base import organization_page, page_forbidden
from tenancy.services.members import membership_pause
from tests.conftest import session_client
from tests.factories import MembershipFactory


@organization_page
def pause_then(request: HttpRequest, membership: Membership, member_id: str, status: int) -> HttpResponse:
    """Pauses the member, then answers `status`, as a page whose second step fails would."""
    member = Membership.objects.get(uuid=member_id)
    membership_pause(actor=membership, membership=member, reason="checking their work")
    if status == 403:
        return page_forbidden(request, membership, reason="Refused after the pause.")
    return HttpResponse(status=status)


# The site's own routes too: the pages' templates link to them.
urlpatterns = [path("pause-then/<str:member_id>/<int:status>", pause_then), *site_urls.urlpatterns]


def _paused(member: Membership) -> bool:
    return Membership.objects.get(pk=member.pk).paused_at is not None


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("status", [400, 409, 500])
def test_a_page_answering_an_error_leaves_nothing_written(tenant, status):
    client, _ = session_client(tenant, Role.OWNER)
    member = MembershipFactory(role=Role.ANNOTATOR)

    response = client.get(f"/pause-then/{member.uuid}/{status}")

    assert response.status_code == status
    assert _paused(member) is False
    assert AuditEvent.objects.filter(action="member.pause").count() == 0


@pytest.mark.urls(__name__)
def test_a_page_refusing_after_a_write_keeps_the_refusal_only(tenant):
    client, owner = session_client(tenant, Role.OWNER)
    member = MembershipFactory(role=Role.ANNOTATOR)

    response = client.get(f"/pause-then/{member.uuid}/403")

    assert response.status_code == 403
    assert _paused(member) is False
    assert list(AuditEvent.objects.filter(outcome="denied").values_list("action", "actor_label")) == [
        ("access.forbidden", owner.user.email)
    ]


@pytest.mark.urls(__name__)
def test_a_page_that_succeeds_keeps_its_writes(tenant):
    client, _ = session_client(tenant, Role.OWNER)
    member = MembershipFactory(role=Role.ANNOTATOR)

    response = client.get(f"/pause-then/{member.uuid}/200")

    assert response.status_code == 200
    assert _paused(member) is True
    assert AuditEvent.objects.filter(action="member.pause").count() == 1
