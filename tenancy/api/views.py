"""Tenancy endpoints: the organization, members and their skills, invitations, API tokens; the platform registry."""

import uuid
from typing import Any, ClassVar, NoReturn

from django.db import transaction
from django.http import HttpRequest, HttpResponseBase
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from core.api.base import RequestTransactionMixin, object_by_uuid
from core.api.strict import EmptySerializer
from core.audit.context import set_actor
from core.audit.record import audit_record_denied
from core.context import no_organization, organization_context
from core.errors import FieldError, InvalidInput
from tenancy import permissions, selectors, throttling
from tenancy.api import serializers as s
from tenancy.api.base import OrganizationAPIView
from tenancy.api.filters import MemberFilter
from tenancy.api.schema import error_response
from tenancy.models import ApiToken, Invitation, Membership, MemberSkill, Role, Skill
from tenancy.services import invitations, members, organizations, skills, tokens


class OrganizationView(OrganizationAPIView):
    """The organization the request acts for, with its settings: owners and admins (everyone else has `me`)."""

    serializer_class = s.OrganizationSerializer
    # The settings say where the audit trail goes and which secrets are set: admin business. What every member
    # needs (which organization this is) is in `me`.
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.ADMIN, "PATCH": Role.ADMIN}

    def get(self, request: Request) -> Response:
        return Response(s.OrganizationSerializer(self.organization).data)

    @extend_schema(request=s.OrganizationSerializer, responses=s.OrganizationSerializer)
    def patch(self, request: Request) -> Response:
        serializer = s.OrganizationSerializer(self.organization, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        organization = organizations.organization_update(
            actor=self.membership, organization=self.organization, **serializer.validated_data
        )
        return Response(s.OrganizationSerializer(organization).data)


class MeView(OrganizationAPIView):
    """Who the request acts as: user, organization, effective role; with a session, the person's organizations."""

    serializer_class = s.MeSerializer

    def get(self, request: Request) -> Response:
        token = request.auth if isinstance(request.auth, ApiToken) else None
        # A token is scoped to one organization: whom else its holder works for is none of its business (tokens are
        # handed to scripts and services, and a person's other affiliations are theirs to tell). A session is the
        # person themself, choosing between their organizations.
        memberships = [self.membership] if token is not None else selectors.user_memberships(user=self.membership.user)
        return Response(
            s.MeSerializer(
                {
                    "user": self.membership.user,
                    "organization": self.organization,
                    "role": self.role.value,
                    "token": token.prefix if token else None,
                    "organizations": [
                        {"slug": m.organization.slug, "name": m.organization.name, "role": m.role} for m in memberships
                    ],
                }
            ).data
        )


class MemberListView(ListModelMixin, OrganizationAPIView):
    serializer_class = s.MemberSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER}
    filterset_class = MemberFilter

    list_model = Membership

    def list_queryset(self) -> Any:
        return selectors.membership_list()

    def get(self, request: Request) -> Response:
        return self.list(request)


class MemberDetailView(OrganizationAPIView):
    serializer_class = s.MemberSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER, "PATCH": Role.ADMIN, "DELETE": Role.ADMIN}

    def get(self, request: Request, member_id: str) -> Response:
        return Response(s.MemberSerializer(self.get_by_uuid(selectors.membership_list(), member_id)).data)

    @extend_schema(
        request=s.MemberUpdateSerializer,
        responses={200: s.MemberSerializer, 409: error_response("The change would leave the organization no owner.")},
        description="Change a member's role, the languages they work in, or their conflict-of-interest attributes.",
    )
    def patch(self, request: Request, member_id: str) -> Response:
        member = self.get_by_uuid(selectors.membership_list(), member_id)
        serializer = s.MemberUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "role" in data:
            member = members.membership_update_role(actor=self.membership, membership=member, role=Role(data["role"]))
        if "languages" in data or "attributes" in data:
            member = members.membership_update_profile(
                actor=self.membership,
                membership=member,
                languages=data.get("languages"),
                attributes=data.get("attributes"),
            )
        return Response(s.MemberSerializer(member).data)

    @extend_schema(
        responses={
            204: None,
            409: error_response("The member is the last owner, or has recorded annotations (pause them instead)."),
        }
    )
    def delete(self, request: Request, member_id: str) -> Response:
        member = self.get_by_uuid(selectors.membership_list(), member_id)
        members.membership_remove(actor=self.membership, membership=member)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberPauseView(OrganizationAPIView):
    """Stop routing new work to a member, in every project; leases already out may still be submitted."""

    serializer_class = s.MemberPauseSerializer
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.ADMIN}

    @extend_schema(request=s.MemberPauseSerializer, responses=s.MemberSerializer)
    def post(self, request: Request, member_id: str) -> Response:
        member = self.get_by_uuid(selectors.membership_list(), member_id)
        body = s.MemberPauseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        member = members.membership_pause(
            actor=self.membership, membership=member, reason=body.validated_data["reason"]
        )
        return Response(s.MemberSerializer(member).data)


class MemberUnpauseView(OrganizationAPIView):
    serializer_class = EmptySerializer
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.ADMIN}

    @extend_schema(
        request=EmptySerializer,
        responses={200: s.MemberSerializer, 409: error_response("The member is not paused.")},
        description="Let a paused member work again.",
    )
    def post(self, request: Request, member_id: str) -> Response:
        member = self.get_by_uuid(selectors.membership_list(), member_id)
        EmptySerializer(data=request.data).is_valid(raise_exception=True)
        member = members.membership_unpause(actor=self.membership, membership=member)
        return Response(s.MemberSerializer(member).data)


class SkillListView(ListModelMixin, OrganizationAPIView):
    """The skills the organization routes by; everyone may read them (they name what work requires)."""

    serializer_class = s.SkillSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.ANNOTATOR, "POST": Role.ADMIN}

    list_model = Skill

    def list_queryset(self) -> Any:
        return selectors.skill_list()

    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(request=s.SkillInputSerializer, responses={201: s.SkillSerializer})
    def post(self, request: Request) -> Response:
        body = s.SkillInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        skill = skills.skill_create(actor=self.membership, **body.validated_data)
        return Response(s.SkillSerializer(skill).data, status=status.HTTP_201_CREATED)


class SkillDetailView(OrganizationAPIView):
    serializer_class = s.SkillSerializer
    required_roles: ClassVar[dict[str, Role]] = {"PATCH": Role.ADMIN, "DELETE": Role.ADMIN}

    @extend_schema(
        request=s.SkillInputSerializer,
        responses={200: s.SkillSerializer, 409: error_response("A project or task requires the skill by its name.")},
        description="Rename a skill (refused while projects or tasks require it) or change its description.",
    )
    def patch(self, request: Request, skill_id: str) -> Response:
        skill = self.get_by_uuid(selectors.skill_list(), skill_id)
        body = s.SkillInputSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        skill = skills.skill_update(actor=self.membership, skill=skill, **body.validated_data)
        return Response(s.SkillSerializer(skill).data)

    @extend_schema(
        responses={204: None, 409: error_response("A project or task requires the skill.")},
        description="Delete a skill nothing requires; members' levels go with it.",
    )
    def delete(self, request: Request, skill_id: str) -> Response:
        skill = self.get_by_uuid(selectors.skill_list(), skill_id)
        skills.skill_delete(actor=self.membership, skill=skill)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _public_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class MemberSkillListView(ListModelMixin, OrganizationAPIView):
    """A member's verified skill levels: the member may read their own; managers read anyone's and verify them."""

    serializer_class = s.MemberSkillSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.ANNOTATOR, "POST": Role.MANAGER}

    def _member(self, member_id: str) -> Membership:
        permissions.check(permissions.member_skills_read(self.membership, _public_id(member_id)))
        return self.get_by_uuid(selectors.membership_list(), member_id)

    list_model = MemberSkill

    def list_queryset(self) -> Any:
        return selectors.member_skill_list(membership=self._member(self.kwargs["member_id"]))

    @extend_schema(
        responses={
            200: s.MemberSkillSerializer(many=True),
            403: error_response("Below manager, only one's own skills may be read."),
        }
    )
    def get(self, request: Request, member_id: str) -> Response:
        return self.list(request)

    @extend_schema(
        request=s.MemberSkillInputSerializer,
        responses={201: s.MemberSkillSerializer, 200: s.MemberSkillSerializer},
        description="Record the member's level in a skill, verified by you now: 201 when new, 200 when re-verified.",
    )
    def post(self, request: Request, member_id: str) -> Response:
        member = self._member(member_id)
        body = s.MemberSkillInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        skill = selectors.skill_list().filter(name=data["skill"]).first()
        if skill is None:
            raise InvalidInput(
                "The request has invalid fields.",
                errors=[FieldError("skill", f"No skill is named {data['skill']!r}.", "does_not_exist")],
            )
        held, created = skills.member_skill_set(
            actor=self.membership, membership=member, skill=skill, level=data["level"], expires_at=data["expires_at"]
        )
        return Response(
            s.MemberSkillSerializer(held).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class MemberSkillDetailView(OrganizationAPIView):
    serializer_class = s.MemberSkillSerializer
    required_roles: ClassVar[dict[str, Role]] = {"DELETE": Role.MANAGER}

    @extend_schema(responses={204: None}, description="Withdraw the member's level in the skill.")
    def delete(self, request: Request, member_id: str, skill_id: str) -> Response:
        member = self.get_by_uuid(selectors.membership_list(), member_id)
        skill = self.get_by_uuid(selectors.skill_list(), skill_id)
        held = selectors.member_skill_of(membership=member, skill=skill)
        if held is None:
            raise NotFound()
        skills.member_skill_remove(actor=self.membership, member_skill=held)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationListView(ListModelMixin, OrganizationAPIView):
    serializer_class = s.InvitationSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.ADMIN, "POST": Role.ADMIN}

    list_model = Invitation

    def list_queryset(self) -> Any:
        return selectors.invitation_list()

    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(
        request=s.InvitationCreateSerializer,
        responses={
            201: s.InvitationSerializer,
            409: error_response("The address is a member already, or has a pending invitation."),
        },
        description="Invite an address. Its link, which carries the invitation's secret, goes to that address by "
        "mail only, never back to whoever invited it; the answer is the same whether or not the address has an "
        "account.",
    )
    def post(self, request: Request) -> Response:
        serializer = s.InvitationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = invitations.invitation_create(
            actor=self.membership,
            organization=self.organization,
            email=serializer.validated_data["email"],
            role=Role(serializer.validated_data["role"]),
        )
        return Response(s.InvitationSerializer(issued.invitation).data, status=status.HTTP_201_CREATED)


class InvitationDetailView(OrganizationAPIView):
    serializer_class = s.InvitationSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.ADMIN, "DELETE": Role.ADMIN}

    def get(self, request: Request, invitation_id: str) -> Response:
        return Response(s.InvitationSerializer(self.get_by_uuid(selectors.invitation_list(), invitation_id)).data)

    # A DELETE documented with a bare serializer reads as 204; this one answers 200 with the revoked invitation.
    @extend_schema(
        responses={200: s.InvitationSerializer, 409: error_response("The invitation is no longer pending.")},
        description="Revoke a pending invitation.",
    )
    def delete(self, request: Request, invitation_id: str) -> Response:
        invitation = self.get_by_uuid(selectors.invitation_list(), invitation_id)
        invitation = invitations.invitation_revoke(actor=self.membership, invitation=invitation)
        return Response(s.InvitationSerializer(invitation).data)


class InvitationAcceptThrottle(AnonRateThrottle):
    scope = "invitation_accept"


class InvitationAcceptView(RequestTransactionMixin, APIView):
    """Accept an invitation with the secret from its mail: as the signed-in account of the invited address, or with
    a new account for an address that has none. A wrong secret counts as a failed sign-in (tenancy.throttling)."""

    permission_classes = [AllowAny]
    throttle_classes = [InvitationAcceptThrottle]
    serializer_class = s.InvitationAcceptSerializer
    secret_refused = False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = super().dispatch(request, *args, **kwargs)
        if self.secret_refused:
            # Counted once the request's transaction is over, since an error answer rolls back all written in it.
            # Past the limit, axes' middleware answers this request 429 already (tenancy.throttling).
            throttling.attempt_failed(request)
        return response

    @extend_schema(
        request=s.InvitationAcceptSerializer,
        responses={201: s.MemberSerializer, 409: error_response("The account is a member of the organization.")},
        description="An address that already has an account joins only as that account, signed in (a session, or "
        "a token of that account): `token` error `sign_in_required` otherwise. No password is ever checked or "
        "set for it here.",
    )
    def post(self, request: Request) -> Response:
        serializer = s.InvitationAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not throttling.attempts_allowed(request._request):
            raise throttling.locked_out(request._request)
        user = request.user if request.user.is_authenticated else None
        try:
            with no_organization(), transaction.atomic():
                membership = invitations.invitation_accept(
                    raw_key=serializer.validated_data["token"],
                    user=user,
                    name=serializer.validated_data["name"],
                    password=serializer.validated_data["password"],
                )
                with organization_context(membership.organization_id):
                    data = s.MemberSerializer(membership).data
        except invitations.InvitationLinkInvalid:
            self.secret_refused = True
            raise
        return Response({**data, "organization": membership.organization.slug}, status=status.HTTP_201_CREATED)


class ApiTokenListView(ListModelMixin, OrganizationAPIView):
    serializer_class = s.ApiTokenSerializer
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.ANNOTATOR}

    list_model = ApiToken

    def list_queryset(self) -> Any:
        return selectors.api_token_list(actor=self.membership)

    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(request=s.ApiTokenCreateSerializer, responses={201: s.ApiTokenCreatedSerializer})
    def post(self, request: Request) -> Response:
        serializer = s.ApiTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        issued = tokens.api_token_create(
            actor=self.membership,
            name=data["name"],
            # A token made with a token never outranks the token it was made with.
            role=Role(data["role"]) if data.get("role") else self.role,
            expires_at=data.get("expires_at"),
        )
        return Response(
            {**s.ApiTokenSerializer(issued.token).data, "token": issued.raw}, status=status.HTTP_201_CREATED
        )


class ApiTokenDetailView(OrganizationAPIView):
    serializer_class = s.ApiTokenSerializer
    required_roles: ClassVar[dict[str, Role]] = {"DELETE": Role.ANNOTATOR}

    def _token(self, token_id: str) -> Any:
        return self.get_by_uuid(selectors.api_token_list(actor=self.membership), token_id)

    def get(self, request: Request, token_id: str) -> Response:
        return Response(s.ApiTokenSerializer(self._token(token_id)).data)

    # A DELETE documented with a bare serializer reads as 204; this one answers 200 with the revoked token.
    @extend_schema(responses={200: s.ApiTokenSerializer}, description="Revoke the token; it stops working at once.")
    def delete(self, request: Request, token_id: str) -> Response:
        token = tokens.api_token_revoke(actor=self.membership, token=self._token(token_id))
        return Response(s.ApiTokenSerializer(token).data)


class IsPlatformStaff(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class PlatformAPIView(RequestTransactionMixin, GenericAPIView):  # type: ignore[type-arg]
    """Platform routes (staff only). A member's token refused here goes on its organization's trail, like any 403."""

    permission_classes = [IsPlatformStaff]

    def permission_denied(self, request: Request, message: str | None = None, code: str | None = None) -> NoReturn:
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if token is not None and request.user.is_authenticated:
            set_actor(user_id=request.user.pk, user_label=request.user.email, token_prefix=token.prefix)
            audit_record_denied(
                organization_id=token.organization_id,
                action="access.forbidden",
                target_type=request.resolver_match.view_name if request.resolver_match else "",
                metadata={"method": request.method, "path": request.path[:512]},
            )
        super().permission_denied(request, message=message, code=code)


class PlatformOrganizationListView(ListModelMixin, PlatformAPIView):
    """Platform staff: the organizations on this installation, and creating one with its first owner invited (by
    mail: the answer never carries the invitation's secret)."""

    serializer_class = s.OrganizationSerializer

    def get_queryset(self) -> Any:
        return selectors.organization_list()

    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(
        request=s.PlatformOrganizationCreateSerializer, responses={201: s.PlatformOrganizationCreatedSerializer}
    )
    def post(self, request: Request) -> Response:
        serializer = s.PlatformOrganizationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with no_organization(), transaction.atomic():
            organization = organizations.organization_create(actor=request.user, name=data["name"], slug=data["slug"])  # type: ignore[arg-type]
            with organization_context(organization.pk):
                # An invitation whether or not the address has an account: an existing account becomes the owner
                # only when its holder accepts from the mailbox's link, signed in; it is never attached unasked.
                issued = invitations.invitation_create(
                    actor=None, organization=organization, email=data["owner_email"], role=Role.OWNER
                )
                invitation = s.InvitationSerializer(issued.invitation).data
        return Response(
            {"organization": s.OrganizationSerializer(organization).data, "owner_invitation": invitation},
            status=status.HTTP_201_CREATED,
        )


class PlatformOrganizationDetailView(PlatformAPIView):
    serializer_class = s.OrganizationSerializer

    def get(self, request: Request, organization_id: str) -> Response:
        organization = object_by_uuid(selectors.organization_list(), organization_id)
        return Response(s.OrganizationSerializer(organization).data)
