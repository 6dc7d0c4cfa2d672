"""What the export formats make of a chat field's answer: the conversation's whole tree (JSONL), the chosen path as
an SFT chat (SFT), and preference pairs per turn (DPO). Unlike every page an annotator or reviewer sees, an export
names the models: each reply carries its connection and model, and each turn its slot order.

The answer (`{"conversation", "turns": [{"prompt", "replies", "chosen", "ratings"}]}`, docs/label-schemas.md) names
messages of a conversation stored apart; its tree is read once per answer, in the export's organization.
"""

from collections.abc import Mapping
from typing import Any

from annotation.models import ChatMessage, ChatRole, Conversation
from projects.label_schema.fields import ChatField
from projects.label_schema.values import CHAT_SLOTS


def chat_tree(value: Any) -> dict[str, Any] | None:
    """The conversation an answer names, every message of it in the order written, models named; None without one."""
    conversation_id = value.get("conversation") if isinstance(value, Mapping) else None
    conversation = Conversation.objects.filter(uuid=conversation_id).first() if conversation_id else None
    if conversation is None:
        return None
    messages = list(conversation.messages.select_related("connection").order_by("id"))
    uuids = {m.pk: str(m.uuid) for m in messages}
    return {
        "conversation": str(conversation.uuid),
        "field": conversation.field,
        "messages": [_message(m, uuids) for m in messages],
    }


def _message(message: ChatMessage, uuids: dict[int, str]) -> dict[str, Any]:
    def ref(pk: int | None) -> str | None:
        return None if pk is None else uuids.get(pk)

    document: dict[str, Any] = {
        "id": str(message.uuid),
        "parent": ref(message.parent_id),
        "role": message.role,
        "content": message.content,
        "turn": message.turn,
        "origin": message.origin,
        "edited_from": ref(message.edited_from_id),
        "regenerated_from": ref(message.regenerated_from_id),
        "state": message.state,
        "created_at": message.created_at.isoformat().replace("+00:00", "Z"),
    }
    if message.role == ChatRole.USER:
        document["slot_order"] = message.slot_order
    else:
        document.update(
            slot=message.slot,
            connection=message.connection.name if message.connection is not None else None,
            model=message.model_name,
            parameters=message.parameters,
            error_code=message.error_code or None,
            ttft_ms=message.ttft_ms,
            latency_ms=message.latency_ms,
            prompt_tokens=message.prompt_tokens,
            completion_tokens=message.completion_tokens,
        )
    return document


def _kept(field: ChatField, turn: Mapping[str, Any]) -> str | None:
    """The reply the conversation went on from: the chosen one, or the only model's."""
    chosen = turn.get("chosen")
    if isinstance(chosen, str):
        return chosen
    replies = turn.get("replies") or []
    return replies[0] if len(field.connections) == 1 and replies else None


def _system(field: ChatField) -> list[dict[str, str]]:
    return [{"role": "system", "content": field.system_prompt}] if field.system_prompt else []


def chat_sft_messages(field: ChatField, value: Any, tree: Mapping[str, Any]) -> list[dict[str, str]] | None:
    """The chosen path as one chat: the system prompt, then each turn's prompt and the reply kept (an edit when the
    annotator rewrote it). None when a turn has no reply kept."""
    by_id = {m["id"]: m for m in tree["messages"]}
    messages = _system(field)
    for turn in value.get("turns") or []:
        prompt, kept = by_id.get(turn.get("prompt")), by_id.get(_kept(field, turn) or "")
        if prompt is None or kept is None:
            return None
        messages += [{"role": "user", "content": prompt["content"]}, {"role": "assistant", "content": kept["content"]}]
    return messages if len(messages) > len(_system(field)) else None


def chat_dpo_pairs(field: ChatField, value: Any, tree: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Preference pairs of every turn, in the conversational form: `prompt` the conversation so far (the chosen
    path), `chosen` the reply chosen, `rejected` each other reply of the turn; and each edited reply kept in a
    slot as chosen over the model's original it rewrote. Each pair names both replies' models and the turn's slot
    order."""
    by_id = {m["id"]: m for m in tree["messages"]}
    history = _system(field)
    pairs: list[dict[str, Any]] = []
    for number, turn in enumerate(value.get("turns") or [], start=1):
        prompt = by_id.get(turn.get("prompt"))
        if prompt is None:
            break
        context = [*history, {"role": "user", "content": prompt["content"]}]
        replies = [by_id.get(r) for r in turn.get("replies") or []]
        kept = by_id.get(_kept(field, turn) or "")
        base = {"turn": number, "slot_order": prompt.get("slot_order", [])}
        if kept is not None and isinstance(turn.get("chosen"), str):
            for other in replies:
                if other is not None and other["id"] != kept["id"]:
                    pairs.append({**_pair(context, kept, other), **base, "kind": "choice"})
        for reply in replies:
            original = by_id.get(reply.get("edited_from") or "") if reply is not None else None
            if reply is not None and original is not None:
                pairs.append({**_pair(context, reply, original), **base, "kind": "edit"})
        if kept is None:
            break
        history = [*context, {"role": "assistant", "content": kept["content"]}]
    return pairs


def _pair(context: list[dict[str, str]], chosen: Mapping[str, Any], rejected: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "prompt": context,
        "chosen": [{"role": "assistant", "content": chosen["content"]}],
        "rejected": [{"role": "assistant", "content": rejected["content"]}],
        "chosen_id": chosen["id"],
        "rejected_id": rejected["id"],
        "chosen_slot": chosen.get("slot"),
        "rejected_slot": rejected.get("slot"),
        "chosen_model": {"connection": chosen.get("connection"), "model": chosen.get("model")},
        "rejected_model": {"connection": rejected.get("connection"), "model": rejected.get("model")},
    }


def slot_letters(field: ChatField) -> str:
    return CHAT_SLOTS[: len(field.connections)]
