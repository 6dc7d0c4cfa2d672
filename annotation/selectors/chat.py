"""Reads of live chat fields: the chat field a route names, a conversation and its tree as the annotator (or a
reviewer) may see it, the messages a model is sent, and the check of a submitted chat answer against its tree.

While a field is blind nothing here names a model: no connection, model name or address reaches a person who
labels or reviews; the slot letter is all they see. Exports (annotation.exports.chat_*) reveal the models.
"""

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from annotation.models import Assignment, ChatMessage, ChatMessageState, ChatRole, Conversation
from annotation.selectors.assignments import held_assignment
from core.errors import DomainError, FieldError
from projects.label_schema import ChatField
from projects.label_schema._json import index_path, key_path
from projects.label_schema.fields import chat_connections_hidden
from projects.label_schema.values import CHAT_SLOTS
from projects.models import Project
from projects.services.schema_versions import project_schema
from tenancy.models import Membership


class ChatNotFound(DomainError):
    """A missing, foreign or finished assignment, a field that is not a chat, a message of another conversation:
    answered alike, as the API answers every object the caller may not reach."""

    status = 404
    code = "not_found"

    def __init__(self) -> None:
        super().__init__("Not found.")


def chat_field(*, project: Project, name: str) -> ChatField | None:
    """The project's chat field called `name` in its current schema, or None."""
    schema = project_schema(project)
    field = schema.get(name) if schema is not None else None
    return field if isinstance(field, ChatField) else None


def schema_for_labelling(document: dict[str, Any]) -> dict[str, Any]:
    """A schema document as the labelling and review pages embed it: no chat field names its models."""
    return chat_connections_hidden(document)


def chat_fields(*, project: Project) -> list[ChatField]:
    schema = project_schema(project)
    return [f for f in schema or () if isinstance(f, ChatField)]


def conversation_of(*, assignment: Assignment, field_name: str) -> Conversation | None:
    return Conversation.objects.filter(assignment=assignment, field=field_name).first()


def chat_history(*, field: ChatField, last: ChatMessage) -> list[dict[str, str]]:
    """What a model is sent to answer `last` (a prompt): the field's system prompt, then the path from the
    conversation's root to `last`, each reply on it as the annotator kept it (an edit in place of its original)."""
    path: list[ChatMessage] = []
    node: ChatMessage | None = last
    while node is not None:
        path.append(node)
        node = node.parent
    messages = [{"role": "system", "content": field.system_prompt}] if field.system_prompt else []
    messages.extend({"role": m.role, "content": m.content} for m in reversed(path))
    return messages


def message_view(message: ChatMessage, *, blind: bool, uuids: dict[int, Any]) -> dict[str, Any]:
    """One message as the annotator or a reviewer sees it; the model is named only when the field is not blind.
    `uuids` gives the public id of each message the view may name (parent, lineage) by its key."""

    def ref(pk: int | None) -> str | None:
        return None if pk is None else str(uuids[pk])

    view: dict[str, Any] = {
        "id": str(message.uuid),
        "parent": ref(message.parent_id),
        "role": message.role,
        "content": message.content,
        "turn": message.turn,
        "origin": message.origin,
        "edited_from": ref(message.edited_from_id),
        "regenerated_from": ref(message.regenerated_from_id),
        "slot": message.slot or None,
        "state": message.state,
        "error": message.error_message or None,
        "created_at": message.created_at.isoformat(),
    }
    if not blind and message.role == ChatRole.ASSISTANT:
        view["model"] = message.connection.name if message.connection is not None else None
    return view


def conversation_view(*, conversation: Conversation | None, field: ChatField) -> dict[str, Any]:
    """A conversation's whole tree, in the order it was written, as the annotator or a reviewer may see it."""
    messages = list(conversation.messages.select_related("connection").order_by("id")) if conversation else []
    uuids = {m.pk: m.uuid for m in messages}
    return {
        "conversation": str(conversation.uuid) if conversation else None,
        "field": field.name,
        "blind": field.blind,
        "max_turns": field.max_turns,
        "slots": list(CHAT_SLOTS[: len(field.connections)]),
        "messages": [message_view(m, blind=field.blind, uuids=uuids) for m in messages],
    }


def conversation_all() -> "QuerySet[Conversation]":
    """The organization's conversations, with what a reviewer's view of one needs."""
    return Conversation.objects.select_related("project", "task")


def conversation_for_review(*, conversation: Conversation) -> dict[str, Any]:
    """A conversation as a reviewer reads it: blind as its field is (a field since removed from the schema is
    treated as blind, so a later schema never unmasks an earlier comparison)."""
    field = chat_field(project=conversation.project, name=conversation.field)
    if field is None:
        field = ChatField(name=conversation.field, connections=("", ""), blind=True)
    return conversation_view(conversation=conversation, field=field)


def chat_for_annotator(*, actor: Membership, assignment_uuid: Any, field_name: str) -> dict[str, Any]:
    """The conversation of the actor's live assignment for one chat field (empty before the first turn)."""
    assignment = held_assignment(actor=actor, assignment_uuid=assignment_uuid)
    if assignment is None:
        raise ChatNotFound()
    field = chat_field(project=assignment.project, name=field_name)
    if field is None:
        raise ChatNotFound()
    return conversation_view(conversation=conversation_of(assignment=assignment, field_name=field.name), field=field)


def chat_result_errors(*, assignment: Assignment, result: Any, path: str = "result") -> list[FieldError]:
    """Every way a submitted result's chat answers do not match the conversations of this assignment, each at its
    path (`result.chat.turns[1].replies[0]`). Run after the schema's own check, which has vouched for the shape."""
    if not isinstance(result, dict):
        return []
    errors: list[FieldError] = []
    for field in chat_fields(project=assignment.project):
        value = result.get(field.name)
        if isinstance(value, dict):
            errors.extend(_answer_errors(assignment, field, value, key_path(path, field.name)))
    return errors


def _answer_errors(assignment: Assignment, field: ChatField, value: dict[str, Any], path: str) -> list[FieldError]:
    conversation = conversation_of(assignment=assignment, field_name=field.name)
    if conversation is None or str(conversation.uuid) != str(value.get("conversation", "")).lower():
        return [
            FieldError(key_path(path, "conversation"), "Not the conversation of this task.", "unknown_conversation")
        ]
    messages = {str(m.uuid): m for m in conversation.messages.all()}
    errors: list[FieldError] = []
    previous: ChatMessage | None = None
    for i, turn in enumerate(value.get("turns") or []):
        where = index_path(key_path(path, "turns"), i)
        prompt = messages.get(str(turn.get("prompt", "")).lower())
        if prompt is None or prompt.role != ChatRole.USER:
            errors.append(
                FieldError(key_path(where, "prompt"), "Not a prompt of this conversation.", "unknown_message")
            )
            return errors  # the turns after it cannot be placed in the tree
        if prompt.parent_id != (previous.pk if previous else None):
            errors.append(
                FieldError(
                    key_path(where, "prompt"),
                    f"Turn {i + 1} does not follow the reply chosen in the turn before it.",
                    "not_a_path",
                )
            )
            return errors
        replies = _turn_replies(prompt, turn.get("replies") or [], messages, key_path(where, "replies"), errors)
        if replies is None:
            return errors
        chosen = messages.get(str(turn.get("chosen", "")).lower()) if "chosen" in turn else None
        # With one model the reply is the way on; with several, the chosen one (the schema check ensured one).
        previous = chosen or (replies[0] if len(replies) == 1 else None)
        if previous is None and i + 1 < len(value.get("turns") or []):
            errors.append(
                FieldError(key_path(where, "chosen"), "Name the reply the conversation went on from.", "required")
            )
            return errors
    return errors


def _turn_replies(
    prompt: ChatMessage,
    ids: Iterable[Any],
    messages: dict[str, ChatMessage],
    path: str,
    errors: list[FieldError],
) -> list[ChatMessage] | None:
    replies: list[ChatMessage] = []
    for k, raw in enumerate(ids):
        reply = messages.get(str(raw).lower())
        where = index_path(path, k)
        if reply is None or reply.role != ChatRole.ASSISTANT or reply.parent_id != prompt.pk:
            errors.append(FieldError(where, "Not a reply to this turn's prompt.", "unknown_message"))
            return None
        if reply.slot != CHAT_SLOTS[k]:
            errors.append(FieldError(where, f"This reply is Response {reply.slot}, not {CHAT_SLOTS[k]}.", "wrong_slot"))
            return None
        if reply.state != ChatMessageState.COMPLETE:
            errors.append(FieldError(where, "This reply did not finish; regenerate it first.", "incomplete"))
            return None
        replies.append(reply)
    return replies
