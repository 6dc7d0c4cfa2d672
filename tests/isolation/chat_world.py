"""The live chat part of a populated tenant: a project with a chat field, a chat lease for every member with a role
and, in each, a finished first turn, so every chat route has a conversation, a reply and a lease to act on."""

from types import SimpleNamespace

from annotation.services.chat import chat_reply_finish, chat_turn_begin
from annotation.services.claim import assignment_claim
from llm.client import Finished
from llm.services.connections import model_connection_create
from projects.services.projects import project_create
from projects.services.tasks import task_bulk_create
from tests.isolation.llm_world import MODEL_ENDPOINT


class FieldName(str):
    """A chat field's name where the matrices expect an object's public id. Names are the tenant's own (prefixed),
    so one tenant's never addresses another's field; `.hex` gives the name itself, so every variant the matrices
    build from it (upper case, hex, the internal key) names a field no project of the caller has."""

    @property
    def hex(self) -> str:
        return str(self)


def populate_chat(world: SimpleNamespace) -> None:
    """`chat_project`, its field `chat_field` (whose `.uuid` is the field's name, as the routes' paths take it),
    `chat_assignments[role]` and `chat_messages[role]` (a finished reply in that member's conversation), and the
    owner's as `chat_assignment`, `chat_message` and `conversation`.

    The field's model connection is switched off, so a turn sent by the suites is refused before any call leaves
    the machine: the route still stores the prompt, fails the reply with a plain message and records both.
    """
    prefix, owner = world.prefix, world.owner
    connection = model_connection_create(
        actor=owner, name=f"{prefix} chat model", base_url=MODEL_ENDPOINT, model=f"{prefix}-chat-8b", enabled=False
    )
    field = FieldName(f"{prefix}_talk")
    schema = {"fields": [{"name": field, "type": "chat", "connections": [connection.name]}]}
    world.chat_project = project_create(actor=owner, name=f"{prefix} chat", label_schema=schema)
    holders: dict[object, object] = dict(world.members)
    if owner not in holders.values():
        holders["owner"] = owner
    task_bulk_create(
        actor=owner,
        project=world.chat_project,
        items=[{"external_id": f"{prefix}-chat-{i}", "data": {"text": f"{prefix} chat"}} for i in range(len(holders))],
    )
    world.chat_field = SimpleNamespace(uuid=field, pk=f"{field}_internal")
    world.chat_assignments, world.chat_messages = {}, {}
    for role, member in holders.items():
        claim = assignment_claim(actor=member, project=world.chat_project)
        assert claim.assignment is not None, claim.refusal
        plan = chat_turn_begin(
            actor=member,
            assignment_uuid=claim.assignment.uuid,
            field_name=field,
            lease_token=claim.assignment.lease_token,
            prompt=f"{prefix} hello",
            parent_uuid=None,
        )
        # The state a finished stream leaves (the suites never reach a model server).
        reply = chat_reply_finish(
            message=plan.replies[0].message,
            finished=Finished(
                text=f"{prefix} reply",
                prompt_tokens=2,
                completion_tokens=2,
                finish_reason="stop",
                ttft_ms=5.0,
                latency_ms=9.0,
            ),
        )
        world.chat_assignments[role], world.chat_messages[role] = claim.assignment, reply
    owner_role = next(role for role, member in holders.items() if member == owner)
    world.chat_assignment = world.chat_assignments[owner_role]
    world.chat_message = world.chat_messages[owner_role]
    world.conversation = world.chat_message.conversation
