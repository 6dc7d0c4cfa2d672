"""Tenancy endpoints: the organization, its members, invitations and API tokens; platform staff's registry."""

from typing import Any, ClassVar, NoReturn

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.generics import GenericAPIView
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from audit.context import set_actor
from audit.services import audit_record_denied
from tenancy import selectors, services
from tenancy.api import serializers as s
from tenancy.api.base import OrganizationAPIView, object_by_uuid
from tenancy.context import no_organization, organization_context
from tenancy.filters import MemberFilter
from tenancy.models import ApiToken, Invitation, Membership, Role


class OrganizationView(OrganizationAPIView):
    """The organization the request acts for."""

    serializer_class = s.OrganizationSerializer
    required_roles: ClassVar[dict[str, Role]] = {"PATCH": Role.ADMIN}

    def get(self, request: Request) -> Response:
        return Response(s.OrganizationSerializer(self.organization).data)

    @extend_schema(request=s.OrganizationSerializer, responses=s.OrganizationSerializer)
    def patch(self, request: Request) -> Response:
        serializer = s.OrganizationSerializer(self.organization, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        organization = services.organization_update(
            actor=self.membership, organization=self.organization, **serializer.validated_data
        )
        return Response(s.OrganizationSerializer(organization).data)


class MeView(OrganizationAPIView):
    """Who the request acts as: user, organization, effective role, and the user's other organizations."""

    serializer_class = s.MeSerializer

    def get(self, request: Request) -> Response:
        token = request.auth if hasattr(request.auth, "prefix") else None
        memberships = selectors.user_memberships(user=self.membership.user)
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

    def get_queryset(self) -> Any:
        return Membership.objects.unscoped().none() if self.generating_schema else selectors.membership_list()

    def get(self, request: Request) -> Response:
        return self.list(request)


class MemberDetailView(OrganizationAPIView):
    serializer_class = s.MemberSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER, "PATCH": Role.ADMIN, "DELETE": Role.ADMIN}

    def get(self, request: Request, member_id: str) -> Response:
        return Response(s.MemberSerializer(self.get_by_uuid(selectors.membership_list(), member_id)).data)

    @extend_schema(request=s.MemberUpdateSerializer, responses=s.MemberSerializer)
    def patch(self, request: Request, member_id: str) -> Response:
        member = self.get_by_uuid(selectors.membership_list(), member_id)
        serializer = s.MemberUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member = services.membership_update_role(
            actor=self.membership, membership=member, role=Role(serializer.validated_data["role"])
        )
        return Response(s.MemberSerializer(member).data)

    def delete(self, request: Request, member_id: str) -> Response:
        member = self.get_by_uuid(selectors.membership_list(), member_id)
        services.membership_remove(actor=self.membership, membership=member)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationListView(ListModelMixin, OrganizationAPIView):
    serializer_class = s.InvitationSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.ADMIN, "POST": Role.ADMIN}

    def get_queryset(self) -> Any:
        return Invitation.objects.unscoped().none() if self.generating_schema else selectors.invitation_list()

    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(request=s.InvitationCreateSerializer, responses={201: s.InvitationCreatedSerializer})
    def post(self, request: Request) -> Response:
        serializer = s.InvitationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = services.invitation_create(
            actor=self.membership,
            organization=self.organization,
            email=serializer.validated_data["email"],
            role=Role(serializer.validated_data["role"]),
        )
        data = {**s.InvitationSerializer(issued.invitation).data, "accept_url": issued.accept_url}
        return Response(data, status=status.HTTP_201_CREATED)


class InvitationDetailView(OrganizationAPIView):
    serializer_class = s.InvitationSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.ADMIN, "DELETE": Role.ADMIN}

    def get(self, request: Request, invitation_id: str) -> Response:
        return Response(s.InvitationSerializer(self.get_by_uuid(selectors.invitation_list(), invitation_id)).data)

    @extend_schema(responses=s.InvitationSerializer, description="Revoke a pending invitation.")
    def delete(self, request: Request, invitation_id: str) -> Response:
        invitation = self.get_by_uuid(selectors.invitation_list(), invitation_id)
        invitation = services.invitation_revoke(actor=self.membership, invitation=invitation)
        return Response(s.InvitationSerializer(invitation).data)


class InvitationAcceptThrottle(AnonRateThrottle):
    scope = "invitation_accept"


class InvitationAcceptView(APIView):
    """Accept an invitation with the secret from its link: as the signed-in user, or with a new account."""

    permission_classes = [permissions.AllowAny]
    throttle_classes = [InvitationAcceptThrottle]
    serializer_class = s.InvitationAcceptSerializer

    @extend_schema(request=s.InvitationAcceptSerializer, responses={201: s.MemberSerializer})
    def post(self, request: Request) -> Response:
        serializer = s.InvitationAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = request.user if request.user.is_authenticated else None
        with no_organization(), transaction.atomic():
            membership = services.invitation_accept(
                raw_key=serializer.validated_data["token"],
                user=user,
                name=serializer.validated_data["name"],
                password=serializer.validated_data["password"],
            )
            with organization_context(membership.organization_id):
                data = s.MemberSerializer(membership).data
        return Response({**data, "organization": membership.organization.slug}, status=status.HTTP_201_CREATED)


class ApiTokenListView(ListModelMixin, OrganizationAPIView):
    serializer_class = s.ApiTokenSerializer
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.ANNOTATOR}

    def get_queryset(self) -> Any:
        if self.generating_schema:
            return ApiToken.objects.unscoped().none()
        return selectors.api_token_list(actor=self.membership, role=self.role)

    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(request=s.ApiTokenCreateSerializer, responses={201: s.ApiTokenCreatedSerializer})
    def post(self, request: Request) -> Response:
        serializer = s.ApiTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        issued = services.api_token_create(
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
        return self.get_by_uuid(selectors.api_token_list(actor=self.membership, role=self.role), token_id)

    def get(self, request: Request, token_id: str) -> Response:
        return Response(s.ApiTokenSerializer(self._token(token_id)).data)

    @extend_schema(responses=s.ApiTokenSerializer, description="Revoke the token; it stops working at once.")
    def delete(self, request: Request, token_id: str) -> Response:
        token = services.api_token_revoke(actor=self.membership, token=self._token(token_id))
        return Response(s.ApiTokenSerializer(token).data)


class IsPlatformStaff(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class PlatformAPIView(GenericAPIView):  # type: ignore[type-arg]
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
    """Platform staff: the organizations on this installation, and creating one with its first owner invited."""

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
            organization = services.organization_create(actor=request.user, name=data["name"], slug=data["slug"])  # type: ignore[arg-type]
            with organization_context(organization.pk):
                issued = services.invitation_create(
                    actor=None, organization=organization, email=data["owner_email"], role=Role.OWNER
                )
                invitation = {**s.InvitationSerializer(issued.invitation).data, "accept_url": issued.accept_url}
        return Response(
            {"organization": s.OrganizationSerializer(organization).data, "owner_invitation": invitation},
            status=status.HTTP_201_CREATED,
        )


class PlatformOrganizationDetailView(PlatformAPIView):
    serializer_class = s.OrganizationSerializer

    def get(self, request: Request, organization_id: str) -> Response:
        organization = object_by_uuid(selectors.organization_list(), organization_id)
        return Response(s.OrganizationSerializer(organization).data)
