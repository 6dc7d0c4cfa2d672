"""The judge on a project's quality page: how its latest run compares with the experts, and the form that starts,
resumes or cancels a run (managers and above; the services check again)."""

import uuid
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_POST

from annotation.selectors.judge import JudgeAgreement, judge_agreement
from core.errors import InvalidInput
from llm import permissions as llm_permissions
from llm.judge_prompt import INSTRUCTION_MAX_CHARS
from llm.models import JudgeRunState
from llm.selectors import connection_get, connection_list, judge_run_latest, judge_run_list
from llm.services.judge import judge_fields_available, judge_run_cancel, judge_run_resume, judge_run_start
from projects.models import Project
from projects.pages import project_page, project_url
from tenancy.models import Membership
from tenancy.pages.base import action_run
from tenancy.permissions import allows


class JudgeRunForm(forms.Form):
    connection = forms.ChoiceField(label="Model", help_text="The model connection that judges.")
    field_names = forms.MultipleChoiceField(
        label="Fields",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every field a judge can answer.",
    )
    instruction = forms.CharField(
        label="Instruction",
        required=False,
        max_length=INSTRUCTION_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Put before the prompt built from the schema, the guidelines and the task.",
    )

    def __init__(self, project: Project, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["connection"]).choices = [
            (str(c.uuid), f"{c.name} ({c.model})") for c in connection_list().filter(enabled=True)
        ]
        cast(forms.ChoiceField, self.fields["field_names"]).choices = [
            (f.name, f"{f.label or f.name} ({f.type})") for f in judge_fields_available(project=project)
        ]


def judge_panel(membership: Membership, project: Project, form: JudgeRunForm | None = None) -> dict[str, Any]:
    """What the quality page shows of the judge: the latest run, its comparison with the experts, the form."""
    run = judge_run_latest(project=project)
    agreement: JudgeAgreement | None = judge_agreement(project=project, run=run) if run is not None else None
    can_run = allows(llm_permissions.judge_run(membership))
    form = (form or JudgeRunForm(project)) if can_run else None
    return {
        "run": run,
        "agreement": agreement,
        "runs": judge_run_list(project=project).count(),
        "can_run": can_run,
        "can_resume": run is not None and run.state in (JudgeRunState.PAUSED, JudgeRunState.FAILED),
        "can_cancel": run is not None and not run.finished,
        "form": form if can_run else None,
        "connections": bool(form is not None and cast(forms.ChoiceField, form.fields["connection"]).choices),
        "fields_available": bool(judge_fields_available(project=project)),
    }


@require_POST
@project_page
def project_judge(request: HttpRequest, membership: Membership, project: Project) -> HttpResponse:
    """Start a run from the form, or resume or cancel the run the form names; back to the quality page."""
    to = project_url("project-quality", project) + "#judge"
    action = request.POST.get("action", "start")
    if action in ("resume", "cancel"):
        run_id = _uuid_or_none(request.POST.get("run"))
        run = judge_run_list(project=project).filter(uuid=run_id).first() if run_id is not None else None
        if run is None:
            action_run(request, _missing_run, success="")
        elif action == "resume":
            action_run(request, lambda: judge_run_resume(actor=membership, run=run), success="The judge run resumes.")
        else:
            action_run(
                request, lambda: judge_run_cancel(actor=membership, run=run), success="The judge run is cancelled."
            )
        return HttpResponseRedirect(to)
    form = JudgeRunForm(project, request.POST)
    if not form.is_valid():
        # The panel is small: the form's problems become the page's message rather than a second rendering of it.
        problems = "; ".join(
            f"{form.fields[name].label}: {' '.join(map(str, errors))}" for name, errors in form.errors.items()
        )
        messages.error(request, f"The judge run was not started. {problems}")
        return HttpResponseRedirect(to)
    data = form.cleaned_data
    action_run(
        request,
        lambda: judge_run_start(
            actor=membership,
            project=project,
            connection=connection_get(uuid=data["connection"]),
            fields=list(data["field_names"]) or None,
            instruction=data["instruction"],
        ),
        success="The judge run started; it works through the answered tasks in the background.",
    )
    return HttpResponseRedirect(to)


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _missing_run() -> None:
    raise InvalidInput("No such judge run in this project.")
