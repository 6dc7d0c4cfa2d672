"""The audit trail, read-only, for owners and admins: search (keyset pages, newest first) and verifiable exports."""

from base64 import b64decode, b64encode
from typing import Any, ClassVar
from urllib import parse

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.mixins import ListModelMixin
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from audit import permissions
from audit.models import AuditEvent
from audit.selectors.events import EventPosition, audit_event_search, audit_events_newer, audit_events_older
from audit.selectors.export import audit_export_csv, audit_export_jsonl, export_upper_id
from audit.selectors.query import OUTCOMES, PARAMETERS, AuditQuery, query_from_params
from core.audit.record import audit_record
from core.context import current_organization_id
from core.errors import FieldError, InvalidInput
from tenancy.api.base import OrganizationAPIView
from tenancy.models import Role

EXPORT_FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    actor = serializers.CharField(source="actor_label")
    token = serializers.CharField(source="actor_token_prefix")

    class Meta:
        model = AuditEvent
        fields = [
            "sequence",
            "occurred_at",
            "action",
            "category",
            "outcome",
            "actor",
            "token",
            "ip",
            "user_agent",
            "request_id",
            "target_type",
            "target_id",
            "changes",
            "metadata",
        ]
        read_only_fields = fields


class NewestFirstCursorPagination(CursorPagination):
    """Keyset pages newest first on (occurred_at, id), a total order: `WHERE (occurred_at, id) < cursor ORDER BY
    occurred_at DESC, id DESC LIMIT n`, never a count. The cursor carries the whole key, so ties in time never
    need DRF's offsets."""

    ordering = ("-occurred_at", "-id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        self.request = request
        self.page_size = self.get_page_size(request) or self.page_size
        self.base_url = request.build_absolute_uri()
        position, reverse = self._read_cursor(request)
        # `queryset` is a search, already newest first; a reverse cursor reads towards newer events, nearest first.
        if position is None:
            window = queryset
        elif reverse:
            window = audit_events_newer(queryset, position)
        else:
            window = audit_events_older(queryset, position)
        rows: list[AuditEvent] = list(window[: self.page_size + 1])
        more = len(rows) > self.page_size
        page = rows[: self.page_size]
        if reverse:
            page.reverse()
            self.has_next, self.has_previous = True, more
        else:
            self.has_next, self.has_previous = more, position is not None
        self._next = EventPosition.of(page[-1]) if page else position
        self._previous = EventPosition.of(page[0]) if page else position
        self.page = page
        if self.has_previous or self.has_next:
            self.display_page_controls = True
        return page

    def get_next_link(self) -> str | None:
        return self._link(self._next, reverse=False) if self.has_next else None

    def get_previous_link(self) -> str | None:
        return self._link(self._previous, reverse=True) if self.has_previous else None

    def _read_cursor(self, request: Request) -> tuple[EventPosition | None, bool]:
        """DRF's cursor format (base64 of `p=<position>&r=1`), with an `EventPosition.token()` as the position."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None, False
        try:
            tokens = parse.parse_qs(b64decode(encoded.encode("ascii"), validate=True).decode("ascii"))
        except (ValueError, UnicodeError) as exc:
            raise NotFound(self.invalid_cursor_message) from exc
        position = EventPosition.parse(tokens.get("p", [""])[0])
        if position is None:
            raise NotFound(self.invalid_cursor_message)
        return position, tokens.get("r", ["0"])[0] == "1"

    def _link(self, position: EventPosition | None, *, reverse: bool) -> str | None:
        if position is None:
            return None
        tokens = {"p": position.token(), **({"r": "1"} if reverse else {})}
        encoded = b64encode(parse.urlencode(tokens).encode("ascii")).decode("ascii")
        return str(replace_query_param(self.base_url or "", self.cursor_query_param, encoded))


_FILTER_HELP = {
    "q": "Search string: `actor:alice action:export.* created:>2026-11-01 outcome:denied target:<id> "
    "category:data_access project:<id> token:<prefix>` and free words (see docs/audit.md).",
    "actor": "An actor's e-mail, or its local part.",
    "token": "An API token prefix.",
    "action": "An action (`project.update`), or a prefix ending in `*` (`export.*`).",
    "category": "An action category, e.g. `data_access`.",
    "target": "A target id, a target type (`projects.task`), or `type:id`. A task id also finds task lists that "
    "showed it.",
    "project": "A project id: events on the project, or whose metadata names it.",
    "outcome": "success, denied or failure.",
    "since": "From this date or ISO time on (inclusive).",
    "until": "Up to and including this date, or before this ISO time.",
}
FILTER_PARAMETERS = [
    OpenApiParameter(
        name,
        OpenApiTypes.STR,
        OpenApiParameter.QUERY,
        description=_FILTER_HELP[name],
        enum=list(OUTCOMES) if name == "outcome" else None,
    )
    for name in ("q", *PARAMETERS)
]


def _request_query(request: Request) -> AuditQuery:
    return query_from_params({k: str(v) for k, v in request.query_params.items() if k in ("q", *PARAMETERS)})


@extend_schema(parameters=FILTER_PARAMETERS)
class AuditEventListView(ListModelMixin, OrganizationAPIView):
    """Search the organization's audit trail, newest first."""

    serializer_class = AuditEventSerializer
    pagination_class = NewestFirstCursorPagination
    filter_backends = ()  # the query language filters; no django-filter parameters on these routes
    required_roles: ClassVar[dict[str, Role]] = {"GET": permissions.TRAIL_ROLE}

    list_model = AuditEvent

    def list_queryset(self) -> Any:
        return audit_event_search(_request_query(self.request))

    def get(self, request: Request) -> Response:
        return self.list(request)


class IgnoreFormatNegotiation(DefaultContentNegotiation):
    """`?format=` names the export's file format here, not one of DRF's renderers."""

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


class AuditEventExportView(OrganizationAPIView):
    """Download the matching events as JSONL (with seals and signed checkpoints, verifiable offline) or CSV."""

    required_roles: ClassVar[dict[str, Role]] = {"GET": permissions.TRAIL_ROLE}
    content_negotiation_class = IgnoreFormatNegotiation
    filter_backends = ()  # the query language filters; no django-filter parameters on these routes

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format", OpenApiTypes.STR, OpenApiParameter.QUERY, enum=list(EXPORT_FORMATS), default="jsonl"
            ),
            *FILTER_PARAMETERS,
        ],
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR, description="JSONL export"),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV export"),
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        export_format = request.query_params.get("format") or "jsonl"
        if export_format not in EXPORT_FORMATS:
            raise InvalidInput(
                "Unknown export format.",
                errors=[FieldError("format", f"{export_format!r} is not one of {', '.join(EXPORT_FORMATS)}.")],
            )
        query = _request_query(request)
        upper_id = export_upper_id()
        filters = {k: str(v) for k, v in request.query_params.items() if k in ("q", *PARAMETERS)}
        if "token" in filters:
            filters["token_prefix"] = filters.pop("token")
        # Recorded before the body streams, in the request's transaction: a download that starts is on record.
        audit_record(
            action="audit.export", metadata={"format": export_format, "filters": filters, "through_id": upper_id}
        )
        organization_id = current_organization_id()
        organization_uuid = str(self.organization.uuid)
        if export_format == "csv":
            body = audit_export_csv(
                organization_id=organization_id, organization_uuid=organization_uuid, query=query, upper_id=upper_id
            )
        else:
            body = audit_export_jsonl(
                organization_id=organization_id,
                organization_uuid=organization_uuid,
                query=query,
                upper_id=upper_id,
                query_text=request.query_params.urlencode(),
            )
        response = StreamingHttpResponse(body, content_type=EXPORT_FORMATS[export_format])
        stamp = upper_id
        response["Content-Disposition"] = f'attachment; filename="audit-{organization_uuid}-{stamp}.{export_format}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response
