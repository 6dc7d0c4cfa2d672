"""The dashboards: a project's, for its managers (progress, throughput, review outcomes, agreement and each
annotator's record, as charts with their tables), and the organization's workforce report, for its admins (hours
and items per member, with a CSV download that goes on the audit trail).

The period is in the query string (`since`, `until`, whole UTC days, both included; the last 30 days when absent),
so a dashboard can be bookmarked and shared."""

from datetime import UTC, date, datetime
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotation import charts
from annotation.selectors import analytics
from annotation.selectors.analytics import Period
from annotation.services.workforce import workforce_export
from projects.models import Project
from projects.pages import project_page, project_render
from projects.selectors import project_list
from tenancy.models import Membership, Role
from tenancy.pages.base import role_page

DAY_UNIT = "Day (UTC)"


class PeriodForm(forms.Form):
    """The days a dashboard covers; both ends included."""

    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        until = data.get("until") or _today()
        since = data.get("since") or Period.ending(until).since
        if since > until:
            self.add_error("since", "Must be on or before the end of the period.")
        elif (until - since).days + 1 > analytics.PERIOD_MAX_DAYS:
            self.add_error("since", f"A period is at most {analytics.PERIOD_MAX_DAYS} days.")
        data["period"] = Period(since=since, until=until)
        return data


def _today() -> date:
    return datetime.now(tz=UTC).date()


def _period(request: HttpRequest) -> tuple[PeriodForm, Period | None]:
    form = PeriodForm(request.GET or {})
    if not form.is_valid():
        return form, None
    period: Period = form.cleaned_data["period"]
    form = PeriodForm(initial={"since": period.since, "until": period.until})
    return form, period


def _day(day: date) -> str:
    return day.strftime("%b %-d")


def _dashboard_charts(project: Project, period: Period) -> list[charts.Chart]:
    days = [_day(d) for d in period.days()]
    first, last = days[0], days[-1]

    def by_day(chart_id: str, title: str, description: str, y_unit: str) -> charts.Frame:
        return charts.Frame(chart_id, title, description, days, DAY_UNIT, y_unit)

    completion = analytics.project_completion(project=project, period=period)
    done = [n for _, n in completion.done_by_day]
    submissions = [n for _, n in analytics.project_submissions_by_day(project=project, period=period)]
    reviews = [counts for _, counts in analytics.project_review_outcomes_by_day(project=project, period=period)]
    agreement = analytics.project_agreement_by_day(project=project, period=period)
    decided = (("accept", "accepted"), ("reject", "rejected"), ("correct", "corrected"))
    drawn = [
        charts.line_chart(
            by_day(
                "chart-completion",
                "Tasks done",
                f"Live tasks done by the end of each day: {done[-1]:,} of {completion.total:,} on {last}, "
                f"{done[-1] - done[0]:,} more than on {first}.",
                "tasks (cumulative)",
            ),
            [charts.Series("tasks done", done)],
            y_top=completion.total,
            area=True,
        ),
        charts.bar_chart(
            by_day(
                "chart-throughput",
                "Annotations submitted per day",
                f"{sum(submissions):,} annotations submitted from {first} to {last}, "
                f"at most {max(submissions):,} in a day.",
                "annotations per day",
            ),
            [charts.Series("annotations", submissions)],
        ),
        charts.bar_chart(
            by_day(
                "chart-reviews",
                "Review decisions per day",
                ", ".join(f"{sum(c[d] for c in reviews):,} {label}" for d, label in decided)
                + f" from {first} to {last}.",
                "decisions per day",
            ),
            [charts.Series(label, [c[d] for c in reviews]) for d, label in decided],
        ),
    ]
    if agreement:
        drawn.append(
            charts.line_chart(
                by_day(
                    "chart-agreement",
                    "Agreement per field",
                    "Mean agreement (0 to 1) of the tasks scored each day: "
                    + "; ".join(f"{f.name} over {f.tasks:,} task scores" for f in agreement)
                    + ".",
                    "agreement (0 to 1)",
                ),
                [charts.Series(f.name, [v for _, v in f.by_day]) for f in agreement],
                y_top=1.0,
                whole=False,
            )
        )
    return drawn


@require_GET
@project_page
def project_dashboard(request: HttpRequest, membership: Membership, project: Project) -> HttpResponse:
    """Charts of the project's progress over the period, and each annotator's record in it."""
    form, period = _period(request)
    if period is None:
        return project_render(request, membership, project, "dashboard.html", form=form, status=400)
    return project_render(
        request,
        membership,
        project,
        "dashboard.html",
        form=form,
        period=period,
        charts=_dashboard_charts(project, period),
        annotators=analytics.project_annotator_records(project=project, period=period),
    )


class WorkforceForm(PeriodForm):
    project = forms.TypedChoiceField(label="Project", required=False, coerce=str, empty_value="")

    def __init__(self, *args: Any, projects: list[Project], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "All projects"), *((str(p.uuid), p.name) for p in projects)]
        self.fields["project"].choices = choices  # type: ignore[attr-defined]


def _workforce_query(request: HttpRequest) -> tuple[WorkforceForm, Period | None, Project | None]:
    projects = list(project_list().order_by("name", "id"))
    form = WorkforceForm(request.GET or {}, projects=projects)
    if not form.is_valid():
        return form, None, None
    period: Period = form.cleaned_data["period"]
    chosen = form.cleaned_data["project"]
    # The field accepts only the organization's projects, so a chosen id is always among them.
    project = next((p for p in projects if str(p.uuid) == chosen), None)
    shown = WorkforceForm(initial={"since": period.since, "until": period.until, "project": chosen}, projects=projects)
    return shown, period, project


@require_GET
@role_page(Role.ADMIN)
def workforce(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Hours and items per member over a period, across the organization or on one project."""
    form, period, project = _workforce_query(request)
    context: dict[str, Any] = {
        "membership": membership,
        "organization": membership.organization,
        "heading": "Workforce",
        "form": form,
    }
    if period is None:
        return render(request, "annotation/workforce.html", context, status=400)
    rows = analytics.workforce_report(period=period, project=project)
    totals = {
        "items": sum(r.items for r in rows),
        "hours_on_task": sum(r.hours_on_task for r in rows),
        "hours_leased": sum(r.hours_leased for r in rows),
        "skipped": sum(r.skipped for r in rows),
    }
    export_query = request.GET.urlencode()
    context.update(period=period, project=project, rows=rows, totals=totals, export_query=export_query)
    return render(request, "annotation/workforce.html", context)


@require_GET
@role_page(Role.ADMIN)
def workforce_csv(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The workforce report as a CSV file; the service records the download in this request's transaction."""
    form, period, project = _workforce_query(request)
    if period is None:
        return render(
            request,
            "annotation/workforce.html",
            {"membership": membership, "organization": membership.organization, "heading": "Workforce", "form": form},
            status=400,
        )
    text = workforce_export(actor=membership, period=period, project=project)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    name = f"workforce-{period.since.isoformat()}-{period.until.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
