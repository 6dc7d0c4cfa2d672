"""The base class of every tenant API route: it resolves the organization and member once, and scopes all else.

Subclasses declare `required_roles` and read `self.organization`, `self.membership` and `self.role`; they never
resolve the tenant themselves and never accept it from the request.
"""

import copy
import logging
from typing import Any, ClassVar

from django.db import models
from django.http import Http404, HttpRequest, HttpResponseBase
from rest_framework import exceptions
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import M, RequestTransactionMixin, object_by_uuid
from core.audit.context import set_actor
from core.audit.record import audit_record_denied
from core.context import enter_organization, no_organization
from core.errors import NotAllowed
from core.scoping import TenantOwned
from tenancy.models import ApiToken, Membership, Organization, Role
from tenancy.selectors import AmbiguousOrganization, effective_role, membership_for_session
from tenancy.services.tokens import api_token_touch

logger = logging.getLogger(__name__)

ORGANIZATION_SESSION_KEY = "organization"
ORGANIZATION_HEADER = "X-Organization"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def resolve_membership(request: Request) -> Membership:
    """The member the request acts as: the token's, or the signed-in user's in the chosen organization.

    An organization the user does not belong to is reported exactly like one that does not exist.
    """
    if isinstance(request.auth, ApiToken):
        return request.auth.membership
    chosen = request.headers.get(ORGANIZATION_HEADER) or request.session.get(ORGANIZATION_SESSION_KEY)
    try:
        membership = membership_for_session(user=request.user, chosen_slug=chosen)  # type: ignore[arg-type]
    except AmbiguousOrganization as exc:
        message = f"You belong to several organizations; name one in the {ORGANIZATION_HEADER} header."
        raise exceptions.ValidationError({ORGANIZATION_HEADER: [message]}) from exc
    if membership is None:
        raise exceptions.NotFound()
    return membership


def member_acting(request: Request, membership: Membership) -> tuple[Membership, Role, ApiToken | None]:
    """The member as the request acts (with a token's lower role, if its token has one), the role it acts with, and
    the token; the member is named as the actor on the trail from here on."""
    token = request.auth if isinstance(request.auth, ApiToken) else None
    role = effective_role(membership=membership, token=token)
    if role is not membership.role_enum:
        # Services judge the actor by its role: a token with a lower one must not act with the member's.
        # A copy, never saved, so the member's stored role is untouched.
        membership = copy.copy(membership)
        membership.role = role.value
    set_actor(user_id=membership.user_id, user_label=membership.user.email, token_prefix=token.prefix if token else "")
    return membership, role, token


class OrganizationAPIView(RequestTransactionMixin, GenericAPIView):  # type: ignore[type-arg]
    """Tenant-scoped endpoint. Every request runs in one transaction whose row policies see one organization."""

    # Minimum role per HTTP method; methods not listed need manager for writes and annotator for reads.
    required_roles: ClassVar[dict[str, Role]] = {}
    organization: Organization
    membership: Membership
    role: Role

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # The request's transaction (RequestTransactionMixin) holds the tenant setting; no tenant is in context
        # until initial() has resolved the member.
        with no_organization():
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        membership = resolve_membership(request)
        enter_organization(membership.organization_id)
        self.organization = membership.organization
        self.membership, self.role, token = member_acting(request, membership)
        if token is not None:
            api_token_touch(token=token)
        needed = self.required_role(request.method or "GET")
        if not self.role.at_least(needed):
            raise exceptions.PermissionDenied(f"This action needs the {needed.value} role or higher.")

    @classmethod
    def required_role(cls, method: str) -> Role:
        """The least role that may call `method` here; the OpenAPI schema documents its 403 from the same rule."""
        return cls.required_roles.get(method, Role.ANNOTATOR if method in _SAFE_METHODS else Role.MANAGER)

    def handle_exception(self, exc: Exception) -> Response:
        organization = getattr(self, "organization", None)
        if organization is not None and isinstance(
            exc, exceptions.NotFound | Http404 | exceptions.PermissionDenied | NotAllowed
        ):
            denied = "access.not_found" if isinstance(exc, exceptions.NotFound | Http404) else "access.forbidden"
            audit_record_denied(
                organization_id=organization.pk,
                action=denied,
                target_type=self.request.resolver_match.view_name if self.request.resolver_match else "",
                metadata={
                    "method": self.request.method,
                    "path": self.request.path[:512],
                    "kwargs": {k: str(v)[:64] for k, v in self.kwargs.items()},
                },
            )
        return super().handle_exception(exc)

    @property
    def generating_schema(self) -> bool:
        """True while the OpenAPI generator inspects the view with no request, member or tenant behind it."""
        return bool(getattr(self, "swagger_fake_view", False))

    # The model a list route lists. The OpenAPI generator asks for the queryset with no member or tenant behind
    # the view, and needs only its model: it gets an empty queryset of `list_model`, which reveals nothing.
    list_model: ClassVar[type[TenantOwned] | None] = None

    def get_queryset(self) -> Any:
        if self.generating_schema and self.list_model is not None:
            return self.list_model.objects.none()
        return self.list_queryset()

    def list_queryset(self) -> Any:
        """The rows the route lists, of the organization in context; a list route names its `list_model` and
        defines this instead of get_queryset."""
        return super().get_queryset()

    def get_by_uuid(self, queryset: "models.QuerySet[M]", value: Any) -> M:
        """One object of the current organization by public id; a malformed, missing or foreign id is a 404."""
        return object_by_uuid(queryset, value)
