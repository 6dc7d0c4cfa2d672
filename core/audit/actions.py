"""Every audit action the platform records, declared once, and the check each recorded event passes.

An action is `category.verb`; the category is the hash chain the event joins (numbered and sealed per organization
and category) and what retention and filters go by. A misspelt action would silently start a chain of its own, so
core.audit.record refuses any action not declared here, and any outcome its declaration does not allow. The table
of actions in docs/audit.md is rendered from this registry (`manage.py audit_actions --write`).
"""

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# The values of core.audit.record.Outcome, which imports this module and so cannot be imported here; a test holds
# the two together.
SUCCESS = "success"
DENIED = "denied"
FAILURE = "failure"
_OUTCOMES = frozenset({SUCCESS, DENIED, FAILURE})

# Targets that are not a model: what a refusal stores as its target type.
UI_PAGE = "ui:<page>"
API_VIEW = "<API view name>"

_NAME = re.compile(r"^[a-z_]+\.[a-z_]+$")


@dataclass(frozen=True)
class AuditAction:
    """One action the trail records: its name, what it is about, the outcomes it can have, and why it exists."""

    name: str
    # What `target_type` holds: model labels (`projects.project`), or a kind for targets that are not a row; empty
    # when the event has no target.
    targets: tuple[str, ...]
    description: str
    outcomes: frozenset[str] = frozenset({SUCCESS})
    # Someone saw, or tried to reach, data: reads, downloads of the trail, and refusals. "Who saw task X?" looks here.
    data_access: bool = False

    @property
    def category(self) -> str:
        return self.name.partition(".")[0]

    @property
    def verb(self) -> str:
        return self.name.partition(".")[2]


def _registry(*actions: AuditAction) -> dict[str, AuditAction]:
    # Checked once, when the module is imported: a malformed declaration stops the platform from starting.
    registry: dict[str, AuditAction] = {}
    for action in actions:
        if not _NAME.match(action.name):
            raise ValueError(f"audit action must be 'category.verb' in lower case, got {action.name!r}")
        if action.name in registry:
            raise ValueError(f"audit action {action.name!r} is declared twice")
        if not action.outcomes or not action.outcomes <= _OUTCOMES:
            raise ValueError(f"audit action {action.name!r} declares outcomes {sorted(action.outcomes)}")
        if action.verb == "fail" and action.outcomes != {FAILURE}:
            raise ValueError(f"audit action {action.name!r} names a failure, so its only outcome is {FAILURE!r}")
        registry[action.name] = action
    return registry


_REFUSED = frozenset({DENIED})
_CHECKED = frozenset({SUCCESS, FAILURE})
# `<category>.fail` says that what the event is about failed, so `outcome:failure` finds it: the outcome describes
# the thing recorded, not whether recording it worked (a recording that does not work raises instead).
_FAILED = frozenset({FAILURE})

_ACTIONS = _registry(
    # --- organizations, members, invitations, API tokens, skills (tenancy) ---
    AuditAction("organization.create", ("tenancy.organization",), "An organization is created."),
    AuditAction("organization.update", ("tenancy.organization",), "An organization's name or settings change."),
    AuditAction("member.add", ("tenancy.membership",), "A user becomes a member of the organization."),
    AuditAction("member.update", ("tenancy.membership",), "A member's role, languages or attributes change."),
    AuditAction("member.pause", ("tenancy.membership",), "A member is paused: no new work in any project."),
    AuditAction("member.unpause", ("tenancy.membership",), "A paused member may take work again."),
    AuditAction("member.remove", ("tenancy.membership",), "A member leaves; their open assignments go back."),
    AuditAction("member.skill_set", ("tenancy.membership",), "A member's skill level is set or verified again."),
    AuditAction("member.skill_remove", ("tenancy.membership",), "A skill is taken from a member."),
    AuditAction("invitation.create", ("tenancy.invitation",), "Someone is invited to join, with a role."),
    AuditAction("invitation.revoke", ("tenancy.invitation",), "A pending invitation is withdrawn."),
    AuditAction("invitation.accept", ("tenancy.invitation",), "An invitation is accepted."),
    AuditAction(
        "invitation.purge", ("tenancy.invitation",), "Expired invitations are deleted: one event, with their count."
    ),
    AuditAction("token.create", ("tenancy.apitoken",), "An API token is issued."),
    AuditAction("token.revoke", ("tenancy.apitoken",), "An API token is revoked."),
    AuditAction("auth.login", ("tenancy.user",), "A user signs in."),
    AuditAction(
        "auth.login_failed", ("tenancy.user",), "A sign-in is refused: wrong password or locked out.", _REFUSED
    ),
    AuditAction(
        "auth.token_rejected",
        ("tenancy.apitoken",),
        "A revoked or expired token, or an inactive user's, is refused.",
        _REFUSED,
    ),
    AuditAction("skill.create", ("tenancy.skill",), "A skill is added to the organization's list."),
    AuditAction("skill.update", ("tenancy.skill",), "A skill is renamed or its description changes."),
    AuditAction("skill.delete", ("tenancy.skill",), "A skill nothing requires is deleted, with members' levels in it."),
    # --- projects, tasks, storage, media, imports and exports ---
    AuditAction("project.create", ("projects.project",), "A project is created."),
    AuditAction("project.update", ("projects.project",), "A project's settings, schema or guidelines change."),
    AuditAction("project.delete", ("projects.project",), "A project is deleted, with its tasks."),
    AuditAction("project.dispatch", ("projects.project",), "A manager runs the dispatcher for a project now."),
    AuditAction("task.bulk_create", ("projects.project",), "Tasks are added to a project through the API."),
    AuditAction("task.priority_set", ("projects.project",), "Chosen tasks get a new priority (the data browser)."),
    AuditAction("task.requeue", ("projects.project",), "Chosen tasks ask for one more annotation each."),
    AuditAction("task.gold_set", ("projects.project",), "Chosen tasks become gold with their settled answer, or stop."),
    AuditAction("task.adjudication_request", ("projects.project",), "A manager sends chosen tasks to adjudication."),
    AuditAction("storage.create", ("projects.storageconnection",), "A storage connection is added."),
    AuditAction("storage.update", ("projects.storageconnection",), "A storage connection changes."),
    AuditAction("storage.delete", ("projects.storageconnection",), "A storage connection is removed."),
    AuditAction("model_connection.create", ("llm.modelconnection",), "A model connection is added."),
    AuditAction("model_connection.update", ("llm.modelconnection",), "A model connection changes (its key redacted)."),
    AuditAction("model_connection.delete", ("llm.modelconnection",), "A model connection is removed."),
    AuditAction("model_budget.update", ("projects.project",), "A project's model budget changes."),
    AuditAction(
        "model.call",
        ("projects.task", "projects.project"),
        "A model is called with task data (or refused before): who, which task, which model and endpoint, the "
        "parameters, the token counts, the latency and the outcome.",
        outcomes=frozenset({SUCCESS, FAILURE, DENIED}),
    ),
    AuditAction("judge_run.start", ("llm.judgerun",), "A model is set to judge a project's answered tasks."),
    AuditAction("judge_run.pause", ("llm.judgerun",), "A judge run stops until resumed: the budget is used up."),
    AuditAction("judge_run.resume", ("llm.judgerun",), "A paused or failed judge run is taken up again."),
    AuditAction("judge_run.cancel", ("llm.judgerun",), "An unfinished judge run is cancelled."),
    AuditAction("judge_run.finish", ("llm.judgerun",), "A judge run has judged every task, with its counts."),
    AuditAction("judge_run.fail", ("llm.judgerun",), "A judge run stops on an error, with its reason.", _FAILED),
    AuditAction("media.upload", ("projects.mediaobject",), "A media file is uploaded for a project's tasks."),
    AuditAction("import.create", ("projects.importjob",), "An import of tasks is started."),
    AuditAction("import.cancel", ("projects.importjob",), "An unfinished import is cancelled."),
    AuditAction("import.finish", ("projects.importjob",), "An import ends, with its counts.", _CHECKED),
    AuditAction("export.create", ("projects.exportjob",), "An export of annotations is started."),
    AuditAction("export.complete", ("projects.exportjob",), "An export's file is written."),
    AuditAction("export.fail", ("projects.exportjob",), "An export stops on an error, with its message.", _FAILED),
    # --- routing, annotation, review and quality ---
    AuditAction("assignment.claim", ("annotation.assignment",), "An annotator takes a task."),
    AuditAction("assignment.assign", ("annotation.assignment",), "A manager assigns a task to an annotator."),
    AuditAction("assignment.dispatch", ("projects.project",), "The dispatcher queues work for a project's annotators."),
    AuditAction("assignment.skip", ("annotation.assignment",), "An annotator skips a task, with a reason."),
    AuditAction("assignment.release", ("annotation.assignment",), "An annotator hands a task back."),
    AuditAction("assignment.revoke", ("annotation.assignment",), "An assignment is taken back from its annotator."),
    AuditAction("assignment.expire", ("annotation.assignment",), "Leases run out: one event per batch of ids."),
    AuditAction("exclusion.create", ("annotation.conflictexclusion",), "A conflict rule keeps members off tasks."),
    AuditAction("exclusion.delete", ("annotation.conflictexclusion",), "A conflict rule is removed."),
    AuditAction("progress.pause", ("tenancy.membership",), "A manager pauses an annotator on one project."),
    AuditAction("progress.unpause", ("tenancy.membership",), "An annotator's pause on a project is lifted."),
    AuditAction("qualification.pass", ("annotation.annotatorprogress",), "An annotator passes a qualification."),
    AuditAction(
        "qualification.fail", ("annotation.annotatorprogress",), "An annotator fails a qualification.", _FAILED
    ),
    AuditAction(
        "qualification.pause", ("annotation.annotatorprogress",), "Gold accuracy below the threshold pauses work."
    ),
    AuditAction("annotation.submit", ("annotation.annotation",), "An annotator submits an annotation."),
    AuditAction("chat.turn", ("annotation.assignment",), "An annotator sends a prompt to a chat field's models."),
    AuditAction("chat.regenerate", ("annotation.chatmessage",), "An annotator asks a model for a new reply."),
    AuditAction("chat.edit", ("annotation.chatmessage",), "An annotator rewrites a model's reply (the original kept)."),
    AuditAction(
        "suggestion.job_start",
        ("annotation.suggestionjob",),
        "A manager has a model suggest answers for a project's open tasks (or resumes such a job).",
    ),
    AuditAction(
        "suggestion.job_pause", ("annotation.suggestionjob",), "A suggestion job stops part-way: the budget is used up."
    ),
    AuditAction(
        "suggestion.job_finish", ("annotation.suggestionjob",), "A suggestion job ends, with its counts.", _CHECKED
    ),
    AuditAction("review.accept", ("annotation.annotation",), "A reviewer accepts an annotation."),
    AuditAction("review.reject", ("annotation.annotation",), "A reviewer rejects an annotation, with a comment."),
    AuditAction("review.correct", ("annotation.annotation",), "A reviewer corrects an annotation (a new version)."),
    AuditAction("review.adjudicate", ("projects.task",), "A task's disagreement is settled by adjudication."),
    # --- reads of data ---
    AuditAction(
        "data_access.task_view", ("projects.task",), "A task is read (the API, or its page).", data_access=True
    ),
    AuditAction(
        "data_access.conversation_view",
        ("annotation.conversation",),
        "A reviewer reads an annotator's conversation with the models.",
        data_access=True,
    ),
    AuditAction(
        "data_access.task_list", ("projects.project",), "A page of tasks is listed, naming its tasks.", data_access=True
    ),
    AuditAction(
        "data_access.task_serve",
        ("projects.task",),
        "A claimed task's data is handed to its annotator.",
        data_access=True,
    ),
    AuditAction(
        "data_access.review_queue",
        ("projects.project",),
        "A reviewer is served the annotations waiting for review.",
        data_access=True,
    ),
    AuditAction(
        "data_access.annotation_list", ("projects.task",), "A task's annotations are listed.", data_access=True
    ),
    AuditAction(
        "data_access.adjudication_queue",
        ("projects.project",),
        "The tasks waiting for adjudication are served.",
        data_access=True,
    ),
    AuditAction(
        "data_access.export_download", ("projects.exportjob",), "An export's file is downloaded.", data_access=True
    ),
    AuditAction(
        "data_access.media_url",
        ("annotation.assignment", "annotation.annotation"),
        "A signed link to a task's media file is handed out.",
        data_access=True,
    ),
    AuditAction(
        "data_access.workforce_export",
        ("projects.project",),
        "The workforce report (hours and items per member) is downloaded, for one project or all.",
        data_access=True,
    ),
    # --- refusals ---
    AuditAction(
        "access.forbidden",
        (API_VIEW, UI_PAGE),
        "A request is refused: the role is too low, or the action not allowed.",
        _REFUSED,
        data_access=True,
    ),
    AuditAction(
        "access.not_found",
        (API_VIEW, UI_PAGE),
        "An id the organization does not have (or another's) is asked for.",
        _REFUSED,
        data_access=True,
    ),
    # --- the trail's own operations ---
    AuditAction("audit.export", (), "An export of the trail is downloaded.", data_access=True),
    AuditAction("audit.seal", (), "Events are sealed into signed checkpoints."),
    AuditAction("audit.verify", (), "The chains are verified; `failure` when a problem is found.", _CHECKED),
    AuditAction("audit.expire", ("audit.category",), "A category's sealed range past its retention is removed."),
    AuditAction(
        "audit.integrity_alert",
        ("audit.event",),
        "An event the platform did not write, or a taken number, is found.",
        frozenset({FAILURE}),
    ),
    AuditAction("audit.stream_configure", ("tenancy.organization",), "Where the trail is streamed changes."),
)

# Read-only for everyone else; action_check reads the dict itself, the cheapest lookup there is.
ACTIONS: Mapping[str, AuditAction] = MappingProxyType(_ACTIONS)
CATEGORIES: frozenset[str] = frozenset(action.category for action in _ACTIONS.values())


def action_check(action: str, outcome: str) -> None:
    """Refuse an action not declared here, or an outcome it does not declare, before anything is recorded.

    On the path of every recorded event: one dict lookup and one set membership when all is well.
    """
    declared = _ACTIONS.get(action)
    if declared is None or outcome not in declared.outcomes:
        raise ValueError(_refusal(action, str(outcome), declared))


def _refusal(action: str, outcome: str, declared: AuditAction | None) -> str:
    if declared is not None:
        allowed = ", ".join(sorted(declared.outcomes))
        return f"audit action {action!r} cannot have outcome {outcome!r}; it is declared with: {allowed}"
    category, _, verb = action.partition(".")
    if not category or not verb:
        return f"audit action must be 'category.verb', got {action!r}"
    (closest,) = difflib.get_close_matches(action, _ACTIONS, n=1, cutoff=0) or ("",)
    return f"audit action {action!r} is not declared in core.audit.actions; the closest declared one is {closest!r}"


# --- the table of actions in docs/audit.md ---

TABLE_BEGIN = "<!-- BEGIN GENERATED: manage.py audit_actions --write -->"
TABLE_END = "<!-- END GENERATED: audit actions -->"


def actions_markdown() -> str:
    """The categories and the table of every declared action, in Markdown, between the markers docs/audit.md has."""
    lines = [
        TABLE_BEGIN,
        "",
        "Categories: " + ", ".join(f"`{category}`" for category in sorted(CATEGORIES)) + ".",
        "",
        "| action | target | outcomes | data access | when |",
        "|---|---|---|---|---|",
    ]
    for action in sorted(_ACTIONS.values(), key=lambda a: a.name):
        targets = " or ".join(f"`{target}`" for target in action.targets) or "—"
        outcomes = ", ".join(f"`{outcome}`" for outcome in sorted(action.outcomes))
        seen = "yes" if action.data_access else ""
        lines.append(f"| `{action.name}` | {targets} | {outcomes} | {seen} | {action.description} |")
    lines += ["", TABLE_END]
    return "\n".join(lines) + "\n"


def document_with_actions(document: str) -> str:
    """`document` with the text between the markers replaced by the current table; refused without the markers, so
    that the table never lands somewhere unexpected."""
    begin, end = document.find(TABLE_BEGIN), document.find(TABLE_END)
    if begin < 0 or end < begin:
        raise ValueError(f"the document has no {TABLE_BEGIN!r} ... {TABLE_END!r} markers for the table of actions")
    return document[:begin] + actions_markdown().rstrip("\n") + document[end + len(TABLE_END) :]
