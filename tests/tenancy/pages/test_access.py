"""The entry pages on the server: creating a project from the home page leads on to what it needs next."""

import pytest
from django.urls import reverse

from core.context import organization_context
from projects.models import Project
from tenancy.models import Role
from tests.conftest import session_client
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def test_a_project_created_without_fields_leads_to_its_schema_page():
    organization = OrganizationFactory()
    client, _ = session_client(organization, Role.MANAGER)

    created = client.post(reverse("home"), {"name": "Chest X-ray triage", "overlap": "2"})

    with organization_context(organization.pk):
        project = Project.objects.get()
    assert (project.name, project.label_schema["fields"]) == ("Chest X-ray triage", [])
    assert created.status_code == 302
    assert created["Location"] == reverse("project-schema", args=[project.uuid])
    schema_page = client.get(created["Location"])
    assert [str(m) for m in schema_page.context["messages"]] == [
        "Project “Chest X-ray triage” created. Next, define its label fields: what annotators answer for each task."
    ]
    assert "Define what annotators answer" in schema_page.text


def test_a_bad_project_form_stays_on_the_home_page():
    organization = OrganizationFactory()
    client, _ = session_client(organization, Role.MANAGER)

    refused = client.post(reverse("home"), {"name": "", "overlap": "0"})

    assert refused.status_code == 200
    assert sorted(refused.context["form"].errors) == ["name", "overlap"]
