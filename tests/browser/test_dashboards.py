"""The dashboards in a real browser, over a project labelled and reviewed through the services in the last weeks:
a manager opens the project's dashboard from its navigation (charts, their data tables, the annotators' table);
an admin opens the workforce report from the administration navigation and downloads its CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Annotation, Assignment, Review, TaskAgreement
from annotation.services.claim import assignment_claim
from annotation.services.leases import assignment_skip
from annotation.services.quality import project_agreement_recompute, task_agreement_recompute
from annotation.services.review import annotation_review
from annotation.services.submit import annotation_submit
from audit.models import AuditEvent
from core.context import organization_context
from projects.models import Project, Task
from tenancy.models import Membership, Role
from tests.browser.checks import member, page_check
from tests.browser.world import PASSWORD, Lab, make_lab, make_project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMA = {
    "fields": [
        {"name": "verdict", "type": "choices", "options": ["relevant", "irrelevant"]},
        {"name": "confidence", "type": "rating", "min": 1, "max": 5},
    ]
}
TASKS = 24
DAYS = 24


def _labelled(lab: Lab) -> tuple[Project, list[Membership]]:
    """Three annotators answer every task twice over (a gold task among them), a reviewer accepts, rejects and
    corrects, one task is skipped; then the work is spread over the last 24 days, as if done day by day."""
    project = make_project(
        lab,
        name="Search relevance",
        label_schema=SCHEMA,
        overlap=2,
        review_mode="all",
        gold_rate=1.0,  # each annotator's first task is the gold one
        tasks=[{"query": f"query {n}", "page": f"page {n}"} for n in range(TASKS)],
    )
    annotators = [lab.member(Role.ANNOTATOR)] + [
        member(lab.organization, Role.ANNOTATOR, f"{name}@northwind.example") for name in ("ben", "cleo")
    ]
    reviewer = lab.member(Role.REVIEWER)
    now = timezone.now()
    with organization_context(lab.organization.pk), lab.as_owner():
        Task.objects.filter(project=project, external_id="t-1").update(
            is_gold=True, gold_answer={"verdict": "relevant", "confidence": 4}
        )
        first = assignment_claim(actor=annotators[2], project=project).assignment
        assert first is not None
        annotation_submit(
            actor=annotators[2], assignment=first, lease_token=first.lease_token, result=dict(first.task.gold_answer)
        )
        skipped = assignment_claim(actor=annotators[2], project=project).assignment
        assert skipped is not None
        assignment_skip(assignment=skipped, lease_token=skipped.lease_token, reason="Not in my language.")
        turn = 0
        while True:
            claims = [(who, assignment_claim(actor=who, project=project).assignment) for who in annotators]
            if all(a is None for _, a in claims):
                break
            for index, (who, assignment) in enumerate(claims):
                if assignment is None:
                    continue
                n = int(assignment.task.external_id.split("-")[1])
                verdict = "relevant" if (n + index * (n % 3 == 0)) % 2 == 0 else "irrelevant"
                annotation_submit(
                    actor=who,
                    assignment=assignment,
                    lease_token=assignment.lease_token,
                    result={"verdict": verdict, "confidence": 2 + (n + index) % 4},
                    time_spent_ms=3_000 + 1_700 * ((n * 3 + index) % 7),
                )
                turn += 1
        for k, annotation in enumerate(
            Annotation.objects.filter(project=project, review_state="pending").order_by("id")
        ):
            if k % 6 == 5:
                annotation_review(actor=reviewer, annotation=annotation, decision="reject", comment="See rule 3.")
            elif k % 7 == 3:
                corrected = {**annotation.result, "confidence": 5}
                annotation_review(actor=reviewer, annotation=annotation, decision="correct", corrected_result=corrected)
            elif k % 3 != 2:
                annotation_review(actor=reviewer, annotation=annotation, decision="accept")
    # The work's own follow-ups (agreement recomputed after each answer) run once the block above commits; then the
    # work is spread over the last 24 days: task n was answered n days after the first (back from today).
    with organization_context(lab.organization.pk), lab.as_owner():
        for task in Task.objects.filter(project=project):
            n = int(task.external_id.split("-")[1])
            day = now - timedelta(days=DAYS - 1 - n % DAYS, hours=1)
            Annotation.objects.filter(task=task).update(created_at=day)
            Assignment.objects.filter(task=task, finished_at__isnull=False).update(
                finished_at=day, claimed_at=day - timedelta(minutes=4)
            )
            Review.objects.filter(annotation__task=task).update(created_at=day + timedelta(minutes=30))
            task_agreement_recompute(task=task)
            TaskAgreement.objects.filter(task=task).update(computed_at=day)
        project_agreement_recompute(project=project)
    assert turn >= (TASKS - 1) * 2
    return project, annotators


def test_a_manager_reads_the_dashboard_and_an_admin_downloads_the_workforce_report(
    page, live_server, sign_in, axe, screenshot
):
    page.set_default_timeout(10_000)
    lab = make_lab(roles=(Role.OWNER, Role.ADMIN, Role.MANAGER, Role.REVIEWER, Role.ANNOTATOR))
    project, annotators = _labelled(lab)

    sign_in(page, live_server.url, lab.member(Role.MANAGER).user.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.uuid}/")
    nav = page.get_by_role("navigation", name="Project")
    nav.get_by_role("link", name="Dashboard").click()
    page.get_by_role("img", name="Tasks done").wait_for()
    assert nav.get_by_role("link", name="Dashboard").get_attribute("aria-current") == "page"
    for title in ("Annotations submitted per day", "Review decisions per day", "Agreement per field"):
        assert page.get_by_role("img", name=title).is_visible()
    # The legend names each review decision; the data table under a chart has a row per day of the period.
    reviews = page.get_by_role("img", name="Review decisions per day")
    assert reviews.locator(".chart-legend-label").all_text_contents() == ["accepted", "rejected", "corrected"]
    page.get_by_text("Data of “Annotations submitted per day”").click()
    table = page.get_by_role("table", name="Annotations submitted per day")
    assert table.locator("tbody tr").count() == 30
    with organization_context(lab.organization.pk):
        submitted = Annotation.objects.filter(project=project, version=1).count()
    total = sum(int(cell) for cell in table.locator("tbody td").all_inner_texts())
    assert total >= submitted  # answers again after a rejection count too
    page.get_by_text("Data of “Annotations submitted per day”").click()  # folded again
    rows = page.get_by_role("table").filter(has_text="Median time on task").locator("tbody tr")
    assert sorted(rows.locator("th").all_inner_texts()) == sorted(a.user.email for a in annotators)
    page_check(page, axe, screenshot, "dashboard-project")

    # A period in the query string: the last week only.
    since = (timezone.now() - timedelta(days=6)).date().isoformat()
    page.get_by_label("From", exact=True).fill(since)
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**since={since}**")
    assert (
        page.get_by_role("table", name="Annotations submitted per day", include_hidden=True).locator("tbody tr").count()
        == 7
    )

    page.context.clear_cookies()
    admin = lab.member(Role.ADMIN)
    sign_in(page, live_server.url, admin.user.email, PASSWORD)
    page.goto(f"{live_server.url}/members/")
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Workforce").click()
    page.get_by_role("heading", name="Hours and items per member").wait_for()
    report = page.get_by_role("table").filter(has_text="Hours on task")
    members = [text.split("\n")[0] for text in report.locator("tbody th").all_inner_texts()]
    assert sorted(members) == sorted(a.user.email for a in annotators)
    page_check(page, axe, screenshot, "dashboard-workforce")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text())))
    assert rows[0][:4] == ["member_id", "email", "name", "items"]
    assert sorted(row[1] for row in rows[1:]) == sorted(a.user.email for a in annotators)
    with organization_context(lab.organization.pk):
        assert (
            AuditEvent.objects.filter(action="data_access.workforce_export", actor_user_id=admin.user_id).count() == 1
        )
