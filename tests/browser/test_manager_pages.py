"""A manager's project pages in a real browser: create a project (which opens on its schema page, since it has no
label fields yet), write its schema, import a file and watch the progress bar reach the end, change settings,
export; the queues (revoke a lease) and the quality charts; the histories following a job to its end and saying
why one failed."""

import io
import json
import re

import pytest

from annotation.exports import services as export_services
from annotation.exports.filters import ExportFilters
from annotation.exports.jsonl import JsonlWriter
from annotation.exports.runner import export_run
from annotation.exports.services import export_create
from annotation.services.claim import assignment_claim
from annotation.services.quality import project_agreement_recompute
from annotation.services.submit import annotation_submit
from core.audit.context import ActorContext, actor_context
from core.context import organization_context
from projects.imports.services import import_create_upload
from projects.models import Project
from projects.services.projects import project_create, project_update
from projects.services.tasks import task_bulk_create
from tenancy.models import Membership, Organization, Role
from tests.browser.checks import PASSWORD, member, page_check
from tests.factories import OrganizationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMA = {
    "fields": [
        {"name": "finding", "type": "choices", "label": "Finding", "options": ["normal", "nodule", "effusion"]},
        {"name": "confidence", "type": "rating", "label": "Confidence", "min": 1, "max": 5},
    ]
}


def _jsonl(rows: list[object]) -> bytes:
    return "\n".join(json.dumps(row) for row in rows).encode() + b"\n"


def test_manager_creates_a_project_imports_and_exports(live_server, page, screenshot, axe, sign_in):
    page.set_default_timeout(10_000)
    organization = OrganizationFactory(name="Northwind Lab")
    manager = member(organization, Role.MANAGER, "maria@northwind.example")
    sign_in(page, live_server.url, manager.user.email, PASSWORD)

    # Create the project on the home page: with no label fields yet, it opens on its schema page, which says so.
    page.get_by_label("Name", exact=True).fill("Chest X-ray triage")
    page.get_by_label("Overlap").fill("2")
    page.get_by_role("button", name="Create project").click()
    page.get_by_role("heading", name="Define what annotators answer").wait_for()
    assert page.url.endswith("/schema")
    page.get_by_text("Project “Chest X-ray triage” created. Next, define its label fields").wait_for()
    page_check(page, axe, screenshot, "manager-schema-new-project")

    # The overview of a project without fields says what to do next, and leads back to the schema page.
    project_nav = page.get_by_role("navigation", name="Project")
    project_nav.get_by_role("link", name="Overview").click()
    next_step = page.get_by_role("region", name="Next: define the label fields")
    next_step.wait_for()
    assert project_nav.get_by_role("link", name="Overview").get_attribute("aria-current") == "page"
    page_check(page, axe, screenshot, "manager-overview")
    assert next_step.get_by_role("link", name="Define label fields").get_attribute("href").endswith("/schema")

    # So does the labelling page, to a manager: not a dead end, a link to the schema page.
    page.goto(page.url.rstrip("/") + "/label")
    page.get_by_role("heading", name="Nothing to label yet").wait_for()
    page_check(page, axe, screenshot, "manager-label-no-fields")
    page.get_by_role("link", name="Define label fields").click()
    page.get_by_role("heading", name="Define what annotators answer").wait_for()

    # The schema editor can start from an example, previews the fields as the JSON changes, and saves through the
    # service.
    page.get_by_role("button", name="Start from an example").click()
    preview = page.locator("#schema-preview")
    preview.get_by_role("group", name="Overall sentiment").wait_for()
    editor = page.get_by_label("Label schema (JSON)")
    assert json.loads(editor.input_value())["fields"][0]["name"] == "sentiment"
    assert page.evaluate("document.activeElement.id") == "id_label_schema"
    editor.fill('{"fields": [')
    page.get_by_text("The JSON does not parse yet").wait_for()
    editor.fill(json.dumps(SCHEMA, indent=2))
    preview.get_by_role("group", name="Finding").wait_for()
    assert preview.get_by_role("radio").count() == 3 + 5
    page.get_by_label("Guidelines (optional)").fill("Mark the dominant finding.")
    page.get_by_role("button", name="Save schema and guidelines").click()
    page.get_by_text("Saved: schema version 1, guidelines version 2.").wait_for()
    assert page.get_by_role("region", name="Define what annotators answer").count() == 0
    page_check(page, axe, screenshot, "manager-schema")

    # Import: five good rows and one bad one (line 4), bad rows skipped; the bar goes to 100%.
    page.get_by_role("link", name="Import", exact=True).click()
    rows: list[object] = [{"external_id": f"cxr-{n}", "data": {"text": f"Study {n}"}} for n in range(1, 6)]
    rows.insert(3, {"external_id": "cxr-bad"})
    page.get_by_label("File", exact=True).set_input_files(
        {"name": "studies.jsonl", "mimeType": "application/x-ndjson", "buffer": _jsonl(rows)}
    )
    # All or nothing by default: the bad row fails the whole file, and says where.
    page.get_by_role("button", name="Start import").click()
    page.locator("#import-status[data-state='failed']").wait_for()
    assert page.get_by_role("heading", name="Import failed").is_visible()
    screenshot(page, "manager-import-failed")
    assert re.search(r"Line 4\s+data:", page.locator("#import-errors").inner_text())
    page.get_by_label("Skip bad rows").check()
    page.get_by_role("button", name="Start import").click()
    status = page.locator("#import-status[data-state='succeeded']")
    status.wait_for()
    assert page.locator("#import-progress").evaluate("bar => bar.value") == 100
    assert page.get_by_role("heading", name="Import succeeded").is_visible()
    assert "5 created" in page.locator("#import-counts").inner_text()
    assert re.search(r"Line 4\s+data:", page.locator("#import-errors").inner_text())
    history = page.get_by_role("region", name="Imports")
    history.get_by_role("cell", name="succeeded").wait_for()
    assert history.locator("tbody tr").all_inner_texts()[0].split("\t")[1:] == [
        "jsonl",
        "succeeded",
        "6",
        "5",
        "0",
        "1",
    ]
    page_check(page, axe, screenshot, "manager-import")

    # Settings: a bad value is named, a good one is saved.
    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_label("Gold rate").fill("1.5")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_role("link", name="Gold rate").wait_for()  # the error summary links to the field
    assert page.get_by_label("Gold rate").get_attribute("aria-invalid") == "true"
    page.console_errors.clear()  # the refused form's 400, logged by the browser, was the point
    page.get_by_label("Gold rate").fill("0.1")
    page.get_by_label("Lease (seconds)").fill("600")
    page.get_by_label("Required skills").fill("radiology:3")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Settings saved.").wait_for()
    assert page.get_by_label("Required skills").input_value() == "radiology:3"
    page_check(page, axe, screenshot, "manager-settings")
    with organization_context(organization.pk):
        project = Project.objects.get()
        assert (project.lease_seconds, project.gold_rate, project.required_skills) == (600, 0.1, {"radiology": 3})

    # Export to JSONL and download the file.
    page.get_by_role("link", name="Exports", exact=True).click()
    page.get_by_label("Format").select_option("jsonl")
    page.get_by_role("button", name="Start export").click()
    page.get_by_text("Export to jsonl started.").wait_for()
    row = page.locator("table tbody tr").first
    assert "succeeded" in row.inner_text()
    page_check(page, axe, screenshot, "manager-exports")
    with page.expect_download() as download:
        row.get_by_role("link", name=re.compile("^Download")).click()
    # Nothing is annotated yet, so the file holds no records; what matters here is that it arrives.
    assert download.value.suggested_filename.endswith(".jsonl")
    assert download.value.path().read_text() == ""


def _worked_project(organization: Organization, manager: Membership) -> Project:
    """Two annotators answered every task (one a gold task) and the agreement was computed; one more task is out."""
    annotators = [member(organization, Role.ANNOTATOR, f"{n}@northwind.example") for n in ("ana", "ben")]
    actor = ActorContext(user_id=manager.user_id, user_label=manager.user.email, ip="127.0.0.1")
    with organization_context(organization.pk), actor_context(actor):
        project = project_create(actor=manager, name="Sentiment", overlap=2, label_schema=SCHEMA, gold_rate=0.5)
        items = [{"external_id": f"s-{n}", "data": {"text": f"Review {n}"}} for n in range(1, 4)]
        items.append(
            {"external_id": "gold-1", "data": {"text": "Gold"}, "gold_answer": {"finding": "normal", "confidence": 4}}
        )
        task_bulk_create(actor=manager, project=project, items=items)
        answers = {
            "ana": {"s-1": "normal", "s-2": "nodule", "s-3": "effusion", "gold-1": "normal"},
            "ben": {"s-1": "normal", "s-2": "nodule", "s-3": "normal", "gold-1": "nodule"},
        }
        for annotator in annotators:
            mine = answers[annotator.user.email.split("@")[0]]
            for _ in mine:
                claim = assignment_claim(actor=annotator, project=project)
                assert claim.assignment is not None
                annotation_submit(
                    actor=annotator,
                    assignment=claim.assignment,
                    lease_token=claim.assignment.lease_token,
                    result={"finding": mine[claim.assignment.task.external_id], "confidence": 4},
                )
        project = project_update(actor=manager, project=project, gold_min_accuracy=0.6)
        project_agreement_recompute(project=project)
        task_bulk_create(actor=manager, project=project, items=[{"external_id": "s-late", "data": {"text": "Late"}}])
        assert assignment_claim(actor=annotators[0], project=project).assignment is not None
    return project


def test_manager_revokes_a_lease_and_reads_the_quality_charts(live_server, page, screenshot, axe, sign_in):
    page.set_default_timeout(10_000)
    organization = OrganizationFactory(name="Northwind Lab")
    manager = member(organization, Role.MANAGER, "maria@northwind.example")
    project = _worked_project(organization, manager)
    sign_in(page, live_server.url, manager.user.email, PASSWORD)

    page.goto(f"{live_server.url}/projects/{project.uuid}/queues")
    row = page.locator("table tbody tr").first
    assert re.match(r"ana@northwind\.example\s+1 active · 0 queued\s+s-late\s+active", row.inner_text())
    page_check(page, axe, screenshot, "manager-queues")
    # With the keyboard alone: the revoke button is reachable and pressing Enter submits it.
    revoke = page.get_by_role("button", name="Revoke s-late from ana@northwind.example")
    revoke.focus()
    page.keyboard.press("Enter")
    page.get_by_text("Task s-late taken back from ana@northwind.example.").wait_for()
    # Ana's lease is gone; Ben still has the task the dispatcher queued for him.
    assert [r.split("\n")[0] for r in page.locator("table tbody tr").all_inner_texts()] == ["ben@northwind.example"]

    page.get_by_role("link", name="Quality").click()
    agreement = page.get_by_role("region", name="Agreement per field")
    assert agreement.locator(".bar-row").count() == 2
    assert "finding" in agreement.locator(".bar-row").first.inner_text()
    gold = page.get_by_role("region", name="Gold accuracy per annotator")
    assert gold.locator(".bar-row").count() == 2
    assert "100% of 1" in gold.locator(".bar-row", has_text="ana@").inner_text()
    # Ben's finding on the gold task was wrong (his confidence right): under the threshold, drawn in red.
    assert re.search(r"\b\d{1,2}% of 1", gold.locator(".bar-row", has_text="ben@").inner_text())
    assert gold.locator(".bar-row", has_text="ben@").locator(".bar-low").count() == 1
    page_check(page, axe, screenshot, "manager-quality")


def test_manager_follows_an_export_to_its_end_and_reads_why_jobs_failed(
    live_server, page, screenshot, axe, sign_in, monkeypatch, settings, tmp_path
):
    page.set_default_timeout(10_000)
    settings.OBJECT_STORAGE_BUCKET = ""
    settings.OBJECT_STORAGE_ROOT = tmp_path / "objects"
    organization = OrganizationFactory(name="Northwind Lab")
    manager = member(organization, Role.MANAGER, "maria@northwind.example")
    actor = ActorContext(user_id=manager.user_id, user_label=manager.user.email, ip="127.0.0.1")
    with organization_context(organization.pk), actor_context(actor):
        project = project_create(actor=manager, name="Triage", label_schema=SCHEMA)
        # An import started elsewhere (the API, `annotate push`) whose second line is refused: it fails whole.
        rows = [{"external_id": "a", "data": {"text": "fine"}}, {"external_id": "b", "data": []}]
        failed_import = import_create_upload(
            actor=manager, project=project, upload=io.BytesIO(_jsonl(rows)), size=len(_jsonl(rows)), fmt="jsonl",
            skip_bad_rows=False, update_existing=False,
        )  # fmt: skip
        # An export no worker has run yet: the page follows it.
        monkeypatch.setattr(export_services, "enqueue_on_commit", lambda *args: None)
        export = export_create(actor=manager, project=project, export_format="jsonl", filters=ExportFilters())
    with organization_context(organization.pk):
        failed_import.refresh_from_db()
    assert failed_import.state == "failed"
    sign_in(page, live_server.url, manager.user.email, PASSWORD)

    # The import history says why the import failed and lists the refused row by its line.
    page.goto(f"{live_server.url}/projects/{project.uuid}/import")
    history = page.get_by_role("region", name="Imports")
    row = history.locator("tbody tr").first
    assert failed_import.message in row.inner_text()
    assert re.search(r"Line 2\s+data:", history.get_by_role("list", name=re.compile("Refused rows")).inner_text())
    page_check(page, axe, screenshot, "manager-import-history-failed")

    # The exports page follows the pending export, and when it fails, says why and stops asking.
    page.goto(f"{live_server.url}/projects/{project.uuid}/exports")
    page.locator("#export-history[data-following='true']").wait_for()
    assert "pending" in page.locator("#export-history tbody tr").first.inner_text()
    page_check(page, axe, screenshot, "manager-exports-following")
    monkeypatch.setattr(JsonlWriter, "write_chunks", _disk_full)
    with organization_context(organization.pk):
        export = export_run(export)
    assert export.state == "failed"
    page.locator("#export-history[data-following='false']").wait_for()
    state_cell = page.locator("#export-history tbody tr").first.locator("td.cell-state")
    assert state_cell.inner_text().split("\n", 1) == ["failed", export.message]
    assert page.locator("#export-history").get_attribute("hx-trigger") is None
    page_check(page, axe, screenshot, "manager-exports-failed")
    # Nothing asks for the section any more: no request for it in the next polling period.
    polled: list[str] = []
    page.on("request", lambda request: polled.append(request.url) if "/exports" in request.url else None)
    page.wait_for_timeout(2500)
    assert polled == []


def _disk_full(self: object, source: object) -> object:
    raise OSError(28, "No space left on device")
