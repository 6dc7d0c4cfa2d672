"""The JSON API of judge runs: start and list a project's runs, cancel or resume one, read its verdicts.

One run with its agreement against the experts is served by the annotation app (annotation.api.judge), which owns
the experts' answers.
"""

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.strict import EmptySerializer
from llm import selectors
from llm.api import serializers_judge as s
from llm.models import JudgeRun, JudgeVerdict
from llm.selectors import judge_run_all, judge_run_list, judge_verdict_list
from llm.services.judge import judge_run_cancel, judge_run_resume, judge_run_start
from projects.api.base import ProjectAPIView
from tenancy.api.base import OrganizationAPIView
from tenancy.api.schema import error_response
from tenancy.models import Role

_BUSY = "This model is already judging the project."


class ProjectJudgeRunListView(ListModelMixin, ProjectAPIView):
    """A project's judge runs, newest first; POST starts one (it is queued and runs in the background)."""

    serializer_class = s.JudgeRunSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER, "POST": Role.MANAGER}
    list_model = JudgeRun

    def list_queryset(self) -> Any:
        return judge_run_list(project=self.get_project(self.kwargs["project_id"]))

    def get(self, request: Request, project_id: str) -> Response:
        return self.list(request)

    @extend_schema(request=s.JudgeRunStartSerializer, responses={201: s.JudgeRunSerializer, 409: error_response(_BUSY)})
    def post(self, request: Request, project_id: str) -> Response:
        project = self.get_project(project_id)
        body = s.JudgeRunStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        # Looked up in this organization only: another's connection is refused exactly like a missing one.
        connection = selectors.connection_get(uuid=data["connection"])
        run = judge_run_start(
            actor=self.membership,
            project=project,
            connection=connection,
            fields=data.get("fields"),
            instruction=data.get("instruction", ""),
        )
        return Response(s.JudgeRunSerializer(run).data, status=status.HTTP_201_CREATED)


class JudgeRunCancelView(OrganizationAPIView):
    """Stop a run that has not ended; its verdicts are kept (409 once it has ended)."""

    serializer_class = EmptySerializer
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.MANAGER}

    @extend_schema(
        request=EmptySerializer,
        responses={200: s.JudgeRunSerializer, 409: error_response("The run has ended already.")},
    )
    def post(self, request: Request, judge_run_id: str) -> Response:
        run = self.get_by_uuid(judge_run_all(), judge_run_id)
        EmptySerializer(data=request.data or {}).is_valid(raise_exception=True)
        return Response(s.JudgeRunSerializer(judge_run_cancel(actor=self.membership, run=run)).data)


class JudgeRunResumeView(OrganizationAPIView):
    """Take up a paused or failed run (after raising the budget, say): it judges only tasks it has not judged."""

    serializer_class = EmptySerializer
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.MANAGER}

    @extend_schema(
        request=EmptySerializer,
        responses={200: s.JudgeRunSerializer, 409: error_response("Only a paused or failed run can be resumed.")},
    )
    def post(self, request: Request, judge_run_id: str) -> Response:
        run = self.get_by_uuid(judge_run_all(), judge_run_id)
        EmptySerializer(data=request.data or {}).is_valid(raise_exception=True)
        return Response(s.JudgeRunSerializer(judge_run_resume(actor=self.membership, run=run)).data)


class JudgeVerdictListView(ListModelMixin, OrganizationAPIView):
    """A run's verdicts in the order given: the result (when it could be read), whether it fit the schema, and why
    not."""

    serializer_class = s.JudgeVerdictSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER}
    list_model = JudgeVerdict

    def list_queryset(self) -> Any:
        return judge_verdict_list(run=self.get_by_uuid(judge_run_all(), self.kwargs["judge_run_id"]))

    def get(self, request: Request, judge_run_id: str) -> Response:
        return self.list(request)
