"""Live chat fields over the API: a turn (the prompt, then every model's reply streamed at once), a regenerated
reply (streamed), an edited reply, and the conversation as the annotator sees it.

These are Django async views, not DRF ones (DRF has no async views): a generation lasts seconds and must never hold
a worker thread while the model writes. Each piece of database work runs in a thread (sync_to_async) inside the
organization's context, one short transaction at a time; none is open while a model streams. What the DRF base
views give every other route is done here by the same parts: the request's member resolved by the configured
authenticators (bearer token, or the session with its CSRF check), the one error body of core.api.exceptions, a
recorded refusal for every 404.

A streamed answer is `text/event-stream`, read with fetch and a ReadableStream (a POST; EventSource cannot POST):

    event: prompt   data: {"conversation", "message", "turn", "replies": [{"slot", "message"}]}
    event: delta    data: {"slot": "A", "message": "<uuid>", "text": "…"}     (many, the slots interleaved)
    event: done     data: {"slot", "message", "text"}                         (one per slot that finished)
    event: error    data: {"slot", "message", "code", "error", "retry_after"} (one per slot that failed)
    event: turn     data: {"prompt", "turn", "replies": [{"slot", "message", "state"}]}   (last)

Events name replies by slot letter only: while a field is blind, nothing sent names a model.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.models import ChatMessage
from annotation.selectors.chat import chat_field, chat_for_annotator, message_view
from annotation.services.chat import (
    ChatPlan,
    ReplyPlan,
    chat_regenerate_begin,
    chat_reply_edit,
    chat_reply_fail,
    chat_reply_finish,
    chat_turn_begin,
)
from core.api.exceptions import exception_handler, json_error
from core.api.parsers import StrictJSONParser
from core.audit.context import ActorContext, actor_context, current_actor
from core.audit.record import audit_record_denied
from core.context import no_organization, organization_context
from core.errors import DomainError, FieldError, InvalidInput
from llm.client import Delta, Finished, ModelCallError
from llm.services.calls import generation_stream
from tenancy.api.authentication import BearerTokenAuthentication
from tenancy.api.base import member_acting, resolve_membership
from tenancy.models import Membership, Role
from tenancy.services.tokens import api_token_touch

logger = logging.getLogger(__name__)

# The keys each request body may hold; any other is refused, naming it, as the DRF serializers refuse theirs.
TURN_KEYS = ("lease_token", "prompt", "parent")
REGENERATE_KEYS = ("lease_token",)
EDIT_KEYS = ("lease_token", "content")
# A reply cut short by the person leaving (the browser closed the stream) is failed with this, so the tree never
# keeps a reply that is "streaming" forever.
CANCELLED = ModelCallError("cancelled", "The reply was interrupted before it finished; regenerate it.")


def _render(response: Response) -> HttpResponse:
    """A DRF error answer made outside a DRF view, in the same bytes (core.api.exceptions.json_error)."""
    headers = {name: value for name, value in response.items() if name.lower() != "content-type"}
    return json_error(response.data, response.status_code, headers or None)


def _json(data: Any, status_code: int = status.HTTP_200_OK) -> HttpResponse:
    return HttpResponse(JSONRenderer().render(data), status=status_code, content_type="application/json")


class _Caller:
    """The resolved member of a request, its organization, who the trail names, and the body it sent."""

    def __init__(self, membership: Membership, actor: ActorContext, body: dict[str, Any]) -> None:
        self.membership = membership
        self.organization_id = membership.organization_id
        self.actor = actor
        self.body = body


def _authenticate(request: HttpRequest, allowed_keys: tuple[str, ...] | None) -> _Caller:
    """Resolve the member as the DRF base view does (bearer token or session + CSRF), then read the JSON body."""
    with no_organization():
        drf_request = Request(
            request,
            # The API's configured parser and authenticators (REST_FRAMEWORK in settings), in the same order.
            parsers=[StrictJSONParser()],
            authenticators=[BearerTokenAuthentication(), SessionAuthentication()],
        )
        user = drf_request.user
        if user is None or not user.is_authenticated:
            raise exceptions.NotAuthenticated()
        membership, role, token = member_acting(drf_request, resolve_membership(drf_request))
        if not role.at_least(Role.ANNOTATOR):
            raise exceptions.PermissionDenied(f"This action needs the {Role.ANNOTATOR.value} role or higher.")
        if token is not None:
            with organization_context(membership.organization_id):
                api_token_touch(token=token)
        body: dict[str, Any] = {}
        if allowed_keys is not None:
            data = drf_request.data
            if not isinstance(data, dict):
                raise InvalidInput("The request body must be a JSON object.")
            unknown = [key for key in data if key not in allowed_keys]
            if unknown:
                raise InvalidInput(
                    "The request has invalid fields.",
                    errors=[FieldError(str(key), "Unknown field.", "unknown_field") for key in unknown],
                )
            body = dict(data)
        return _Caller(membership, current_actor(), body)


def _refusal(request: HttpRequest, exc: Exception, organization_id: int | None, kwargs: dict[str, Any]) -> HttpResponse:
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        # As DRF answers with the bearer scheme first among the authenticators: 401 and the challenge.
        setattr(exc, "auth_header", 'Bearer realm="api"')  # noqa: B010 - DRF reads it off the exception
    response = exception_handler(exc, {"request": request, "view": None})
    if response is None:
        raise exc
    if organization_id is not None and response.status_code in (status.HTTP_403_FORBIDDEN, status.HTTP_404_NOT_FOUND):
        audit_record_denied(
            organization_id=organization_id,
            action="access.not_found" if response.status_code == status.HTTP_404_NOT_FOUND else "access.forbidden",
            target_type=request.resolver_match.view_name if request.resolver_match else "",
            metadata={
                "method": request.method,
                "path": request.path[:512],
                "kwargs": {k: str(v)[:64] for k, v in kwargs.items()},
            },
        )
    return _render(response)


async def _in_organization(caller: _Caller, function: Callable[..., Any], **kwargs: Any) -> Any:
    """Run one service or selector in a thread, inside the caller's organization and on the caller's behalf."""

    def run() -> Any:
        with actor_context(caller.actor), organization_context(caller.organization_id):
            return function(**kwargs)

    return await sync_to_async(run)()


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class ChatView(View):
    """What every chat route does before its handler: resolve the caller, answer refusals in the API's one shape."""

    body_keys: tuple[str, ...] | None = None

    @method_decorator(csrf_exempt)  # the session authenticator enforces CSRF itself, as DRF views do
    # Async, as every handler of an async view must be; django-stubs types View.dispatch as sync only.
    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:  # type: ignore[override]
        handler = getattr(self, (request.method or "").lower(), None)
        if handler is None:
            return _render(exception_handler(exceptions.MethodNotAllowed(request.method or ""), {}))  # type: ignore[arg-type]
        organization_id: int | None = None
        try:
            caller = await sync_to_async(_authenticate)(request, self.body_keys)
            organization_id = caller.organization_id
            response: HttpResponseBase = await handler(request, caller, **kwargs)
        except (exceptions.APIException, DomainError, Http404) as exc:
            return await sync_to_async(_refusal)(request, exc, organization_id, kwargs)
        return response


class ChatConversationView(ChatView):
    """GET: the conversation of the caller's live assignment for one chat field, blind as the field says."""

    async def get(
        self, request: HttpRequest, caller: _Caller, chat_assignment_id: str, field_name: str
    ) -> HttpResponse:
        view = await _in_organization(
            caller,
            chat_for_annotator,
            actor=caller.membership,
            assignment_uuid=chat_assignment_id,
            field_name=field_name,
        )
        return _json(view)


class ChatTurnView(ChatView):
    """POST {lease_token, prompt, parent}: a new turn, every model's reply streamed as Server-Sent Events."""

    body_keys = TURN_KEYS

    async def post(
        self, request: HttpRequest, caller: _Caller, chat_assignment_id: str, field_name: str
    ) -> HttpResponseBase:
        plan = await _in_organization(
            caller,
            chat_turn_begin,
            actor=caller.membership,
            assignment_uuid=chat_assignment_id,
            field_name=field_name,
            lease_token=caller.body.get("lease_token"),
            prompt=caller.body.get("prompt"),
            parent_uuid=caller.body.get("parent"),
        )
        return _event_stream(caller, plan)


class ChatRegenerateView(ChatView):
    """POST {lease_token}: the same model asked again for a reply, a new sibling streamed in the same slot."""

    body_keys = REGENERATE_KEYS

    async def post(
        self, request: HttpRequest, caller: _Caller, chat_assignment_id: str, field_name: str, message_id: str
    ) -> HttpResponseBase:
        plan = await _in_organization(
            caller,
            chat_regenerate_begin,
            actor=caller.membership,
            assignment_uuid=chat_assignment_id,
            field_name=field_name,
            lease_token=caller.body.get("lease_token"),
            message_uuid=message_id,
        )
        return _event_stream(caller, plan)


class ChatEditView(ChatView):
    """POST {lease_token, content}: the annotator's rewrite of a reply, a new sibling the conversation can go on
    from. Answered 201 with the new message."""

    body_keys = EDIT_KEYS

    async def post(
        self, request: HttpRequest, caller: _Caller, chat_assignment_id: str, field_name: str, message_id: str
    ) -> HttpResponse:
        edited = await _in_organization(
            caller,
            _edit,
            actor=caller.membership,
            assignment_uuid=chat_assignment_id,
            field_name=field_name,
            lease_token=caller.body.get("lease_token"),
            message_uuid=message_id,
            content=caller.body.get("content"),
        )
        return _json(edited, status.HTTP_201_CREATED)


def _edit(**kwargs: Any) -> dict[str, Any]:
    edited = chat_reply_edit(**kwargs)
    uuids = {m.pk: m.uuid for m in ChatMessage.objects.filter(pk__in=[edited.parent_id, edited.edited_from_id])}
    field = chat_field(project=edited.conversation.project, name=edited.conversation.field)
    return message_view(edited, blind=field.blind if field is not None else True, uuids=uuids)


def _event_stream(caller: _Caller, plan: ChatPlan) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_replies(caller, plan), content_type="text/event-stream")
    # Proxies must pass each event on as it comes, and nobody may keep a copy of a conversation.
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"
    return response


async def _replies(caller: _Caller, plan: ChatPlan) -> AsyncIterator[bytes]:
    """Every reply of the plan at once, their pieces interleaved as they come; each reply ended in the database as
    soon as it ends, so a slot's failure never holds the others back."""
    yield _event(
        "prompt",
        {
            "conversation": str(plan.conversation.uuid),
            "message": str(plan.prompt.uuid),
            "turn": plan.prompt.turn,
            "replies": [{"slot": r.slot, "message": str(r.message.uuid)} for r in plan.replies],
        },
    )
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    states: dict[str, str] = {}
    tasks = [asyncio.create_task(_reply(caller, plan, reply, queue, states)) for reply in plan.replies]
    try:
        running = len(tasks)
        while running:
            item = await queue.get()
            if item is None:
                running -= 1
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    yield _event(
        "turn",
        {
            "prompt": str(plan.prompt.uuid),
            "turn": plan.prompt.turn,
            "replies": [
                {"slot": r.slot, "message": str(r.message.uuid), "state": states.get(r.slot, "failed")}
                for r in plan.replies
            ],
        },
    )


async def _reply(
    caller: _Caller, plan: ChatPlan, reply: ReplyPlan, queue: "asyncio.Queue[bytes | None]", states: dict[str, str]
) -> None:
    ids = {"slot": reply.slot, "message": str(reply.message.uuid)}
    pieces: list[str] = []
    try:
        with actor_context(caller.actor):
            stream = generation_stream(
                actor=caller.membership,
                connection=reply.connection,
                project=plan.assignment.project,
                task=plan.assignment.task,
                purpose="chat",
                messages=reply.history,
            )
        finished: Finished | None = None
        async for event in stream:
            if isinstance(event, Delta):
                pieces.append(event.text)
                await queue.put(_event("delta", {**ids, "text": event.text}))
            elif isinstance(event, Finished):
                finished = event
        if finished is None:
            raise ModelCallError("disconnected", "The model stopped before it finished its reply.")
        await _in_organization(caller, chat_reply_finish, message=reply.message, finished=finished)
        states[reply.slot] = "complete"
        await queue.put(_event("done", {**ids, "text": finished.text}))
    except ModelCallError as exc:
        await _in_organization(caller, chat_reply_fail, message=reply.message, error=exc, partial="".join(pieces))
        states[reply.slot] = "failed"
        await queue.put(
            _event("error", {**ids, "code": exc.code, "error": exc.message, "retry_after": exc.retry_after})
        )
    except asyncio.CancelledError:
        await _in_organization(caller, chat_reply_fail, message=reply.message, error=CANCELLED, partial="".join(pieces))
        raise
    except Exception:
        logger.exception("chat.reply_failed", extra={"message_id": str(reply.message.uuid)})
        error = ModelCallError("upstream_error", "The reply failed; regenerate it.")
        await _in_organization(caller, chat_reply_fail, message=reply.message, error=error, partial="".join(pieces))
        states[reply.slot] = "failed"
        await queue.put(_event("error", {**ids, "code": error.code, "error": error.message, "retry_after": None}))
    finally:
        await queue.put(None)
