"""The dashboards' figures, from the small labelled world of tests.annotation.analytics_support."""

from annotation.selectors.analytics import (
    project_agreement_by_day,
    project_annotator_records,
    project_completion,
    project_review_outcomes_by_day,
    project_submissions_by_day,
    workforce_report,
)
from annotation.services.quality import annotator_pseudonym
from tests.annotation.analytics_support import DEC_1, DEC_2, DEC_3, PERIOD
from tests.annotation.analytics_support import world as world  # a fixture: pytest finds it by this name


def test_completion_counts_tasks_done_by_the_end_of_each_day(world):
    completion = project_completion(project=world.project, period=PERIOD)

    assert completion.total == 5  # live tasks; the gold task is not among them
    assert completion.done_by_day == [(DEC_1, 1), (DEC_2, 2), (DEC_3, 3)]


def test_submissions_per_day_leave_out_corrections(world):
    assert project_submissions_by_day(project=world.project, period=PERIOD) == [(DEC_1, 2), (DEC_2, 3), (DEC_3, 3)]


def test_review_outcomes_per_day(world):
    assert project_review_outcomes_by_day(project=world.project, period=PERIOD) == [
        (DEC_1, {"accept": 0, "reject": 0, "correct": 0}),
        (DEC_2, {"accept": 1, "reject": 0, "correct": 1}),
        (DEC_3, {"accept": 0, "reject": 1, "correct": 0}),
    ]


def test_agreement_per_field_by_the_day_it_was_computed(world):
    fields = project_agreement_by_day(project=world.project, period=PERIOD)

    assert [(f.name, f.by_day, f.tasks) for f in fields] == [
        ("label", [(DEC_1, None), (DEC_2, 1.0), (DEC_3, 0.0)], 2),
        ("score", [(DEC_1, None), (DEC_2, 0.5), (DEC_3, None)], 1),
    ]


def test_each_annotators_record(world):
    records = project_annotator_records(project=world.project, period=PERIOD)

    assert [
        (
            r.name,
            r.submitted,
            r.median_seconds,
            r.gold_scored,
            r.gold_accuracy,
            r.reviewed,
            r.rejected,
            r.rejection_rate,
            r.skipped,
            r.peer_agreement,
            r.peer_items,
        )
        for r in records
    ] == [
        ("a@lab.example", 4, 4.0, 1, 1.0, 2, 1, 0.5, 0, 0.6, 5),
        ("b@lab.example", 3, 2.0, 1, 0.5, 1, 0, 0.0, 0, 0.75, 4),
        ("c@lab.example", 1, 8.0, 0, None, 0, 0, None, 1, 0.0, 1),
    ]


def test_a_blind_project_names_annotators_by_pseudonym(world):
    type(world.project).objects.filter(pk=world.project.pk).update(blind=True)
    world.project.refresh_from_db()

    names = [r.name for r in project_annotator_records(project=world.project, period=PERIOD)]

    assert names == [
        annotator_pseudonym(project_uuid=world.project.uuid, member_uuid=m.uuid) for m in (world.a, world.b, world.c)
    ]
    assert all(name.startswith("anon-") for name in names)


def test_the_workforce_report_across_projects(world):
    rows = workforce_report(period=PERIOD)

    assert [
        (r.member.user.email, r.items, round(r.hours_on_task, 6), r.projects, r.leases, r.hours_leased, r.skipped)
        for r in rows
    ] == [
        ("a@lab.example", 5, round(3_612_000 / 3_600_000, 6), 2, 1, 0.5, 0),
        ("b@lab.example", 3, round(4000 / 3_600_000, 6), 1, 0, 0.0, 0),
        ("c@lab.example", 1, round(8000 / 3_600_000, 6), 1, 1, 0.25, 1),
    ]


def test_the_workforce_report_of_one_project(world):
    rows = workforce_report(period=PERIOD, project=world.other)

    assert [(r.member.user.email, r.items, r.hours_on_task, r.projects, r.leases) for r in rows] == [
        ("a@lab.example", 1, 1.0, 1, 0)
    ]
