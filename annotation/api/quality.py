"""Review, agreement, adjudication and gold-accuracy endpoints."""

from datetime import timedelta
from typing import Any, ClassVar

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from annotation import permissions
from annotation.api import serializers_quality as sq
from annotation.models import Annotation, TaskAgreement
from annotation.selectors.quality import gold_accuracy_report, project_agreement
from annotation.selectors.reviews import (
    adjudication_queue,
    annotation_all,
    review_pending_for,
    review_queue,
    task_annotation_history,
)
from annotation.services import review as review_services
from core.api.pagination import IdCursorPagination
from core.errors import FieldError, InvalidInput
from projects.api.base import ProjectAPIView, RecordedListMixin
from projects.api.media import MEDIA_FIELD_PARAMETER, media_field, signed_media_response
from projects.api.serializers_media import SignedUrlSerializer
from projects.models import Project, Task
from projects.selectors import task_all
from projects.services.media import media_url_for_task
from tenancy.api.schema import error_response
from tenancy.models import Role
from tenancy.permissions import allows, check

GOLD_DAYS_DEFAULT = 30
GOLD_DAYS_MAX = 366
REVIEW_LEVELS = (1, 2)


def _query_number(
    request: Request, name: str, *, default: int, allowed: range | tuple[int, ...], message: str, code: str
) -> int:
    """A whole number from the query string, `default` when absent; one outside `allowed`, or no number at all, is a
    400 naming the parameter."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number not in allowed:
        raise InvalidInput("The request has invalid fields.", errors=[FieldError(name, message, code)])
    return number


class ReviewSurfaceMixin(ProjectAPIView):
    """Views that show annotations to the people judging them: pseudonyms only on blind projects."""

    project: Project

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        project = getattr(self, "project", None)
        if project is not None:
            context.update(project=project, reveal=not project.blind)
        return context

    def task_by_uuid(self, task_id: str) -> Task:
        task = self.get_by_uuid(task_all(), task_id)
        self.project = task.project
        return task

    def annotation_by_uuid(self, annotation_id: str) -> Annotation:
        annotation = self.get_by_uuid(annotation_all(), annotation_id)
        self.project = annotation.project
        return annotation


class ProjectReviewQueueView(RecordedListMixin, ReviewSurfaceMixin):
    """Annotations waiting for review at one level, oldest first; the caller's own work is never among them."""

    serializer_class = sq.ReviewQueueItemSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.REVIEWER}
    list_model = Annotation

    level: int
    _gold_visible: bool | None = None

    def list_queryset(self) -> Any:
        return review_queue(reviewer=self.membership, project=self.project, level=self.level)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "gold_visible": self.gold_visible()}

    def gold_visible(self) -> bool:
        """Whether the served page carries gold answers. Asked once, and only when the page holds a gold task, so
        an ordinary page costs no query for it."""
        served = getattr(self, "served", None)
        if served is None:
            return False  # nothing served yet (a schema generator asking for the context)
        if self._gold_visible is None:
            gold_on_page = any(a.task.is_gold for a in served)
            self._gold_visible = gold_on_page and allows(permissions.review_gold_answer(self.membership, self.project))
        return self._gold_visible

    def gold_shown(self, served: list[Annotation]) -> int:
        """How many of the served items carried their task's gold answer."""
        if not self.gold_visible():
            return 0
        return sum(1 for a in served if a.task.is_gold and isinstance(a.task.gold_answer, dict))

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "level", OpenApiTypes.INT, enum=list(REVIEW_LEVELS), description="Review level (default 1)."
            )
        ]
    )
    def get(self, request: Request, project_id: str) -> Response:
        self.project = self.get_project(project_id)
        self.level = _query_number(
            request, "level", default=1, allowed=REVIEW_LEVELS, message="Must be 1 or 2.", code="invalid_choice"
        )
        check(permissions.review(self.membership, self.project))
        # Task data served to a reviewer is a read on record, like a task served to its annotator.
        return self.list_recorded(
            request,
            action="data_access.review_queue",
            target=self.project,
            metadata=lambda served: {
                "count": len(served),
                "task_ids": sorted({str(a.task.uuid) for a in served}),
                # Who was shown a known answer is on record too: it is what a gold check relies on staying unseen.
                "gold_answers_shown": self.gold_shown(served),
            },
        )


class AnnotationReviewView(ReviewSurfaceMixin):
    """Accept, reject (with a comment) or correct (with a result) an annotation waiting for review."""

    serializer_class = sq.ReviewInputSerializer
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.REVIEWER}

    @extend_schema(
        request=sq.ReviewInputSerializer,
        responses={
            201: sq.ReviewOutcomeSerializer,
            409: error_response("The annotation is not waiting for this review, or can no longer be sent back."),
        },
    )
    def post(self, request: Request, annotation_id: str) -> Response:
        annotation = self.annotation_by_uuid(annotation_id)
        body = sq.ReviewInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        outcome = review_services.annotation_review(
            actor=self.membership,
            annotation=annotation,
            decision=body.validated_data["decision"],
            comment=body.validated_data["comment"],
            corrected_result=body.validated_data["result"],
        )
        data = sq.ReviewOutcomeSerializer(outcome, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)


class AnnotationMediaView(ReviewSurfaceMixin):
    serializer_class = SignedUrlSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.REVIEWER}

    @extend_schema(
        parameters=[MEDIA_FIELD_PARAMETER],
        responses=SignedUrlSerializer,
        description="A signed URL (at most 5 minutes) of a file the task of an annotation waiting for this reviewer "
        "names under `field` (an image whose boxes are being reviewed). Anything not in the caller's review queue "
        "is a 404. Issuing it is a data access on record.",
    )
    def get(self, request: Request, annotation_id: str) -> Response:
        annotation = self.annotation_by_uuid(annotation_id)
        check(permissions.review(self.membership, self.project))
        field = media_field(request)
        if not review_pending_for(reviewer=self.membership, annotation=annotation):
            raise NotFound()
        signed = media_url_for_task(actor=self.membership, task=annotation.task, field=field, on=annotation)
        return signed_media_response(request, signed)


class TaskAnnotationListView(RecordedListMixin, ReviewSurfaceMixin):
    """Every version of every annotation of a task, oldest first, with the reviews each received."""

    serializer_class = sq.AnnotationHistorySerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.REVIEWER}
    list_model = Annotation

    task: Task

    def list_queryset(self) -> Any:
        return task_annotation_history(task=self.task)

    def get(self, request: Request, task_id: str) -> Response:
        self.task = self.task_by_uuid(task_id)
        check(permissions.review(self.membership, self.project))
        return self.list_recorded(
            request,
            action="data_access.annotation_list",
            target=self.task,
            metadata=lambda _served: {"project": str(self.project.uuid)},
        )


class ProjectAgreementView(ProjectAPIView):
    """The project's agreement report as last computed (recomputed about 30 s after submits settle)."""

    serializer_class = sq.ProjectAgreementSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER}

    def get(self, request: Request, project_id: str) -> Response:
        check(permissions.quality_read(self.membership))
        project = self.get_project(project_id)
        agreement = project_agreement(project=project)
        body = {
            "project": project.uuid,
            "tasks": agreement.tasks if agreement else 0,
            "computed_at": agreement.computed_at if agreement else None,
            "report": agreement.report if agreement else {},
        }
        return Response(sq.ProjectAgreementSerializer(body).data)


class LowestAgreementFirst(IdCursorPagination):
    ordering = ("score", "id")  # type: ignore[assignment]  # DRF takes a tuple; the stubs say str


class ProjectAdjudicationListView(RecordedListMixin, ReviewSurfaceMixin):
    """Tasks whose agreement fell below the project's threshold, lowest first, with consensus and answers."""

    serializer_class = sq.AdjudicationItemSerializer
    pagination_class = LowestAgreementFirst
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.REVIEWER}
    list_model = TaskAgreement

    def list_queryset(self) -> Any:
        return adjudication_queue(project=self.project)

    def get(self, request: Request, project_id: str) -> Response:
        self.project = self.get_project(project_id)
        check(permissions.review(self.membership, self.project))
        return self.list_recorded(
            request,
            action="data_access.adjudication_queue",
            target=self.project,
            metadata=lambda served: {"count": len(served), "task_ids": [str(a.task.uuid) for a in served]},
        )


class TaskAdjudicateView(ReviewSurfaceMixin):
    """Settle a disputed task: the final result and the reasons for it."""

    serializer_class = sq.AdjudicateInputSerializer
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.REVIEWER}

    @extend_schema(
        request=sq.AdjudicateInputSerializer,
        responses={201: sq.AdjudicationSerializer, 409: error_response("The task was adjudicated already.")},
    )
    def post(self, request: Request, task_id: str) -> Response:
        task = self.task_by_uuid(task_id)
        body = sq.AdjudicateInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        adjudication = review_services.annotation_adjudicate(
            actor=self.membership,
            task=task,
            result=body.validated_data["result"],
            rationale=body.validated_data["rationale"],
        )
        data = sq.AdjudicationSerializer(adjudication, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)


class ProjectGoldAccuracyView(ProjectAPIView):
    """Each annotator's gold accuracy by day, with the running figure and pause the router acts on."""

    serializer_class = sq.GoldAccuracyReportSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "days",
                {"type": "integer", "minimum": 1, "maximum": GOLD_DAYS_MAX},
                description=f"How many days back the daily figures go (default {GOLD_DAYS_DEFAULT}, "
                f"at most {GOLD_DAYS_MAX}).",
            )
        ]
    )
    def get(self, request: Request, project_id: str) -> Response:
        check(permissions.quality_read(self.membership))
        project = self.get_project(project_id)
        days = _query_number(
            request,
            "days",
            default=GOLD_DAYS_DEFAULT,
            allowed=range(1, GOLD_DAYS_MAX + 1),
            message=f"Must be a whole number of days, 1 to {GOLD_DAYS_MAX}.",
            code="invalid",
        )
        today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
        since = today - timedelta(days=days - 1)
        body = {
            "project": project.uuid,
            "since": since,
            "annotators": gold_accuracy_report(project=project, since=since),
        }
        # Managers act on these rows (pauses), so members are named here, blind project or not.
        context = {"project": project, "reveal": True}
        return Response(sq.GoldAccuracyReportSerializer(body, context=context).data)
