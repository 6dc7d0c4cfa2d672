"""The signed-in web UI's entry pages: sign in and out, choose an organization, accept an invitation."""

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST
from django.views.defaults import page_not_found

from annotation.my_work import member_work
from audit.context import set_actor
from audit.middleware import client_ip
from audit.services import audit_record_denied
from projects import selectors as project_selectors
from projects import services as project_services
from projects.models import Project
from tenancy import credentials, selectors, services, sign_in, throttling
from tenancy.api.base import ORGANIZATION_SESSION_KEY
from tenancy.context import enter_organization, no_organization
from tenancy.errors import DomainError, FieldError
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
                # written; its refusal is written after this transaction (audit.services).
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


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True}))


class SignInView(LoginView):
    """Sign in. A refused attempt goes on one audit trail, once (tenancy.sign_in); django-axes counts it against the
    account and the client address and, past the limit, answers 429 instead of this page (tenancy.throttling)."""

    template_name = "tenancy/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        sign_in.login_failure_record(
            email=str(form.data.get("username", "")),
            locked_out=bool(getattr(self.request, "axes_locked_out", False)),
            client_address=client_ip(self.request),
        )
        return super().form_invalid(form)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        memberships = selectors.user_memberships(user=form.get_user())
        if memberships:
            self.request.session[ORGANIZATION_SESSION_KEY] = memberships[0].organization.slug
            sign_in.login_record(membership=memberships[0])
        return response


@login_required
def choose_organization(request: HttpRequest) -> HttpResponse:
    memberships = selectors.user_memberships(user=request.user)  # type: ignore[arg-type]
    if request.method == "POST":
        slug = request.POST.get("organization", "")
        if any(m.organization.slug == slug for m in memberships):
            request.session[ORGANIZATION_SESSION_KEY] = slug
            return redirect("home")
        raise Http404
    return render(request, "tenancy/choose_organization.html", {"memberships": memberships})


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    codename = forms.CharField(max_length=100, required=False, help_text="Shown to annotators instead of the name.")
    overlap = forms.IntegerField(min_value=1, max_value=50, initial=1, help_text="Annotations wanted per task.")
    guidelines = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)


def _project_created(project: Project) -> str:
    if project_selectors.project_has_label_fields(project=project):
        return f"Project “{project.name}” created."
    return f"Project “{project.name}” created. Next, define its label fields: what annotators answer for each task."


def _after_project_create(project: Project) -> str:
    """A project made here has no label fields yet, and nothing can be labelled until it has: its owner goes
    straight to the schema page rather than back to a list where the project looks ready."""
    if project_selectors.project_has_label_fields(project=project):
        return reverse("project-overview", args=[project.uuid])
    return reverse("project-schema", args=[project.uuid])


@organization_page
def home(request: HttpRequest, membership: Membership) -> HttpResponse:
    can_manage = membership.role_enum.at_least(Role.MANAGER)
    form = ProjectForm(request.POST or None) if can_manage else None
    if request.method == "POST":
        if form is None:
            audit_record_denied(
                organization_id=membership.organization_id,
                action="access.forbidden",
                target_type="ui:home",
                metadata={"method": "POST"},
            )
            return HttpResponse("Forbidden", status=403)
        saved = form_save(
            request,
            form,
            lambda data: project_services.project_create(actor=membership, **data),
            success=_project_created,
            to=_after_project_create,
        )
        if saved is not None:
            return saved
    projects = list(project_selectors.project_list())
    return render(
        request,
        "tenancy/home.html",
        {
            "membership": membership,
            "organization": membership.organization,
            "projects": projects,
            "form": form,
            "can_manage": can_manage,
            "organizations": selectors.user_memberships(user=membership.user),
            "my_work": member_work(membership=membership),
        },
    )


class InvitationOpenForm(forms.Form):
    key = forms.CharField(label="Invitation link", max_length=2048)

    def clean_key(self) -> str:
        """The secret: the whole value, or what follows the `#` of a pasted link."""
        return str(self.cleaned_data["key"]).strip().rsplit("#", 1)[-1].strip()


class AcceptInvitationForm(forms.Form):
    name = forms.CharField(max_length=200, required=False)
    password = forms.CharField(widget=forms.PasswordInput, strip=False, required=False)


@sensitive_post_parameters("key", "password")
@sensitive_variables("key")
@require_http_methods(["GET", "POST"])
def accept_invitation(request: HttpRequest) -> HttpResponse:
    """Where an invitation link lands. Its secret follows the `#`, which browsers never send, so no URL this server
    receives holds it (nor, therefore, any access log line, proxy or Referer). The page's script posts it
    (static/js/invitation-accept.js); without script, a person pastes the link. A POST with the secret shows the
    invitation; one with `action=accept` accepts it. A wrong secret counts as a failed sign-in."""
    if request.method == "GET":
        return render(request, "tenancy/accept_invitation_open.html", {"form": InvitationOpenForm(), "auto": True})
    opener = InvitationOpenForm(request.POST)
    if not opener.is_valid():
        return render(request, "tenancy/accept_invitation_open.html", {"form": opener}, status=400)
    if not throttling.attempts_allowed(request):
        return throttling.lockout_response(request)
    key = credentials.ShownSecret(opener.cleaned_data["key"])
    with no_organization():
        invitation = services.invitation_find(key)
    if invitation is None:
        # Past the limit, axes' middleware answers this request with the lockout page instead.
        throttling.attempt_failed(request)
        return render(request, "tenancy/invitation_invalid.html", status=404)
    signed_in = request.user if request.user.is_authenticated else None
    form = AcceptInvitationForm(request.POST if request.POST.get("action") == "accept" else None)
    if form.is_valid():
        try:
            with no_organization():
                membership = services.invitation_accept(raw_key=key, user=signed_in, **form.cleaned_data)
        except DomainError as exc:
            # The secret (`token`) is not a field of this form: its errors are said above it.
            for error in exc.errors or [FieldError("", exc.message)]:
                form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            if signed_in is None:  # the account was made just now, for the address the link was mailed to
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            request.session[ORGANIZATION_SESSION_KEY] = membership.organization.slug
            return redirect("home")
    context = {"invitation": invitation, "key": key, "form": form, "login_next": reverse("accept-invitation")}
    response = render(request, "tenancy/accept_invitation.html", context, status=400 if form.errors else 200)
    response["Cache-Control"] = "no-store"  # the page holds the secret in its form
    return response


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    from django.contrib.auth import logout

    logout(request)
    return redirect("login")
