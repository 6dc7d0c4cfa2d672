"""The manager's project pages through the Django test client: who may see them, other tenants' ids, bad input."""

import json
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from annotation.exports.filters import ExportFilters
from annotation.exports.jsonl import JsonlWriter
from annotation.exports.runner import export_run
from annotation.exports.selectors import export_list
from annotation.exports.services import export_create
from audit.models import AuditEvent
from core.context import organization_context
from projects.models import ExportJob, ImportJob, Project
from tenancy.models import Role
from tests.conftest import session_client
from tests.factories import OrganizationFactory, ProjectFactory
from tests.projects import imports_support
from tests.projects.imports_support import jsonl, run_to_end, upload_job

pytestmark = pytest.mark.django_db
store = imports_support.store

# (url name, method, form body): every route of projects/pages.py.
PAGES: list[tuple[str, str, dict[str, Any]]] = [
    ("project-overview", "GET", {}),
    ("project-settings", "GET", {}),
    ("project-settings", "POST", {"name": "x"}),
    ("project-schema", "GET", {}),
    ("project-schema", "POST", {"label_schema": "{}"}),
    ("project-import", "GET", {}),
    ("project-queues", "GET", {}),
    ("project-assignment-revoke", "POST", {}),
    ("project-quality", "GET", {}),
    ("project-exports", "GET", {}),
    ("project-exports", "POST", {"format": "jsonl"}),
    ("project-export-download", "GET", {}),
]
PAGE_IDS = [f"{method} {name}" for name, method, _ in PAGES]


def _url(name: str, project: Project) -> str:
    extra = {"project-assignment-revoke": [uuid.uuid4()], "project-export-download": [uuid.uuid4()]}
    return reverse(name, args=[project.uuid, *extra.get(name, [])])


def _call(client: Client, method: str, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body) if method == "POST" else client.get(url)


@pytest.fixture
def lab() -> Any:
    organization = OrganizationFactory()
    with organization_context(organization.pk):
        project = ProjectFactory(name="Radiology batch", overlap=2)
    return organization, project


@pytest.mark.parametrize(("name", "method", "body"), PAGES, ids=PAGE_IDS)
@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER])
def test_roles_below_manager_are_refused_and_recorded(lab, name, method, body, role):
    organization, project = lab
    client, membership = session_client(organization, role)

    response = _call(client, method, _url(name, project), body)

    assert response.status_code == 403
    assert b"manager role or higher" in response.content
    with organization_context(organization.pk):
        denied = AuditEvent.objects.filter(action="access.forbidden", actor_user_id=membership.user_id).get()
        assert denied.target_type == f"ui:{name}"
        assert Project.objects.get().name == "Radiology batch"


@pytest.mark.parametrize(("name", "method", "body"), PAGES, ids=PAGE_IDS)
def test_another_tenants_project_is_not_found(lab, name, method, body):
    organization, project = lab
    caller = OrganizationFactory()
    client, _ = session_client(caller, Role.OWNER)

    foreign = _call(client, method, _url(name, project), body)
    missing = _call(client, method, _url(name, Project(uuid=uuid.uuid4())), body)

    assert foreign.status_code == missing.status_code == 404
    with organization_context(organization.pk):
        assert Project.objects.get().name == "Radiology batch"
        assert not ExportJob.objects.exists()
    with organization_context(caller.pk):
        denied = AuditEvent.objects.filter(action="access.not_found").values_list("target_type", flat=True)
        assert list(denied) == [f"ui:{name}", f"ui:{name}"]


@pytest.mark.parametrize(
    "name", sorted({name for name, method, _ in PAGES if method == "GET"} - {"project-export-download"})
)
def test_manager_sees_every_page(lab, name):
    organization, project = lab
    client, _ = session_client(organization, Role.MANAGER)

    response = client.get(_url(name, project))

    assert response.status_code == 200
    assert b"Radiology batch" in response.content
    assert b'aria-label="Project"' in response.content


def test_settings_save_through_the_service(lab):
    organization, project = lab
    client, _ = session_client(organization, Role.MANAGER)
    body = {
        "name": "Radiology batch",
        "codename": "Heron",
        "blind": "on",
        "is_active": "on",
        "overlap": "3",
        "max_active_per_annotator": "2",
        "lease_seconds": "600",
        "required_skills": "radiology:3, oncology:2",
        "required_languages": "en, FR",
        "review_mode": "sample",
        "review_rate": "0.25",
        "reject_returns_to": "pool",
        "gold_rate": "0.1",
        "gold_min_accuracy": "0.8",
        "agreement_threshold": "0.5",
    }

    response = client.post(_url("project-settings", project), body)

    assert response.status_code == 302
    with organization_context(organization.pk):
        project.refresh_from_db()
        assert (project.overlap, project.codename, project.blind, project.lease_seconds) == (3, "Heron", True, 600)
        assert project.required_skills == {"radiology": 3, "oncology": 2}
        assert project.required_languages == ["en", "fr"]
        assert (project.review_mode, project.review_rate, project.gold_min_accuracy) == ("sample", 0.25, 0.8)
        assert project.reject_returns_to == "pool"
        event = AuditEvent.objects.filter(action="project.update").get()
        assert event.changes["overlap"] == [2, 3]
        assert event.changes["reject_returns_to"] == ["annotator", "pool"]


def test_bad_settings_name_each_field_and_change_nothing(lab):
    organization, project = lab
    client, _ = session_client(organization, Role.MANAGER)
    body = {
        "name": "Radiology batch",
        "overlap": "0",
        "max_active_per_annotator": "1",
        "lease_seconds": "900",
        "required_skills": "radiology",
        "review_mode": "sample",
        "review_rate": "0",
        "reject_returns_to": "annotator",
        "gold_rate": "1.5",
        "agreement_threshold": "0.5",
        "blind": "on",
    }

    response = client.post(_url("project-settings", project), body)

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"overlap", "required_skills", "gold_rate"}
    assert "“radiology” is not skill:level" in errors["required_skills"][0]
    # Past the form's own checks, the service's refusals land on their fields too.
    body.update(overlap="1", required_skills="", gold_rate="0")
    response = client.post(_url("project-settings", project), body)
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"review_rate", "codename"}
    with organization_context(organization.pk):
        project.refresh_from_db()
        assert (project.overlap, project.blind) == (2, False)
        assert not AuditEvent.objects.filter(action="project.update").exists()


def test_schema_saves_and_bad_json_names_the_field(lab):
    organization, project = lab
    client, _ = session_client(organization, Role.MANAGER)
    schema = {"fields": [{"name": "sentiment", "type": "choices", "options": ["positive", "negative"]}]}

    bad_json = client.post(_url("project-schema", project), {"label_schema": '{"fields": [', "guidelines": ""})
    bad_schema = client.post(
        _url("project-schema", project), {"label_schema": '{"fields": [{"name": "x", "type": "nope"}]}'}
    )
    good = client.post(_url("project-schema", project), {"label_schema": json.dumps(schema), "guidelines": "Be kind."})

    assert bad_json.status_code == 400
    assert "Not valid JSON" in bad_json.context["form"].errors["label_schema"][0]
    assert bad_schema.status_code == 400
    assert list(bad_schema.context["form"].errors) == ["label_schema"]
    assert good.status_code == 302
    with organization_context(organization.pk):
        project.refresh_from_db()
        assert project.label_schema["fields"][0]["options"] == ["positive", "negative"]
        assert (project.guidelines, project.guidelines_version) == ("Be kind.", 2)


def test_export_created_and_bad_filters_named(lab):
    organization, project = lab
    client, _ = session_client(organization, Role.MANAGER)

    bad = client.post(
        _url("project-exports", project),
        {"format": "jsonl", "created_after": "2026-11-02", "created_before": "2026-11-01"},
    )
    unknown = client.post(_url("project-exports", project), {"format": "xml"})
    good = client.post(_url("project-exports", project), {"format": "csv", "status": "done"})

    assert bad.status_code == 400
    assert bad.context["form"].errors["created_before"] == ["Must be later than created_after."]
    assert unknown.status_code == 400
    assert list(unknown.context["form"].errors) == ["format"]
    assert good.status_code == 302
    with organization_context(organization.pk):
        (job,) = export_list(project=project)
        # The worker starts once the request's transaction commits, which this test's transaction never does.
        assert (job.format, job.filters["status"], job.state) == ("csv", "done", "pending")


# --- following jobs: the histories poll while a job runs, stop when none does, and say why one failed ---


def _htmx(client: Client, url: str) -> Any:
    return client.get(url, headers={"HX-Request": "true"})


def test_a_failed_import_says_why_and_lists_its_refused_rows(lab, store):
    organization, project = lab
    client, manager = session_client(organization, Role.MANAGER)
    with organization_context(organization.pk):
        rows = [{"external_id": "a", "data": {"text": "fine"}}, {"external_id": "b", "data": []}]
        job = run_to_end(upload_job(manager, project, jsonl(rows)))
    assert (job.state, job.error_count) == ("failed", 1)

    page = client.get(_url("project-import", project))

    history = _section(page.text, "import-history")
    assert f'<span class="job-reason">{escape(job.message)}</span>' in history
    assert '<details class="disclosure" open>' in history  # a failed import's rows are open, not hidden
    assert "Rows that stopped the import: 1" in history
    assert re.search(r"<strong>Line 2</strong> <code>data</code>: [^<]+</li>", history)
    assert 'data-following="false"' in history
    assert 'hx-trigger="import-ended from:body"' in history  # reloaded by the page's own upload only


def test_a_running_import_is_followed_until_it_ends(lab, store):
    organization, project = lab
    client, manager = session_client(organization, Role.MANAGER)
    with organization_context(organization.pk):
        job = upload_job(manager, project, jsonl([{"external_id": "a", "data": {"text": "x"}}]))
        ImportJob.objects.filter(pk=job.pk).update(state="running")

    running = _htmx(client, _url("project-import", project))
    with organization_context(organization.pk):
        run_to_end(job)
    ended = _htmx(client, _url("project-import", project))

    # The fragment alone answers htmx: the section, no page around it (and no messages consumed).
    assert running.text.lstrip().startswith('<section class="card card-flush section-gap" id="import-history"')
    assert "<html" not in running.text
    assert 'data-following="true"' in running.text
    assert 'hx-trigger="every 2s, import-ended from:body"' in running.text
    assert "Updated every few seconds while 1 import runs." in running.text
    assert "0% read" in running.text
    assert 'data-following="false"' in ended.text
    assert "every 2s" not in ended.text
    assert '<span class="badge badge-state-succeeded">succeeded</span>' in ended.text


def test_a_job_no_worker_took_up_says_so(lab, store):
    organization, project = lab
    client, manager = session_client(organization, Role.MANAGER)
    with organization_context(organization.pk):
        job = upload_job(manager, project, jsonl([{"external_id": "a", "data": {"text": "x"}}]))
        fresh = client.get(_url("project-import", project)).text
        ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=5))
        stale = client.get(_url("project-import", project)).text

    assert "is one running?" not in fresh
    assert "No worker has taken it up since" in stale
    assert "is one running?" in stale


def test_exports_are_followed_while_they_run_and_a_failure_says_why(lab, store, monkeypatch):
    organization, project = lab
    client, manager = session_client(organization, Role.MANAGER)
    with organization_context(organization.pk):
        pending = export_create(actor=manager, project=project, export_format="jsonl", filters=ExportFilters())
    following = _htmx(client, _url("project-exports", project))

    monkeypatch.setattr(JsonlWriter, "write_chunks", _broken)
    with organization_context(organization.pk):
        failed = export_run(pending)
    ended = _htmx(client, _url("project-exports", project))
    full = client.get(_url("project-exports", project))

    assert following.text.lstrip().startswith('<section class="card card-flush" id="export-history"')
    assert 'hx-trigger="every 2s"' in following.text
    assert "Updated every few seconds while 1 export runs." in following.text
    assert failed.state == "failed"
    assert failed.message  # the runner's own words, shown as they are
    assert f'<span class="job-reason">{escape(failed.message)}</span>' in ended.text
    assert "hx-trigger" not in ended.text  # nothing runs: the polling stops with this copy
    assert 'data-following="false"' in ended.text
    assert "<html" in full.text
    assert f'<span class="job-reason">{escape(failed.message)}</span>' in full.text


def _broken(self: Any, source: Any) -> Any:
    raise RuntimeError("the disk is full")


def _section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start : html.index("</section>", start)]


# --- a project without label fields leads to its schema page ---


def test_the_overview_and_schema_page_of_a_project_without_fields_say_what_to_do_next(lab):
    organization, project = lab
    client, _ = session_client(organization, Role.MANAGER)
    schema_url = _url("project-schema", project)

    overview = client.get(_url("project-overview", project)).text
    schema = client.get(schema_url).text
    with organization_context(organization.pk):
        project.label_schema = {"fields": [{"name": "label", "type": "choices", "options": ["yes", "no"]}]}
        project.save(update_fields=["label_schema"])
    ready = client.get(_url("project-overview", project)).text

    assert "Next: define the label fields" in overview
    assert f'<a class="button" href="{schema_url}">Define label fields</a>' in overview
    assert f'no fields yet · <a href="{schema_url}">define them</a>' in overview
    assert "Define what annotators answer" in schema
    assert 'id="schema-example"' in schema
    assert "Next: define the label fields" not in ready
    assert "1 field" in ready
