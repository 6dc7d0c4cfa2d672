"""The annotator's labelling workspace and the reviewer's pages.

The pages are shells: the task, the lease and every decision travel through the JSON API (which enforces the
routing rules, fences leases and writes the audit trail), driven by the ES modules under static/js/label/. What
the server renders here is only what the page needs before the first request: the project as this member may see
it, its label schema and guidelines.
"""

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotation import permissions
from annotation.selectors.chat import schema_for_labelling
from annotation.selectors.reviews import review_pending
from projects import permissions as project_permissions
from projects.models import Project
from projects.pages import project_or_404
from projects.selectors import project_has_label_fields, project_list
from tenancy.models import Membership, Role
from tenancy.pages.base import page_forbidden, role_page
from tenancy.permissions import allows

# How often the page renews its lease, as a share of the lease: a third leaves two missed beats of slack.
HEARTBEAT_SHARE = 3
HEARTBEAT_MAX_SECONDS = 60


def _page_settings(project: Project) -> dict[str, Any]:
    heartbeat = max(10, min(HEARTBEAT_MAX_SECONDS, project.lease_seconds // HEARTBEAT_SHARE))
    return {
        "project": str(project.uuid),
        "schema_version": project.schema_version,
        "heartbeat_seconds": heartbeat,
        # A second lease the project allows is the next task, fetched while this one is being labelled.
        "prefetch": project.max_active_per_annotator >= 2,
    }


@role_page(Role.ANNOTATOR)
def label_workspace(request: HttpRequest, membership: Membership, project_id: uuid.UUID) -> HttpResponse:
    """The labelling page: one task at a time, served by `POST projects/{id}/next`."""
    project = project_or_404(project_id)
    has_form = project_has_label_fields(project=project)
    return render(
        request,
        "annotation/workspace.html",
        {
            "membership": membership,
            "project_title": project.display_name,
            "guidelines": project.guidelines,
            "schema": schema_for_labelling(project.label_schema),
            "settings": _page_settings(project),
            "has_form": has_form,
            "project_id": project.uuid,
            # Only those who may change the schema are sent to its page.
            "can_define_fields": not has_form and allows(project_permissions.project_change(membership)),
        },
    )


def _review_projects(membership: Membership) -> list[dict[str, Any]]:
    """The projects this reviewer may review, with how many annotations wait at each level."""
    rows = []
    for project in project_list().exclude(review_mode="none").order_by("name"):
        if not allows(permissions.review(membership, project)):
            continue
        pending = review_pending(reviewer=membership, project=project)
        rows.append(
            {
                "project": project,
                "title": project.display_name,
                "levels": project.review_levels,
                "level_1": pending.filter(review_level=1).count(),
                "level_2": pending.filter(review_level=2).count() if project.review_levels > 1 else None,
            }
        )
    return rows


@role_page(Role.REVIEWER)
def review_queue(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Where a reviewer starts: every project under review and the work waiting in it."""
    context = {"membership": membership, "rows": _review_projects(membership)}
    return render(request, "annotation/review_queue.html", context)


@role_page(Role.REVIEWER)
def review_workspace(request: HttpRequest, membership: Membership, project_id: uuid.UUID) -> HttpResponse:
    """Accept, reject or correct the project's annotations one by one, oldest first."""
    project = project_or_404(project_id)
    refusal = permissions.review(membership, project)
    if refusal is not None:
        return page_forbidden(request, membership, reason=refusal)
    level = 2 if request.GET.get("level") == "2" and project.review_levels > 1 else 1
    return render(
        request,
        "annotation/review.html",
        {
            "membership": membership,
            "project_title": project.display_name,
            "guidelines": project.guidelines,
            "schema": schema_for_labelling(project.label_schema),
            "settings": {**_page_settings(project), "level": level},
            "level": level,
            "levels": project.review_levels,
        },
    )
