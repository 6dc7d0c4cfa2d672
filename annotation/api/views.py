"""Routing endpoints: claim the next task, keep, submit, skip or release a lease; managers' queues and control:
conflict-of-interest exclusions, annotators' standing on a project, a dispatch run on demand."""

from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.api import serializers as s
from annotation.models import AnnotatorProgress, Assignment, ConflictExclusion
from annotation.selectors import assignments as selectors
from annotation.selectors.assignments import held_assignment
from annotation.services.claim import assignment_claim
from annotation.services.dispatch import assignment_assign
from annotation.services.exclusions import exclusion_create, exclusion_delete
from annotation.services.leases import (
    assignment_heartbeat,
    assignment_release,
    assignment_revoke,
    assignment_skip,
    own_assignment_for_update,
)
from annotation.services.progress import progress_pause, progress_unpause, project_dispatch_now
from annotation.services.submit import annotation_submit
from core.api.strict import EmptySerializer
from core.errors import FieldError, InvalidInput
from projects.api.base import ProjectAPIView
from projects.api.media import MEDIA_FIELD_PARAMETER, media_field, signed_media_response
from projects.api.serializers_media import SignedUrlSerializer
from projects.models import Project
from projects.selectors import task_list
from projects.services.media import media_url_for_task
from tenancy.api.base import OrganizationAPIView
from tenancy.api.schema import error_response
from tenancy.models import Role
from tenancy.selectors import membership_list

NO_WORK_REASON_HEADER = "X-No-Work-Reason"
EXCLUSION_EXISTS = error_response("The same exclusion exists already.")


class ProjectNextView(OrganizationAPIView):
    """Claim the next task: a new lease, the lease already held (a double click), or 204 with the reason."""

    serializer_class = s.LeaseSerializer
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.ANNOTATOR}

    @extend_schema(
        request=EmptySerializer,
        responses={
            200: s.LeaseSerializer,
            201: s.LeaseSerializer,
            204: OpenApiResponse(description=f"Nothing eligible now; the {NO_WORK_REASON_HEADER} header says why."),
        },
    )
    def post(self, request: Request, project_id: str) -> Response:
        project = selectors.project_to_claim(project_id=project_id)
        if project is None:
            raise NotFound()
        EmptySerializer(data=request.data).is_valid(raise_exception=True)
        claim = assignment_claim(actor=self.membership, project=project)
        if claim.assignment is None:
            response = Response(status=status.HTTP_204_NO_CONTENT)
            if claim.refusal is not None:
                response[NO_WORK_REASON_HEADER] = claim.refusal.code
                if claim.refusal.retry_after is not None:
                    response["Retry-After"] = claim.refusal.retry_after.isoformat()
            return response
        code = status.HTTP_201_CREATED if claim.created else status.HTTP_200_OK
        return Response(s.LeaseSerializer(claim.assignment).data, status=code)


class OwnAssignmentMixin(OrganizationAPIView):
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.ANNOTATOR, "GET": Role.ANNOTATOR}

    def own_assignment(self, assignment_id: str) -> Assignment:
        # Another member's assignment is reported exactly like a missing one: a lease is its holder's alone.
        assignment = own_assignment_for_update(actor=self.membership, assignment_uuid=assignment_id)
        if assignment is None:
            raise NotFound()
        return assignment


class AssignmentHeartbeatView(OwnAssignmentMixin):
    serializer_class = s.LeaseTokenSerializer

    @extend_schema(request=s.LeaseTokenSerializer, responses=s.LeaseSerializer)
    def post(self, request: Request, assignment_id: str) -> Response:
        body = s.LeaseTokenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        assignment = assignment_heartbeat(
            assignment=self.own_assignment(assignment_id), lease_token=body.validated_data["lease_token"]
        )
        return Response(s.LeaseSerializer(assignment).data)


class AssignmentSubmitView(OwnAssignmentMixin):
    serializer_class = s.SubmitSerializer

    @extend_schema(request=s.SubmitSerializer, responses={201: s.AnnotationSerializer, 200: s.AnnotationSerializer})
    def post(self, request: Request, assignment_id: str) -> Response:
        body = s.SubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        submitted = annotation_submit(
            actor=self.membership,
            assignment=self.own_assignment(assignment_id),
            lease_token=body.validated_data["lease_token"],
            result=body.validated_data["result"],
            time_spent_ms=body.validated_data["time_spent_ms"],
        )
        code = status.HTTP_201_CREATED if submitted.created else status.HTTP_200_OK
        return Response(s.AnnotationSerializer(submitted.annotation).data, status=code)


class AssignmentSkipView(OwnAssignmentMixin):
    serializer_class = s.SkipSerializer

    @extend_schema(request=s.SkipSerializer, responses={204: None})
    def post(self, request: Request, assignment_id: str) -> Response:
        body = s.SkipSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        assignment_skip(
            assignment=self.own_assignment(assignment_id),
            lease_token=body.validated_data["lease_token"],
            reason=body.validated_data["reason"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class AssignmentReleaseView(OwnAssignmentMixin):
    serializer_class = s.LeaseTokenSerializer

    @extend_schema(request=s.LeaseTokenSerializer, responses={204: None})
    def post(self, request: Request, assignment_id: str) -> Response:
        body = s.LeaseTokenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        assignment_release(
            assignment=self.own_assignment(assignment_id), lease_token=body.validated_data["lease_token"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectAssignmentListView(ListModelMixin, ProjectAPIView):
    """Managers: every queued and active assignment (or any state, filtered) of a project; and manual assignment."""

    serializer_class = s.AssignmentSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER, "POST": Role.MANAGER}
    list_model = Assignment

    def list_queryset(self) -> Any:
        return selectors.assignment_list(
            project=self.get_project(self.kwargs["project_id"]),
            states=self.request.query_params.getlist("state"),
            annotator=self.request.query_params.get("annotator"),
        )

    def get(self, request: Request, project_id: str) -> Response:
        return self.list(request)

    @extend_schema(
        request=s.AssignInputSerializer,
        responses={
            201: s.AssignmentSerializer,
            409: error_response("The annotator has (or had) the task, or the task has all its annotators."),
        },
    )
    def post(self, request: Request, project_id: str) -> Response:
        project = self.get_project(project_id)
        body = s.AssignInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = self.get_by_uuid(task_list(project=project), body.validated_data["task"])
        annotator = self.get_by_uuid(membership_list(), body.validated_data["annotator"])
        assignment = assignment_assign(actor=self.membership, task=task, annotator=annotator)
        return Response(s.AssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)


class AssignmentRevokeView(OrganizationAPIView):
    serializer_class = s.RevokeSerializer
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.MANAGER}

    @extend_schema(
        request=s.RevokeSerializer,
        responses={200: s.AssignmentSerializer, 409: error_response("The assignment is neither queued nor active.")},
    )
    def post(self, request: Request, assignment_id: str) -> Response:
        body = s.RevokeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        assignment = self.get_by_uuid(selectors.assignments_for_update(), assignment_id)
        reason = body.validated_data["reason"]
        assignment = assignment_revoke(actor=self.membership, assignment=assignment, reason=reason)
        return Response(s.AssignmentSerializer(assignment).data)


# --- conflict-of-interest exclusions (managers; an annotator never sees one, least of all one naming them) ---


class ExclusionListMixin(ListModelMixin, ProjectAPIView):
    serializer_class = s.ExclusionSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER, "POST": Role.MANAGER}
    list_model = ConflictExclusion

    def scope(self) -> Project | None:
        """The project the rules are for, or None for organization-wide rules."""
        return None

    def list_queryset(self) -> Any:
        return selectors.exclusion_list(project=self.scope())

    def create(self, request: Request) -> Response:
        project = self.scope()
        body = s.ExclusionInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        member = None
        if data["member"] is not None:
            member = membership_list().filter(uuid=data["member"]).first()
            if member is None:
                raise InvalidInput(
                    "The request has invalid fields.",
                    errors=[FieldError("member", "No member of this organization has this id.", "does_not_exist")],
                )
        exclusion = exclusion_create(
            actor=self.membership,
            project=project,
            membership=member,
            attribute=data["attribute"],
            value=data["value"],
            reason=data["reason"],
        )
        return Response(s.ExclusionSerializer(exclusion).data, status=status.HTTP_201_CREATED)


class ExclusionListView(ExclusionListMixin):
    """Every exclusion of the organization; and adding one that keeps a member (or attribute) off every project."""

    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(request=s.ExclusionInputSerializer, responses={201: s.ExclusionSerializer, 409: EXCLUSION_EXISTS})
    def post(self, request: Request) -> Response:
        return self.create(request)


class ProjectExclusionListView(ExclusionListMixin):
    """The exclusions in force on a project (its own and the organization-wide ones); and adding one to it."""

    def scope(self) -> Project | None:
        return self.get_project(self.kwargs["project_id"])

    def get(self, request: Request, project_id: str) -> Response:
        return self.list(request)

    @extend_schema(request=s.ExclusionInputSerializer, responses={201: s.ExclusionSerializer, 409: EXCLUSION_EXISTS})
    def post(self, request: Request, project_id: str) -> Response:
        return self.create(request)


class ExclusionDetailView(OrganizationAPIView):
    serializer_class = s.ExclusionSerializer
    required_roles: ClassVar[dict[str, Role]] = {"DELETE": Role.MANAGER}

    @extend_schema(responses={204: None}, description="Remove the exclusion; those it kept out may work again.")
    def delete(self, request: Request, exclusion_id: str) -> Response:
        exclusion_delete(actor=self.membership, exclusion=self.get_by_uuid(selectors.exclusion_list(), exclusion_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- annotators' standing on a project ---


class ProjectProgressListView(ListModelMixin, ProjectAPIView):
    """Managers: each annotator's standing on the project (served, submitted, qualification, gold, pause)."""

    serializer_class = s.ProgressSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER}
    list_model = AnnotatorProgress

    def list_queryset(self) -> Any:
        return selectors.progress_list(project=self.get_project(self.kwargs["project_id"]))

    def get(self, request: Request, project_id: str) -> Response:
        return self.list(request)


class ProgressActionMixin(ProjectAPIView):
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.MANAGER}

    def progress(self, project_id: str, member_id: str) -> AnnotatorProgress:
        project = self.get_project(project_id)
        member = self.get_by_uuid(membership_list(), member_id)
        progress = selectors.progress_for_update(project=project, membership=member)
        if progress is None:  # the member never worked on the project: there is no standing to change
            raise NotFound()
        return progress


class ProgressPauseView(ProgressActionMixin):
    serializer_class = s.PauseSerializer

    @extend_schema(
        request=s.PauseSerializer,
        responses=s.ProgressSerializer,
        description="Stop serving the annotator new work on this project; leases already out may be submitted.",
    )
    def post(self, request: Request, project_id: str, member_id: str) -> Response:
        progress = self.progress(project_id, member_id)
        body = s.PauseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        progress = progress_pause(actor=self.membership, progress=progress, reason=body.validated_data["reason"])
        return Response(s.ProgressSerializer(progress).data)


class ProgressUnpauseView(ProgressActionMixin):
    serializer_class = EmptySerializer

    @extend_schema(
        request=EmptySerializer,
        responses={200: s.ProgressSerializer, 409: error_response("The annotator is not paused on the project.")},
        description="Let the annotator work on the project again; their gold record starts afresh.",
    )
    def post(self, request: Request, project_id: str, member_id: str) -> Response:
        progress = self.progress(project_id, member_id)
        EmptySerializer(data=request.data).is_valid(raise_exception=True)
        progress = progress_unpause(actor=self.membership, progress=progress)
        return Response(s.ProgressSerializer(progress).data)


class ProjectDispatchView(ProjectAPIView):
    serializer_class = s.DispatchResultSerializer
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.MANAGER}

    @extend_schema(
        request=EmptySerializer,
        responses=s.DispatchResultSerializer,
        description="Fill the project's active annotators' queues now, instead of at the next periodic run.",
    )
    def post(self, request: Request, project_id: str) -> Response:
        project = self.get_project(project_id)
        EmptySerializer(data=request.data).is_valid(raise_exception=True)
        result = project_dispatch_now(actor=self.membership, project=project)
        return Response(
            s.DispatchResultSerializer(
                {"annotators": result.annotators, "queued": result.queued, "returned": result.returned}
            ).data
        )


class AssignmentMediaView(OrganizationAPIView):
    serializer_class = SignedUrlSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.ANNOTATOR}

    @extend_schema(
        parameters=[MEDIA_FIELD_PARAMETER],
        responses=SignedUrlSerializer,
        description="A signed URL (at most 5 minutes) of the file the task names under `field`, for the member "
        "holding this assignment's live lease only; anyone else, or a key outside the organization, gets 404.",
    )
    def get(self, request: Request, assignment_id: str) -> Response:
        assignment = held_assignment(actor=self.membership, assignment_uuid=assignment_id)
        if assignment is None:
            raise NotFound()
        # Issuing it is a data access on record, on the lease that allowed it.
        signed = media_url_for_task(
            actor=self.membership, task=assignment.task, field=media_field(request), on=assignment
        )
        return signed_media_response(request, signed)
