"""The organization's home page: its projects (and, for managers, a form to start one) and the member's own work."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from annotation.selectors.my_work import member_history, member_work
from core.audit.record import audit_record_denied
from projects import permissions
from projects import selectors as project_selectors
from projects.forms import ProjectForm
from projects.models import Project
from projects.services.projects import project_create
from tenancy import selectors
from tenancy.models import Membership
from tenancy.pages.base import form_save, organization_page
from tenancy.permissions import allows


def _project_created(project: Project) -> str:
    if project_selectors.project_has_label_fields(project=project):
        return f"Project “{project.name}” created."
    return f"Project “{project.name}” created. Next, define its label fields: what annotators answer for each task."


def _after_project_create(project: Project) -> str:
    """A project made here has no label fields yet, and nothing can be labelled until it has: its owner goes
    straight to the schema page rather than back to a list where the project looks ready."""
    if project_selectors.project_has_label_fields(project=project):
        return reverse("project-overview", args=[project.uuid])
    return reverse("project-schema", args=[project.uuid])


@organization_page
def home(request: HttpRequest, membership: Membership) -> HttpResponse:
    can_manage = allows(permissions.project_create(membership))
    form = ProjectForm(request.POST or None) if can_manage else None
    if request.method == "POST":
        if form is None:
            audit_record_denied(
                organization_id=membership.organization_id,
                action="access.forbidden",
                target_type="ui:home",
                metadata={"method": "POST"},
            )
            return HttpResponse("Forbidden", status=403)
        saved = form_save(
            request,
            form,
            lambda data: project_create(actor=membership, **data),
            success=_project_created,
            to=_after_project_create,
        )
        if saved is not None:
            return saved
    projects = list(project_selectors.project_list())
    return render(
        request,
        "annotation/home.html",
        {
            "membership": membership,
            "organization": membership.organization,
            "projects": projects,
            "form": form,
            "can_manage": can_manage,
            "organizations": selectors.user_memberships(user=membership.user),
            "my_work": member_work(membership=membership),
            "history": member_history(membership=membership),
        },
    )
