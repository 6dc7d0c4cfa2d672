"""Owners' and admins' pages: members, roles, skills and invitations; API tokens; the organization's settings.

Every change goes through the tenancy services, which enforce who may do what to whom and record the audit
event; a refusal comes back as a message or as an error on the form's field. What the pages offer is decided by the
same rules (tenancy.permissions)."""

import uuid
from collections.abc import Callable
from datetime import datetime, time
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import DomainError
from tenancy import config, permissions, selectors
from tenancy.models import SKILL_LEVEL_MAX, SKILL_LEVEL_MIN, Membership, Role
from tenancy.pages.base import action_run, form_errors_from, form_save, page_forbidden, role_page
from tenancy.services import invitations, skills
from tenancy.services.invitation_links import invitation_links_from_mail
from tenancy.services.members import membership_pause, membership_remove, membership_unpause, membership_update_role
from tenancy.services.organizations import organization_update
from tenancy.services.tokens import api_token_create, api_token_revoke

ROLE_CHOICES = [(role.value, role.label) for role in Role]


def _role_choices(roles: list[Role]) -> list[tuple[str, str]]:
    return [(role.value, role.label) for role in roles]


class InviteForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Role.ANNOTATOR.value)

    def __init__(self, *args: Any, actor: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["role"]).choices = _role_choices(permissions.roles_grantable(actor))


class SkillDefineForm(forms.Form):
    name = forms.SlugField(label="New skill", max_length=64, help_text="Lowercase, e.g. radiology.")
    description = forms.CharField(max_length=300, required=False)


class SkillSetForm(forms.Form):
    member = forms.TypedChoiceField(coerce=str)
    skill = forms.TypedChoiceField(coerce=str)
    level = forms.IntegerField(
        min_value=SKILL_LEVEL_MIN,
        max_value=SKILL_LEVEL_MAX,
        help_text=f"{SKILL_LEVEL_MIN} (novice) to {SKILL_LEVEL_MAX} (expert).",
    )

    def __init__(self, *args: Any, members: list[Membership], skill_names: list[tuple[str, str]], **kw: Any) -> None:
        super().__init__(*args, **kw)
        cast(forms.ChoiceField, self.fields["member"]).choices = [(str(m.uuid), m.user.email) for m in members]
        cast(forms.ChoiceField, self.fields["skill"]).choices = skill_names


def _invitation_rows(membership: Membership, issued: invitations.IssuedInvitation | None) -> list[dict[str, Any]]:
    """The pending invitations, each with its link where an admin may copy it (tenancy.services.invitation_links
    says when; never with a backend that really sends mail)."""
    pending = [i for i in selectors.invitation_list().order_by("-id") if i.status == "pending"]
    shown = permissions.allows(permissions.invitation_links_read(membership)) and config.mail_stays_local()
    links = invitation_links_from_mail(invitations=pending) if shown else {}
    if shown and issued is not None:
        # Just created: its mail goes out after this transaction commits, so it is not on disk yet.
        links[issued.invitation.pk] = issued.accept_url
    return [{"invitation": i, "link": links.get(i.pk), "links_shown": shown} for i in pending]


def _members_page(
    request: HttpRequest, membership: Membership, *, issued: invitations.IssuedInvitation | None = None, **forms_: Any
) -> HttpResponse:
    members = list(selectors.membership_list())
    levels = selectors.member_skill_list_by_member()
    skill_names = [(str(s.uuid), s.name) for s in selectors.skill_list()]
    status = 400 if any(f.errors for f in forms_.values()) else 200
    pending = _invitation_rows(membership, issued)
    rows = [
        {
            "member": m,
            "skills": levels.get(m.pk, []),
            "manageable": permissions.allows(permissions.member_manage(membership, m)),
        }
        for m in members
    ]
    context = {
        "membership": membership,
        "organization": membership.organization,
        "rows": rows,
        "roles": _role_choices(permissions.roles_grantable(membership)),
        "invitations": pending,
        "mail_to_file": config.mail_file_path() is not None,
        "invite_form": forms_.get("invite_form") or InviteForm(actor=membership),
        "skill_define_form": forms_.get("skill_define_form") or SkillDefineForm(prefix="define"),
        "skill_set_form": forms_.get("skill_set_form")
        or SkillSetForm(prefix="level", members=members, skill_names=skill_names),
        "has_skills": bool(skill_names),
        "may_invite": permissions.allows(permissions.invitation_create(membership)),
        "may_revoke_invitations": permissions.allows(permissions.invitation_revoke(membership)),
        "may_define_skills": permissions.allows(permissions.skill_create(membership)),
    }
    response = render(request, "tenancy/members.html", context, status=status)
    if issued is not None or any(row["link"] for row in pending):
        response["Cache-Control"] = "no-store"  # a link carries the invitation's secret: never kept by a cache
    return response


def _invite(request: HttpRequest, membership: Membership, invite: InviteForm) -> HttpResponse:
    """Create the invitation. Where mail really leaves (SMTP…), the link goes by mail only and the page redirects
    as any form does. Where it stays on this machine, this response shows the link once for the admin to pass on
    (see tenancy.services.invitation_links): a redirect would leave nothing to show it on."""

    def create(data: dict[str, Any]) -> invitations.IssuedInvitation:
        return invitations.invitation_create(
            actor=membership, organization=membership.organization, email=data["email"], role=Role(data["role"])
        )

    if not config.mail_stays_local():
        saved = form_save(
            request,
            invite,
            create,
            success=lambda issued: f"Invitation sent to {issued.invitation.email}.",
            to=reverse("members"),
        )
        return saved or _members_page(request, membership, invite_form=invite)
    if invite.is_valid():
        try:
            issued = create(invite.cleaned_data)
        except DomainError as exc:
            form_errors_from(invite, exc)
        else:
            messages.success(
                request,
                f"Invitation created for {issued.invitation.email}. Mail does not leave this machine here: copy "
                "the link below and pass it on yourself.",
            )
            return _members_page(request, membership, issued=issued)
    return _members_page(request, membership, invite_form=invite)


def _skill_level_set(actor: Membership, members: list[Membership], data: dict[str, Any]) -> str:
    target = next(m for m in members if str(m.uuid) == data["member"])
    skill = selectors.skill_list().get(uuid=data["skill"])
    skills.member_skill_set(actor=actor, membership=target, skill=skill, level=data["level"])
    return f"{target.user.email}: {skill.name} level {data['level']}."


@require_http_methods(["GET", "POST"])
@role_page(Role.MANAGER)
def members(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Who is in the organization, with which role and skills. Managers record verified skill levels; owners and
    admins also invite people and define skills."""
    if request.method != "POST":
        return _members_page(request, membership)
    action, to = request.POST.get("action"), reverse("members")
    admins_only = {"invite": permissions.invitation_create, "define_skill": permissions.skill_create}
    if action in admins_only and not permissions.allows(admins_only[action](membership)):
        return page_forbidden(request, membership, needed=Role.ADMIN)
    if action == "invite":
        return _invite(request, membership, InviteForm(request.POST, actor=membership))
    if action == "define_skill":
        define = SkillDefineForm(request.POST, prefix="define")
        saved = form_save(
            request,
            define,
            lambda data: skills.skill_create(actor=membership, **data),
            success=lambda skill: f"Skill “{skill.name}” defined.",
            to=to,
        )
        return saved or _members_page(request, membership, skill_define_form=define)
    if action == "set_skill":
        everyone = list(selectors.membership_list())
        names = [(str(s.uuid), s.name) for s in selectors.skill_list()]
        level = SkillSetForm(request.POST, prefix="level", members=everyone, skill_names=names)
        saved = form_save(request, level, lambda data: _skill_level_set(membership, everyone, data), success=str, to=to)
        return saved or _members_page(request, membership, skill_set_form=level)
    return HttpResponse("Unknown action", status=400)


MEMBER_ACTIONS: dict[str, tuple[Callable[[Membership, Membership], object], str]] = {
    "pause": (
        lambda actor, target: membership_pause(actor=actor, membership=target, reason="paused by an admin"),
        "{email} is paused: no new work is routed to them.",
    ),
    "unpause": (
        lambda actor, target: membership_unpause(actor=actor, membership=target),
        "{email} may take work again.",
    ),
    "remove": (
        lambda actor, target: membership_remove(actor=actor, membership=target),
        "{email} was removed.",
    ),
}


@require_POST
@role_page(Role.ADMIN)
def member_update(request: HttpRequest, membership: Membership, member_id: uuid.UUID) -> HttpResponse:
    """Change a member's role, pause or unpause them, or remove them."""
    target = selectors.membership_list().filter(uuid=member_id).first()
    if target is None:
        raise Http404("No such member.")
    action, email = request.POST.get("action", ""), target.user.email
    if action == "role":
        role = request.POST.get("role", "")
        if role not in Role.values:
            return HttpResponse(f"role: “{role}” is not a role.", status=400)
        action_run(
            request,
            lambda: membership_update_role(actor=membership, membership=target, role=Role(role)),
            success=f"{email} is now {role}.",
        )
    elif action in MEMBER_ACTIONS:
        change, done = MEMBER_ACTIONS[action]
        action_run(request, lambda: change(membership, target), success=done.format(email=email))
    else:
        return HttpResponse("action: must be role, pause, unpause or remove.", status=400)
    return HttpResponseRedirect(reverse("members"))


@require_POST
@role_page(Role.ADMIN)
def invitation_revoke(request: HttpRequest, membership: Membership, invitation_id: uuid.UUID) -> HttpResponse:
    invitation = selectors.invitation_list().filter(uuid=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation.")
    action_run(
        request,
        lambda: invitations.invitation_revoke(actor=membership, invitation=invitation),
        success=f"The invitation of {invitation.email} was revoked.",
    )
    return HttpResponseRedirect(reverse("members"))


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. nightly export job.")
    role = forms.ChoiceField(choices=ROLE_CHOICES, help_text="At most your own role.")
    expires_on = forms.DateField(
        required=False, label="Expires on", widget=forms.DateInput(attrs={"type": "date"}), help_text="Empty: never."
    )

    def __init__(self, *args: Any, actor: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["role"]).choices = _role_choices(permissions.api_token_roles(actor))
        self.fields["role"].initial = actor.role

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        return timezone.make_aware(datetime.combine(day, time.min)) if day else None


@require_http_methods(["GET", "POST"])
@role_page(Role.ADMIN)
def tokens(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The organization's API tokens; a new token's secret is shown on this response only, never again."""
    form = TokenForm(request.POST or None, actor=membership)
    issued = None
    if request.method == "POST" and form.is_valid():
        try:
            issued = api_token_create(
                actor=membership,
                name=form.cleaned_data["name"],
                role=Role(form.cleaned_data["role"]),
                expires_at=form.expires_at(),
            )
        except DomainError as exc:
            form_errors_from(form, exc, inputs={"expires_at": "expires_on"})
        else:
            form = TokenForm(actor=membership)
    now = timezone.now()
    # Usable tokens first, newest first within each group.
    listed = sorted(
        selectors.api_token_list(actor=membership),
        key=lambda t: (not t.is_usable(now), -t.pk),
    )
    context = {
        "membership": membership,
        "organization": membership.organization,
        "form": form,
        "issued": issued,
        "rows": [{"token": t, "usable": t.is_usable(now)} for t in listed],
    }
    status = 400 if form.errors else 200
    response = render(request, "tenancy/tokens.html", context, status=status)
    if issued:
        response["Cache-Control"] = "no-store"  # the secret must not outlive this one response
    return response


@require_POST
@role_page(Role.ADMIN)
def token_revoke(request: HttpRequest, membership: Membership, token_id: uuid.UUID) -> HttpResponse:
    token = selectors.api_token_list(actor=membership).filter(uuid=token_id).first()
    if token is None:
        raise Http404("No such token.")
    action_run(
        request,
        lambda: api_token_revoke(actor=membership, token=token),
        success=f"Token {token.prefix}… ({token.name}) revoked.",
    )
    return HttpResponseRedirect(reverse("tokens"))


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="Shown to every member.")


@require_http_methods(["GET", "POST"])
@role_page(Role.ADMIN)
def organization_settings(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The organization's name, and where its audit trail goes."""
    organization = membership.organization
    form = OrganizationForm(request.POST or None, initial={"name": organization.name})
    if request.method == "POST":
        saved = form_save(
            request,
            form,
            lambda data: organization_update(actor=membership, organization=organization, name=data["name"]),
            success=lambda _: "Organization settings saved.",
            to=reverse("organization-settings"),
        )
        if saved is not None:
            return saved
    context = {
        "membership": membership,
        "organization": organization,
        "form": form,
        "stream": (organization.settings or {}).get("audit_stream"),
        "member_count": selectors.membership_list().count(),
    }
    return render(request, "tenancy/organization_settings.html", context, status=400 if form.errors else 200)
