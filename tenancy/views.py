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
from django.views.decorators.http import require_POST

from audit.context import set_actor
from audit.services import audit_record, audit_record_denied
from projects import selectors as project_selectors
from projects import services as project_services
from tenancy import selectors, services
from tenancy.api.base import ORGANIZATION_SESSION_KEY
from tenancy.context import enter_organization, no_organization
from tenancy.errors import DomainError
from tenancy.models import Membership, Role, User

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
            return view(request, membership, *args, **kwargs)

    return wrapper


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True}))


class SignInView(LoginView):
    """Sign in; failures go on the trail of every organization the named account belongs to."""

    template_name = "tenancy/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        email = str(form.data.get("username", "")).strip().lower()
        user = User.objects.filter(email=email).first()
        if user is not None:
            for membership in selectors.user_memberships(user=user):
                audit_record_denied(
                    organization_id=membership.organization_id,
                    action="auth.login_failed",
                    target_type="tenancy.user",
                    target_id=str(user.uuid),
                )
        else:
            logger.warning("auth.login_failed_unknown_account", extra={"ip": self.request.META.get("REMOTE_ADDR")})
        return super().form_invalid(form)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        memberships = selectors.user_memberships(user=form.get_user())
        if memberships:
            self.request.session[ORGANIZATION_SESSION_KEY] = memberships[0].organization.slug
            _record_login(memberships[0])
        return response


def _record_login(membership: Membership) -> None:
    from tenancy.context import organization_context

    with organization_context(membership.organization_id):
        set_actor(user_id=membership.user_id, user_label=membership.user.email)
        audit_record(action="auth.login", target=membership.user)


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
        if form.is_valid():
            try:
                project = project_services.project_create(actor=membership, **form.cleaned_data)
            except DomainError as exc:
                for error in exc.errors:
                    form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, f"Project “{project.name}” created.")
                return HttpResponseRedirect(reverse("home"))
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
        },
    )


class AcceptInvitationForm(forms.Form):
    name = forms.CharField(max_length=200, required=False)
    password = forms.CharField(widget=forms.PasswordInput, strip=False, required=False)


def accept_invitation(request: HttpRequest, key: str) -> HttpResponse:
    """Join an organization from an invitation link; creates the account when the email is new."""
    with no_organization():
        invitation = services.invitation_find(key)
        if invitation is None:
            return render(request, "tenancy/invitation_invalid.html", status=404)
        existing = User.objects.filter(email=invitation.email).exists()
        form = AcceptInvitationForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            signed_in = request.user if request.user.is_authenticated else None
            try:
                membership = services.invitation_accept(raw_key=key, user=signed_in, **form.cleaned_data)
            except DomainError as exc:
                if not exc.errors:
                    form.add_error(None, exc.message)
                for error in exc.errors:
                    form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
                request.session[ORGANIZATION_SESSION_KEY] = membership.organization.slug
                return redirect("home")
    return render(
        request,
        "tenancy/accept_invitation.html",
        {
            "invitation": invitation,
            "form": form,
            "existing_account": existing,
        },
    )


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    from django.contrib.auth import logout

    logout(request)
    return redirect("login")
