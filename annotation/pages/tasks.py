"""The data browser, for managers: a project's tasks filtered and sorted, one task whole, and changes to a selection.

Filters live in the query string, so a view of the data (the rejected items, the disputed ones) is a URL to keep
or share. Every page of tasks and every task opened is a read of task data, on the trail like the API's.
"""

import json
import uuid
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from annotation.exports.filters import export_filters_clean
from annotation.exports.services import export_create
from annotation.forms import TaskBulkForm, TaskFilterForm
from annotation.models import ReviewState
from annotation.selectors import task_browser
from annotation.selectors.task_browser import TaskFilters
from annotation.services import task_actions
from core.audit.record import audit_record
from core.errors import DomainError
from projects.models import Project, Task
from projects.pages import project_page, project_render
from projects.services.schema_versions import project_schema
from projects.services.tasks import tasks_priority_set
from tenancy import selectors as tenancy_selectors
from tenancy.models import Membership, Role

# What the browser's address keeps: the filters and the order, never the page position.
FILTER_KEYS = (
    "q",
    "state",
    "review",
    "annotator",
    "field",
    "value",
    "agreement_below",
    "disputed",
    "skipped",
    "gold",
    "created_from",
    "created_to",
    "sort",
)


def _filter_form(request: HttpRequest, project: Project) -> TaskFilterForm:
    schema = project_schema(project)
    members = tenancy_selectors.membership_list().select_related("user").order_by("user__email")
    return TaskFilterForm(
        request.GET,
        fields=list(schema.names) if schema is not None else [],
        annotators=[(str(m.uuid), m.user.email) for m in members],
    )


def _filters(form: TaskFilterForm) -> TaskFilters:
    data = form.cleaned_data
    annotator = None
    if data.get("annotator"):
        annotator = tenancy_selectors.membership_list().filter(uuid=data["annotator"]).first()
    return TaskFilters(
        state=data.get("state") or None,
        annotator=annotator,
        label=(data["field"], data["value"]) if data.get("field") and data.get("value") else None,
        agreement_below=data.get("agreement_below"),
        review=data.get("review") or None,
        disputed=bool(data.get("disputed")),
        gold={"yes": True, "no": False}.get(data.get("gold") or ""),
        skipped=bool(data.get("skipped")),
        created_from=data.get("created_from"),
        created_to=data.get("created_to"),
        text=data.get("q") or "",
        sort=data.get("sort") or "imported",
    )


def _query(params: QueryDict, **changes: Any) -> str:
    """The browser's query string with the filters kept and `changes` applied (None drops a key)."""
    kept = {key: params.get(key) for key in FILTER_KEYS if params.get(key)}
    for key, value in changes.items():
        if value is None:
            kept.pop(key, None)
        else:
            kept[key] = str(value)
    return urlencode(kept)


def _browser_url(project: Project, query: str) -> str:
    url = reverse("project-tasks", args=[project.uuid])
    return f"{url}?{query}" if query else url


@require_GET
@project_page
def project_tasks(request: HttpRequest, membership: Membership, project: Project) -> HttpResponse:
    """The data browser: a keyset page of the project's tasks matching the filters in the address."""
    form = _filter_form(request, project)
    if not form.is_valid():
        return project_render(request, membership, project, "tasks.html", form=form, page=None, status=400, query="")
    data = form.cleaned_data
    page = task_browser.task_browse(
        project=project, filters=_filters(form), after=data.get("after"), before=data.get("before")
    )
    served = [row.task for row in page.rows]
    if served:
        audit_record(
            action="data_access.task_list",
            target=project,
            metadata={"count": len(served), "task_ids": [str(task.uuid) for task in served], "page": "browser"},
        )
    query = _query(request.GET)
    filtered = any(request.GET.get(key) for key in FILTER_KEYS if key != "sort")
    return project_render(
        request,
        membership,
        project,
        "tasks.html",
        form=form,
        page=page,
        query=query,
        filtered=filtered,
        next_url=_browser_url(project, _query(request.GET, after=page.after)) if page.after else None,
        previous_url=_browser_url(project, _query(request.GET, before=page.before)) if page.before else None,
        bulk_form=TaskBulkForm(None),
        back=_browser_url(project, _query(request.GET, after=data.get("after"), before=data.get("before"))),
    )


def _display(value: Any) -> str:
    """An answer as a line of text: lists joined, objects as `key: value` pairs, nothing as a dash."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(_display(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_display(item)}" for key, item in value.items())
    return str(value)


def _answer_rows(project: Project, result: Any) -> list[tuple[str, str]]:
    """(field, answer) in the schema's order, then any key the schema no longer names."""
    if not isinstance(result, dict):
        return [("result", _display(result))]
    schema = project_schema(project)
    names = [name for name in (schema.names if schema is not None else ()) if name in result]
    names += [name for name in result if name not in names]
    return [(name, _display(result[name])) for name in names]


def _data_rows(data: Any) -> list[tuple[str, str, bool]]:
    """(key, value, is_long) for the task's data: text as text, anything nested as indented JSON."""
    rows = []
    for key, value in (data or {}).items():
        if isinstance(value, str):
            rows.append((key, value, len(value) > 200 or "\n" in value))
        else:
            rows.append((key, json.dumps(value, ensure_ascii=False, indent=2), True))
    return rows


def _task_or_404(project: Project, task_id: uuid.UUID) -> Task:
    task = task_browser.task_for_browser(project=project, task_uuid=task_id)
    if task is None:
        raise Http404("No such task.")
    return task


@require_GET
@project_page
def project_task(request: HttpRequest, membership: Membership, project: Project, task_id: uuid.UUID) -> HttpResponse:
    """One task whole: its data, every annotation version with its reviews, agreement, timeline and readers."""
    task = _task_or_404(project, task_id)
    # Recorded before the history is read, so that the page's own reading is the first line of "who saw it".
    audit_record(action="data_access.task_view", target=task, metadata={"project": str(project.uuid), "page": True})
    file = task_browser.task_file(project=project, task=task)
    annotations = [
        {
            "annotation": annotation,
            "answers": _answer_rows(project, annotation.result),
            "reviews": list(annotation.reviews.all()),
            "seconds": annotation.time_spent_ms / 1000,
        }
        for annotation in file.annotations
    ]
    agreement = getattr(task, "agreement", None)
    back = request.GET.get("back", "")
    return project_render(
        request,
        membership,
        project,
        "task.html",
        task=task,
        file=file,
        data_rows=_data_rows(task.data),
        annotations=annotations,
        agreement=agreement,
        agreement_fields=sorted((agreement.fields or {}).items()) if agreement is not None else [],
        gold_answer=_answer_rows(project, task.gold_answer) if task.is_gold and task.gold_answer is not None else [],
        back=back if _is_browser_url(project, back) else _browser_url(project, ""),
        bulk_form=TaskBulkForm(None),
        rejected=ReviewState.REJECTED,
        can_read_audit=membership.role_enum.at_least(Role.ADMIN),
    )


def _is_browser_url(project: Project, url: str) -> bool:
    """Only the project's own browser is a place to go back to: a `back` parameter is never an open redirect."""
    base = reverse("project-tasks", args=[project.uuid])
    return url == base or url.startswith(base + "?")


def _bulk_run(membership: Membership, project: Project, data: dict[str, Any], tasks: list[Task]) -> str:
    """Apply the chosen change to `tasks`; the message to show."""
    action = data["action"]
    if action == "requeue":
        count = task_actions.tasks_requeue(actor=membership, project=project, tasks=tasks)
        return f"{count} task(s) re-queued for one more annotation each."
    if action == "priority":
        count = tasks_priority_set(actor=membership, project=project, tasks=tasks, priority=data["priority"])
        return f"{count} task(s) now have priority {data['priority']}."
    if action in ("gold", "ungold"):
        gold = action == "gold"
        count = task_actions.tasks_gold_set(actor=membership, project=project, tasks=tasks, gold=gold)
        return f"{count} task(s) {'marked' if gold else 'no longer'} gold."
    if action == "adjudicate":
        count = task_actions.tasks_adjudication_request(actor=membership, project=project, tasks=tasks)
        return f"{count} task(s) sent to adjudication."
    filters = export_filters_clean(
        export_format=data.get("format") or "jsonl", raw={"task_ids": [str(t.uuid) for t in tasks]}
    )
    export_create(actor=membership, project=project, export_format=data.get("format") or "jsonl", filters=filters)
    return f"Export of {len(tasks)} task(s) started; it appears on the Exports page."


def _refusal_text(exc: DomainError) -> str:
    details = "; ".join(f"{e.field.removeprefix('tasks.')}: {e.message}" for e in exc.errors[:10])
    more = f" (and {len(exc.errors) - 10} more)" if len(exc.errors) > 10 else ""
    return f"{exc.message} {details}{more}".strip()


@require_POST
@project_page
def project_tasks_bulk(request: HttpRequest, membership: Membership, project: Project) -> HttpResponse:
    """Apply one change to the ticked tasks, all or none, and go back to the same view of the data."""
    form = TaskBulkForm(request.POST)
    back = request.POST.get("back", "")
    to = back if _is_browser_url(project, back) or _is_task_url(project, back) else _browser_url(project, "")
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items())
        messages.error(request, f"Nothing was changed. {problems}")
        return HttpResponseRedirect(to)
    uuids = [value for value in (_uuid(v) for v in form.cleaned_data["tasks"]) if value is not None]
    tasks = task_browser.tasks_by_uuid(project=project, uuids=uuids)
    if not tasks:
        messages.error(request, "Nothing was changed: none of the ticked tasks is in this project.")
        return HttpResponseRedirect(to)
    try:
        text = _bulk_run(membership, project, form.cleaned_data, tasks)
    except DomainError as exc:
        messages.error(request, _refusal_text(exc))
    else:
        messages.success(request, text)
    return HttpResponseRedirect(to)


def _is_task_url(project: Project, url: str) -> bool:
    base = reverse("project-tasks", args=[project.uuid])
    return url.startswith(base) and url.split("?", 1)[0].count("/") == base.count("/") + 1


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
