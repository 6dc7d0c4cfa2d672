"""Writes of live chat fields: a prompt and its replies, a regenerated reply, an edited reply, and how a reply ends.

Every write is fenced like a submit: the caller is the annotator holding the assignment's live lease, and presents
its token. The model calls themselves are made by the caller (annotation.api.chat) between these short
transactions, never inside one: a turn is begun here (the prompt and one streaming reply per model written, the
`chat.turn` event recorded), the models stream with no transaction open, and each reply is then ended here on its
own. A reply that fails is marked failed with its error and stays in the tree, so the annotator can regenerate it.
"""

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from annotation.models import (
    Assignment,
    ChatMessage,
    ChatMessageState,
    ChatOrigin,
    ChatRole,
    Conversation,
)
from annotation.selectors.assignments import uuid_or_none
from annotation.selectors.chat import ChatNotFound, chat_field, chat_history, conversation_of
from annotation.services.leases import lease_check, own_assignment_for_update
from core.audit.record import audit_record
from core.errors import Conflict, FieldError, InvalidInput
from llm.client import Finished, ModelCallError
from llm.models import ModelConnection
from llm.selectors import connections_by_name
from projects.label_schema import ChatField
from projects.label_schema.limits import CHAT_PROMPT_MAX_LENGTH
from projects.label_schema.values import CHAT_SLOTS
from tenancy.models import Membership

logger = logging.getLogger(__name__)

# Passed as the lease token by a caller that checks the lease itself, once every id of the path has been found: an
# id that is not the caller's must answer 404 whatever token comes with it, never a 409 that says it exists.
_LATER = object()

# An edited reply may be longer than a prompt (a rewritten answer, code), never without bound.
EDIT_MAX_LENGTH = 100_000

# What a failed reply keeps of the error: the ModelCallError's message is written for people, never the upstream's.
ERROR_MESSAGE_MAX_LENGTH = 300


@dataclass(frozen=True)
class ReplyPlan:
    """One reply to stream: the message row waiting for it, the model to ask, and the conversation to send."""

    slot: str
    message: ChatMessage
    connection: ModelConnection
    history: list[dict[str, str]]


@dataclass(frozen=True)
class ChatPlan:
    """What a begun turn (or regeneration) asks of the models: the caller streams each reply, then ends it."""

    assignment: Assignment
    field: ChatField
    conversation: Conversation
    prompt: ChatMessage
    replies: list[ReplyPlan]


def _leased(
    *, actor: Membership, assignment_uuid: Any, lease_token: Any, field_name: str
) -> tuple[Assignment, ChatField]:
    """The actor's own assignment, locked, and the chat field it is asked about; the live lease is checked here
    unless `lease_token` is _LATER (the caller checks it once the rest of the path is found)."""
    assignment = own_assignment_for_update(actor=actor, assignment_uuid=assignment_uuid)
    if assignment is None:
        raise ChatNotFound()
    field = chat_field(project=assignment.project, name=field_name)
    if field is None:
        raise ChatNotFound()
    if lease_token is not _LATER:
        lease_check(assignment=assignment, lease_token=lease_token)
    return assignment, field


def _connections(field: ChatField) -> dict[str, ModelConnection]:
    found = connections_by_name(names=list(field.connections))
    if len(found) != len(field.connections):
        # Which one is missing is not said: while blind, a name would tell the annotator which models answer.
        raise Conflict("One of this field's models is no longer configured; ask a project manager.")
    return found


def _text(value: Any, field: str, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("The request has invalid fields.", errors=[FieldError(field, "May not be blank.", "blank")])
    if len(value) > max_length:
        raise InvalidInput(
            "The request has invalid fields.",
            errors=[FieldError(field, f"At most {max_length} characters ({len(value)} given).", "too_long")],
        )
    return value


def _reply(
    *,
    conversation: Conversation,
    parent: ChatMessage,
    connection: ModelConnection,
    slot: str,
    origin: str,
    regenerated_from: ChatMessage | None = None,
) -> ChatMessage:
    return ChatMessage.objects.create(
        conversation=conversation,
        parent=parent,
        role=ChatRole.ASSISTANT,
        turn=parent.turn,
        origin=origin,
        regenerated_from=regenerated_from,
        connection=connection,
        model_name=connection.model,
        parameters=dict(connection.parameters or {}),
        slot=slot,
        state=ChatMessageState.STREAMING,
    )


def chat_turn_begin(
    *,
    actor: Membership,
    assignment_uuid: Any,
    field_name: str,
    lease_token: Any,
    prompt: Any,
    parent_uuid: Any,
) -> ChatPlan:
    """Store the annotator's prompt after `parent` (a reply of the conversation, or None for a first turn) and one
    streaming reply per model, in an order drawn at random for this turn; the caller streams them."""
    with transaction.atomic():
        assignment, field = _leased(
            actor=actor, assignment_uuid=assignment_uuid, lease_token=lease_token, field_name=field_name
        )
        text = _text(prompt, "prompt", CHAT_PROMPT_MAX_LENGTH)
        conversation = conversation_of(assignment=assignment, field_name=field.name)
        if conversation is None:
            conversation = Conversation.objects.create(
                project=assignment.project,
                task=assignment.task,
                assignment=assignment,
                annotator=actor,
                field=field.name,
            )
        parent = _parent(conversation, parent_uuid)
        turn = 1 if parent is None else parent.turn + 1
        if turn > field.max_turns:
            raise InvalidInput(
                "The conversation is as long as it may be.",
                errors=[FieldError("parent", f"This chat allows {field.max_turns} turns.", "too_many")],
            )
        connections = _connections(field)
        # A fresh order per turn, so no position (left, first) stays with one model across the conversation.
        order = secrets.SystemRandom().sample(list(field.connections), k=len(field.connections))
        prompt_message = ChatMessage.objects.create(
            conversation=conversation,
            parent=parent,
            role=ChatRole.USER,
            content=text,
            turn=turn,
            origin=ChatOrigin.PROMPT,
            slot_order=order,
            state=ChatMessageState.COMPLETE,
        )
        history = chat_history(field=field, last=prompt_message)
        replies = [
            ReplyPlan(
                slot=CHAT_SLOTS[index],
                message=_reply(
                    conversation=conversation,
                    parent=prompt_message,
                    connection=connections[name],
                    slot=CHAT_SLOTS[index],
                    origin=ChatOrigin.GENERATED,
                ),
                connection=connections[name],
                history=history,
            )
            for index, name in enumerate(order)
        ]
        # On the assignment's trail, as the rest of an annotator's work on it is; the messages are in the metadata.
        audit_record(
            action="chat.turn",
            target=assignment,
            metadata={
                "prompt": str(prompt_message.uuid),
                "conversation": str(conversation.uuid),
                "field": field.name,
                "turn": turn,
                "assignment": str(assignment.uuid),
                "slot_order": order,
                "replies": [str(r.message.uuid) for r in replies],
            },
        )
    return ChatPlan(
        assignment=assignment, field=field, conversation=conversation, prompt=prompt_message, replies=replies
    )


def _parent(conversation: Conversation, parent_uuid: Any) -> ChatMessage | None:
    if parent_uuid is None:
        return None
    parent = _message(conversation, parent_uuid, "parent")
    if parent.role != ChatRole.ASSISTANT or parent.state != ChatMessageState.COMPLETE:
        raise InvalidInput(
            "A turn continues from a finished reply.",
            errors=[FieldError("parent", "Continue from a reply that has finished.", "invalid_parent")],
        )
    return parent


def _message(conversation: Conversation, message_uuid: Any, field: str) -> ChatMessage:
    public_id = uuid_or_none(message_uuid)
    message = conversation.messages.filter(uuid=public_id).first() if public_id is not None else None
    if message is None:
        raise InvalidInput(
            "The request has invalid fields.",
            errors=[FieldError(field, "No message of this conversation has this id.", "unknown_message")],
        )
    return message


def _reply_to_change(
    *, actor: Membership, assignment_uuid: Any, field_name: str, lease_token: Any, message_uuid: Any
) -> tuple[Assignment, ChatField, Conversation, ChatMessage]:
    assignment, field = _leased(actor=actor, assignment_uuid=assignment_uuid, lease_token=_LATER, field_name=field_name)
    conversation = conversation_of(assignment=assignment, field_name=field.name)
    if conversation is None:
        raise ChatNotFound()
    public_id = uuid_or_none(message_uuid)
    message = (
        conversation.messages.filter(uuid=public_id).select_related("parent", "connection").first()
        if public_id is not None
        else None
    )
    if message is None or message.role != ChatRole.ASSISTANT:
        raise ChatNotFound()
    lease_check(assignment=assignment, lease_token=lease_token)
    return assignment, field, conversation, message


def chat_regenerate_begin(
    *, actor: Membership, assignment_uuid: Any, field_name: str, lease_token: Any, message_uuid: Any
) -> ChatPlan:
    """Ask the model behind a reply (finished, failed or edited) for a new one: a sibling in the same slot, the
    reply it replaces kept and named."""
    with transaction.atomic():
        assignment, field, conversation, message = _reply_to_change(
            actor=actor,
            assignment_uuid=assignment_uuid,
            field_name=field_name,
            lease_token=lease_token,
            message_uuid=message_uuid,
        )
        if message.state == ChatMessageState.STREAMING:
            raise Conflict("This reply is still being written; wait for it to finish.")
        if message.connection is None:
            raise ChatNotFound()
        prompt = message.parent
        assert prompt is not None  # a reply always answers a prompt
        reply = _reply(
            conversation=conversation,
            parent=prompt,
            connection=message.connection,
            slot=message.slot,
            origin=ChatOrigin.REGENERATED,
            regenerated_from=message,
        )
        audit_record(
            action="chat.regenerate",
            target=message,
            metadata={
                "reply": str(reply.uuid),
                "conversation": str(conversation.uuid),
                "field": field.name,
                "turn": reply.turn,
                "slot": reply.slot,
            },
        )
        plan = ReplyPlan(
            slot=reply.slot,
            message=reply,
            connection=message.connection,
            history=chat_history(field=field, last=prompt),
        )
    return ChatPlan(assignment=assignment, field=field, conversation=conversation, prompt=prompt, replies=[plan])


def chat_reply_edit(
    *, actor: Membership, assignment_uuid: Any, field_name: str, lease_token: Any, message_uuid: Any, content: Any
) -> ChatMessage:
    """The annotator's rewrite of a reply: a new sibling in the same slot (origin `edited`), the original kept and
    named, from which the conversation may continue."""
    with transaction.atomic():
        _, field, conversation, message = _reply_to_change(
            actor=actor,
            assignment_uuid=assignment_uuid,
            field_name=field_name,
            lease_token=lease_token,
            message_uuid=message_uuid,
        )
        text = _text(content, "content", EDIT_MAX_LENGTH)
        if message.state != ChatMessageState.COMPLETE:
            raise Conflict("Only a finished reply can be edited; regenerate a failed one.")
        edited = ChatMessage.objects.create(
            conversation=conversation,
            parent=message.parent,
            role=ChatRole.ASSISTANT,
            content=text,
            turn=message.turn,
            origin=ChatOrigin.EDITED,
            edited_from=message,
            connection=message.connection,
            model_name=message.model_name,
            parameters=message.parameters,
            slot=message.slot,
            state=ChatMessageState.COMPLETE,
        )
        audit_record(
            action="chat.edit",
            target=message,
            metadata={
                "edit": str(edited.uuid),
                "conversation": str(conversation.uuid),
                "field": field.name,
                "turn": edited.turn,
                "slot": edited.slot,
                "length": len(text),
            },
        )
    return edited


def chat_reply_finish(*, message: ChatMessage, finished: Finished) -> ChatMessage:
    """A streamed reply arrived whole: its text and what it cost. The call itself is on the trail (`model.call`)."""
    with transaction.atomic():
        ChatMessage.objects.filter(pk=message.pk, state=ChatMessageState.STREAMING).update(
            content=finished.text,
            state=ChatMessageState.COMPLETE,
            ttft_ms=finished.ttft_ms,
            latency_ms=finished.latency_ms,
            prompt_tokens=finished.prompt_tokens,
            completion_tokens=finished.completion_tokens,
        )
    message.refresh_from_db()
    return message


def chat_reply_fail(*, message: ChatMessage, error: ModelCallError, partial: str = "") -> ChatMessage:
    """A reply that did not arrive whole: failed with the error a person can read, and what had come kept for the
    record; the annotator regenerates it (a sibling) to go on."""
    with transaction.atomic():
        ChatMessage.objects.filter(pk=message.pk, state=ChatMessageState.STREAMING).update(
            content=partial,
            state=ChatMessageState.FAILED,
            error_code=error.code[:32],
            error_message=error.message[:ERROR_MESSAGE_MAX_LENGTH],
        )
    message.refresh_from_db()
    return message
