"""The web UI's entry pages: sign in and out, choose an organization, accept an invitation."""

import logging

from django import forms
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from core import credentials
from core.context import no_organization
from core.errors import DomainError, FieldError
from core.middleware import client_ip
from tenancy import selectors, throttling
from tenancy.api.base import ORGANIZATION_SESSION_KEY
from tenancy.services import invitations, sign_in

logger = logging.getLogger(__name__)


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True}))


class SignInView(LoginView):
    """Sign in. A refused attempt goes on one audit trail, once (tenancy.services.sign_in); django-axes counts it
    against the account and the client address and, past the limit, answers 429 instead of this page
    (tenancy.throttling)."""

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
        invitation = invitations.invitation_find(key)
    if invitation is None:
        # Past the limit, axes' middleware answers this request with the lockout page instead.
        throttling.attempt_failed(request)
        return render(request, "tenancy/invitation_invalid.html", status=404)
    signed_in = request.user if request.user.is_authenticated else None
    form = AcceptInvitationForm(request.POST if request.POST.get("action") == "accept" else None)
    if form.is_valid():
        try:
            with no_organization():
                membership = invitations.invitation_accept(raw_key=key, user=signed_in, **form.cleaned_data)
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
