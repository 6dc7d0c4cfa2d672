"""The OpenAPI schema's shared parts: the bearer-token scheme, the one error shape, request bodies that refuse unknown
fields, and the error answers every operation documents without each view repeating them.

What a view's class already says (its authentication, permissions, required roles, path ids, parsers, pagination,
throttles, request serializer) decides which errors it can answer; `ApiAutoSchema` reads it there, so a new view is
documented correctly by declaring itself as it must anyway. Only what a service decides at run time (a conflict with
the current state, say) is for the view to add, with `error_response` in its `extend_schema(responses=...)`.
"""

import re
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ComponentRegistry, get_doc, is_serializer
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import CursorPagination

from core.api.base import RequestTransactionMixin
from core.api.exceptions import RETRY_AFTER_SECONDS
from core.api.strict import ExactResponseMixin, RejectUnknownFieldsMixin
from tenancy.api.authentication import BearerTokenAuthentication
from tenancy.api.base import ORGANIZATION_HEADER, OrganizationAPIView
from tenancy.models import Role


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "tenancy.api.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An organization-scoped API token (`ann_…`), created under /api/v1/tokens/.",
        }


class FieldErrorSerializer(serializers.Serializer[Any]):
    """One problem with the request, located by the path of what caused it."""

    field = serializers.CharField(help_text="A path such as `[3].external_id` or `settings.k`; `body` for all of it.")
    message = serializers.CharField()
    code = serializers.CharField(help_text="Stable and machine-readable, e.g. `unknown_field`, `invalid`.")


class ErrorSerializer(serializers.Serializer[Any]):
    """Every API error, whoever answers it (core.api.exceptions)."""

    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable and machine-readable, e.g. `not_found`, `conflict`, `invalid`.")
    # A declared field named `errors` shadows Serializer.errors only in the stubs; DRF keeps fields apart.
    errors = FieldErrorSerializer(  # type: ignore[assignment]
        many=True, help_text="Each problem with the input; empty when there is none."
    )


def error_response(description: str) -> OpenApiResponse:
    """An error answer in the one error shape, for a view's `extend_schema(responses=...)`: what only the view knows,
    such as the 409 its service answers when the data's state forbids the change."""
    return OpenApiResponse(ErrorSerializer, description=description)


class ClosedShapes(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    """A serializer that refuses unknown fields (core.api.strict) says so in its request schema, so clients and
    generated tests know an extra field is a 400, not noise; one that answers exactly its fields says so in its
    response schema."""

    target_class: type = RejectUnknownFieldsMixin
    match_subclasses = True

    def map_serializer(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer(  # type: ignore[no-untyped-call]
            self.target, direction, bypass_extensions=True
        )
        for mixin in (RejectUnknownFieldsMixin, ExactResponseMixin):
            if schema.get("description") == get_doc(mixin):
                # Inherited from the mixin by a serializer with no docstring of its own: it describes the mixin.
                del schema["description"]
        closed = RejectUnknownFieldsMixin if direction == "request" else ExactResponseMixin
        if isinstance(self.target, closed) or (isinstance(self.target, type) and issubclass(self.target, closed)):
            schema["additionalProperties"] = False
        return schema


class ClosedResponses(ClosedShapes):  # type: ignore[no-untyped-call]
    target_class = ExactResponseMixin


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_PATH_PARAMETER = re.compile(r"{\w+}")
_RETRY_AFTER = {
    "description": "Seconds to wait before sending the request again.",
    "schema": {"type": "integer", "minimum": 0},
}


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus the error answers each operation's view can give, in the one error shape.

    An error the view documents itself (`extend_schema(responses={409: error_response(...)})`) is kept as written.
    """

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: ComponentRegistry
    ) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        self._page_size_range(operation)
        self._list_body_length(operation)
        responses: dict[str, Any] = operation["responses"]
        for status, (reasons, headers) in self._errors(operation).items():
            if str(status) not in responses:
                responses[str(status)] = self._error_response(" ".join(reasons), headers)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _page_size_range(self, operation: dict[str, Any]) -> None:
        """Say what DRF does with a page size: a larger one is cut to `max_page_size`, and a zero, negative or
        malformed one gives the default page. Said in words, not as minimum/maximum: nothing is refused."""
        paginator = getattr(self.view, "pagination_class", None)
        largest = getattr(paginator, "max_page_size", None)
        name = getattr(paginator, "page_size_query_param", None)
        default = getattr(paginator, "page_size", None)
        if not largest or not name:
            return
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "query" and parameter.get("name") == name:
                parameter["description"] = (
                    f"Results per page, 1 to {largest} (more is cut to {largest}); any other value gives the "
                    f"default of {default}."
                )

    def _list_body_length(self, operation: dict[str, Any]) -> None:
        """A body that is a list (`Serializer(many=True, min_length=…, max_length=…)`) says how long it may be;
        drf-spectacular drops a list serializer's own limits."""
        if "requestBody" not in operation:
            return
        serializer = self.get_request_serializer()
        if not isinstance(serializer, serializers.ListSerializer):
            return
        limits = {"minItems": serializer.min_length, "maxItems": serializer.max_length}
        for content in operation["requestBody"]["content"].values():
            if content.get("schema", {}).get("type") == "array":
                content["schema"].update({key: value for key, value in limits.items() if value is not None})

    def _error_response(self, description: str, headers: dict[str, Any]) -> dict[str, Any]:
        component = self.resolve_serializer(ErrorSerializer, "response")
        response: dict[str, Any] = {
            "description": description,
            "content": {media_type: {"schema": component.ref} for media_type in self.map_renderers("media_type")},
        }
        if headers:
            response["headers"] = headers
        return response

    def _errors(self, operation: dict[str, Any]) -> dict[int, tuple[list[str], dict[str, Any]]]:
        """Status -> (the reasons this operation can answer it, the headers that come with it)."""
        view = self.view
        method = self.method
        errors: dict[int, tuple[list[str], dict[str, Any]]] = {}

        def add(status: int, reason: str, headers: dict[str, Any] | None = None) -> None:
            reasons, known = errors.setdefault(status, ([], {}))
            reasons.append(reason)
            known.update(headers or {})

        authenticators = view.get_authenticators()
        tenant = isinstance(view, OrganizationAPIView)
        takes_body = method in _BODY_METHODS
        paginator = getattr(view, "pagination_class", None)
        cursor_list = paginator is not None and issubclass(paginator, CursorPagination) and _is_list(operation)
        # A bad page size is ignored and a bad cursor is a 404 (below); any other query parameter is checked.
        query = any(
            p.get("in") == "query" and p.get("name") not in ("cursor", "page_size")
            for p in operation.get("parameters", [])
        )

        if takes_body or "requestBody" in operation:
            add(400, "The body is invalid: `errors` names each problem, by its path.")
            add(413, "The body is larger than the server accepts.")
            add(415, "The body's Content-Type is not one this operation reads.")
        if query:
            add(400, "A query parameter is invalid: `errors` names it.")
        if tenant:
            add(
                400,
                f"With a session, a user of several organizations must name one in the {ORGANIZATION_HEADER} header.",
            )

        if authenticators:
            anonymous_allowed = any(isinstance(p, permissions.AllowAny) for p in view.get_permissions())
            refused = "A token that is malformed, unknown, expired or revoked."
            add(
                401,
                refused if anonymous_allowed else f"No credentials. {refused}",
                {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}},
            )

        if isinstance(view, OrganizationAPIView):
            needed = view.required_role(method)
            if needed is not Role.ANNOTATOR:
                add(403, f"The caller's role (the token's, if lower than the member's) is below {needed.value}.")
        if any(_restricts_authenticated_users(p) for p in view.get_permissions()):
            add(403, "The caller's account may not use this operation (platform staff only, say).")
        if method not in ("GET", "HEAD", "OPTIONS") and any(
            isinstance(a, SessionAuthentication) for a in authenticators
        ):
            add(403, "With a session, the CSRF token is missing or wrong (tokens need none).")

        if _PATH_PARAMETER.search(self.path):
            add(404, "No such object in the caller's organization: another organization's id looks the same.")
        if cursor_list:
            add(404, "The `cursor` is not one this list handed out.")
        if tenant:
            add(404, f"With a session, the {ORGANIZATION_HEADER} header names no organization of the user's.")

        if takes_body and "lease_token" in _request_fields(self.get_request_serializer()):
            add(409, "The lease is no longer the caller's (expired, released or revoked): a stale fencing token.")

        if view.get_throttles():
            add(429, "Too many requests from this client; wait as Retry-After says.", {"Retry-After": _RETRY_AFTER})
        if any(isinstance(a, BearerTokenAuthentication) for a in authenticators):
            add(
                429,
                "Too many refused tokens from this client address: every token it sends waits as Retry-After says.",
                {"Retry-After": _RETRY_AFTER},
            )

        if isinstance(view, RequestTransactionMixin):
            add(
                503,
                "The request met a concurrent one and was undone entirely; send it again after Retry-After "
                f"({RETRY_AFTER_SECONDS} s).",
                {"Retry-After": {**_RETRY_AFTER, "required": True}},
            )
        return errors


def _restricts_authenticated_users(permission: Any) -> bool:
    """True for a permission that can refuse a signed-in caller (platform staff only, say)."""
    # A tuple, not `A | B`: DRF overloads `|` on permission classes to compose them.
    return not isinstance(permission, (permissions.AllowAny, permissions.IsAuthenticated))


def _is_list(operation: dict[str, Any]) -> bool:
    return any(p.get("name") == "cursor" and p.get("in") == "query" for p in operation.get("parameters", []))


def _request_fields(serializer: Any) -> set[str]:
    if not is_serializer(serializer):
        return set()
    instance = serializer() if isinstance(serializer, type) else serializer
    return set(getattr(instance, "fields", ()))  # a list serializer has none of its own
