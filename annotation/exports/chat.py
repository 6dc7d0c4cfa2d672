"""Reading prompts and chats out of task data, for the preference-pair and SFT formats."""

from typing import Any

ROLES = ("system", "user", "assistant")


def chat_messages(value: Any) -> list[dict[str, str]] | None:
    """The messages of a chat (`{"messages": [...]}` or the list alone) as `{role, content}` pairs, or None."""
    messages = value.get("messages") if isinstance(value, dict) else value
    if not isinstance(messages, list) or not messages:
        return None
    out = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            return None
        content = message.get("content")
        if not isinstance(content, str):
            return None
        out.append({"role": str(message["role"]), "content": content})
    return out
