"""What every signed-in page stands on: the organization of the session, resolved once and entered for one
transaction; role checks with a recorded 403; and the form helpers that put a service's refusal on its field."""

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.defaults import page_not_found

from core.audit.context import set_actor
from core.audit.record import audit_record_denied
from core.context import enter_organization, no_organization
from core.errors import DomainError
from tenancy import selectors
from tenancy.api.base import ORGANIZATION_SESSION_KEY
from tenancy.models import Membership, Role

logger = logging.getLogger(__name__)


def organization_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A signed-in page acting for the session's organization, in one transaction scoped to that tenant."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with no_organization(), transaction.atomic():
            try:
                membership = selectors.membership_for_session(
                    user=request.user,  # type: ignore[arg-type]
                    chosen_slug=request.session.get(ORGANIZATION_SESSION_KEY),
                )
            except selectors.AmbiguousOrganization:
                return redirect("choose-organization")
            if membership is None:
                request.session.pop(ORGANIZATION_SESSION_KEY, None)
                return redirect("choose-organization")
            enter_organization(membership.organization_id)
            set_actor(user_id=membership.user_id, user_label=membership.user.email)
            response = view(request, membership, *args, **kwargs)
            if response.status_code >= 400:
                # As the API's (tenancy.api.base.RequestTransactionMixin): an error page leaves nothing half
                # written; its refusal is written after this transaction (audit.services.recording).
                transaction.set_rollback(True)
            return response

    return wrapper


def _record_denied(request: HttpRequest, membership: Membership, action: str) -> None:
    audit_record_denied(
        organization_id=membership.organization_id,
        action=action,
        target_type=f"ui:{request.resolver_match.url_name}" if request.resolver_match else "ui",
        metadata={"method": request.method, "path": request.path[:512]},
    )


def page_forbidden(
    request: HttpRequest, membership: Membership, *, needed: Role | None = None, reason: str = ""
) -> HttpResponse:
    """403 for a role too low for the page (or another `reason`, said as is), recorded on the trail like any
    refused API call."""
    _record_denied(request, membership, "access.forbidden")
    context = {
        "membership": membership,
        "organization": membership.organization,
        "needed": needed.value if needed is not None else "",
        "reason": reason,
    }
    return render(request, "tenancy/forbidden.html", context, status=403)


def role_page(needed: Role) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """An `organization_page` open to members holding `needed` or a higher role; the others get a recorded 403."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @organization_page
        @wraps(view)
        def wrapper(request: HttpRequest, membership: Membership, *args: Any, **kwargs: Any) -> HttpResponse:
            if not membership.role_enum.at_least(needed):
                return page_forbidden(request, membership, needed=needed)
            try:
                return view(request, membership, *args, **kwargs)
            except Http404 as exc:
                # Answered here rather than raised, so that the refusal is recorded: someone asked for an id this
                # organization does not have (or another's). It outlives the page's rolled-back transaction.
                _record_denied(request, membership, "access.not_found")
                return page_not_found(request, exc)

        return wrapper

    return decorate


def form_errors_from(form: forms.Form, exc: DomainError, *, inputs: dict[str, str] | None = None) -> None:
    """Put a service's refusal on the form: each named field on its input (`inputs` maps a service's field name
    to the form's where they differ), the rest above the form."""
    if not exc.errors:
        form.add_error(None, exc.message)
    for error in exc.errors:
        # "filters.status" and "languages[2]" belong to the inputs named "status" and "languages".
        path = (inputs or {}).get(error.field, error.field.split("[", 1)[0])
        name = next((n for n in (path, path.split(".", 1)[0], path.rsplit(".", 1)[-1]) if n in form.fields), None)
        form.add_error(name, error.message if name or not error.field else f"{error.field}: {error.message}")


def form_save(
    request: HttpRequest,
    form: forms.Form,
    save: Callable[[dict[str, Any]], Any],
    *,
    success: Callable[[Any], str],
    to: str | Callable[[Any], str],
) -> HttpResponse | None:
    """Check a posted form and hand its data to a service: on success say so and redirect (so a reload never
    repeats the change) to `to`, or to `to(result)` where the next page depends on what was saved; otherwise None,
    with the errors on the form, for the page to render again."""
    if not form.is_valid():
        return None
    try:
        result = save(form.cleaned_data)
    except DomainError as exc:
        form_errors_from(form, exc)
        return None
    messages.success(request, success(result))
    return HttpResponseRedirect(to(result) if callable(to) else to)


def action_run(request: HttpRequest, change: Callable[[], Any], *, success: str) -> None:
    """A one-button change (revoke, pause…): its outcome, or the service's refusal, becomes the next page's message."""
    try:
        change()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
