"""`{% load model_budget %}{% model_budget_panel %}`: a project's model budget where the project's settings are.

The settings page belongs to the projects app, which must not import this one; the panel is therefore drawn by this
app's own tag, from the page's `membership` and `project` (and `budget_form`, a refused form to show again)."""

from typing import Any

from django import template

from llm import config, permissions, selectors
from llm.forms import ModelBudgetForm
from llm.models import ModelBudget
from tenancy.permissions import allows

register = template.Library()


@register.inclusion_tag("llm/_budget_panel.html", takes_context=True)
def model_budget_panel(context: template.Context) -> dict[str, Any]:
    membership, project = context["membership"], context["project"]
    if not allows(permissions.budget_read(membership)):
        return {"shown": False}
    # A project that never used a model has no row yet: it is shown with the defaults it would get.
    budget = selectors.budget_for(project=project) or ModelBudget(
        project=project, token_limit=config.default_token_limit(), max_concurrent=config.default_max_concurrent()
    )
    may_change = allows(permissions.budget_change(membership))
    form = (context.get("budget_form") or ModelBudgetForm.for_budget(budget)) if may_change else None
    limit = budget.token_limit
    return {
        "shown": True,
        "project": project,
        "budget": budget,
        "running": selectors.running_call_count(project=project),
        "percent": min(100, round(budget.tokens_used * 100 / limit)) if limit else (100 if limit == 0 else None),
        "form": form,
        "csrf_token": context.get("csrf_token"),
    }
