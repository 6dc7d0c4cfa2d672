"""A conversation as its reviewers read it: the whole tree of a chat answer, still blind (slot letters only).

A plain DRF view: nothing streams here. The annotator reads their own conversation through annotation.api.chat.
"""

from typing import Any, ClassVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from annotation import permissions
from annotation.selectors.chat import conversation_all, conversation_for_review
from core.audit.record import audit_record
from tenancy.api.base import OrganizationAPIView
from tenancy.models import Role
from tenancy.permissions import check


class ConversationDetailView(OrganizationAPIView):
    """GET: one conversation's messages, in the order they were written, each reply named by its slot letter."""

    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.REVIEWER}

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, conversation_id: str) -> Response:
        conversation = self.get_by_uuid(conversation_all(), conversation_id)
        check(permissions.review(self.membership, conversation.project))
        view: dict[str, Any] = conversation_for_review(conversation=conversation)
        # A conversation is task data the annotator and the models wrote: who read it is on the trail.
        audit_record(
            action="data_access.conversation_view",
            target=conversation,
            metadata={"project": str(conversation.project.uuid), "task": str(conversation.task.uuid)},
        )
        return Response(view)
