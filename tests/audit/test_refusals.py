"""A refused attempt stays on the trail whatever becomes of the request that made it: answered 4xx (its transaction
rolled back), or failing afterwards with a 5xx. The refusal is written once the request's transaction is over, as
the actor who made it, exactly once."""

from typing import Any

import pytest
from rest_framework.views import APIView

from audit.models import AuditEvent
from core.context import organization_context
from tenancy.models import Role
from tests.conftest import member_client
from tests.factories import MembershipFactory, OrganizationFactory

REQUEST_ID = "refused-request-0001"


def refusals(organization: Any) -> list[tuple[str, str, str, str, str, dict[str, Any]]]:
    with organization_context(organization.pk):
        return [
            (e.action, e.outcome, e.actor_label, e.actor_token_prefix, e.request_id, e.metadata)
            for e in AuditEvent.objects.filter(outcome="denied").order_by("sequence")
        ]


def test_a_refusal_survives_the_rollback_of_its_request(tenant):
    client, annotator = member_client(tenant, Role.ANNOTATOR)
    member = MembershipFactory(role=Role.ANNOTATOR)

    response = client.patch(
        f"/api/v1/members/{member.uuid}", {"role": "owner"}, format="json", HTTP_X_REQUEST_ID=REQUEST_ID
    )

    assert response.status_code == 403
    assert refusals(tenant) == [
        (
            "access.forbidden",
            "denied",
            annotator.user.email,
            annotator.tokens.get().prefix,
            REQUEST_ID,
            {"method": "PATCH", "path": f"/api/v1/members/{member.uuid}", "kwargs": {"member_id": str(member.uuid)}},
        )
    ]


def test_a_refusal_survives_its_request_failing_afterwards(tenant, monkeypatch):
    client, _ = member_client(tenant, Role.OWNER)
    client.raise_request_exception = False

    def answering_fails(view: Any, exc: Exception) -> Any:
        raise RuntimeError("rendering the refusal failed")

    # The refusal is recorded first (OrganizationAPIView.handle_exception), then DRF's part of answering fails.
    monkeypatch.setattr(APIView, "handle_exception", answering_fails)

    response = client.get(f"/api/v1/projects/{OrganizationFactory().uuid}", HTTP_X_REQUEST_ID=REQUEST_ID)

    assert (response.status_code, response.json()["code"]) == (500, "server_error")
    assert [(action, request_id) for action, _, _, _, request_id, _ in refusals(tenant)] == [
        ("access.not_found", REQUEST_ID)
    ]


@pytest.mark.django_db(transaction=True)
def test_a_refusal_is_committed_after_its_request_is_rolled_back():
    # No test transaction around the request: its own is the outermost, really rolled back, and the refusal has
    # to be committed on its own.
    organization = OrganizationFactory()
    client, annotator = member_client(organization, Role.ANNOTATOR)

    response = client.get("/api/v1/members/", HTTP_X_REQUEST_ID=REQUEST_ID)

    assert response.status_code == 403
    assert [(action, label, request_id) for action, _, label, _, request_id, _ in refusals(organization)] == [
        ("access.forbidden", annotator.user.email, REQUEST_ID)
    ]
