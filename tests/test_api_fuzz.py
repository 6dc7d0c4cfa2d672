"""The API contract, fuzzed: schemathesis drives a live server from the OpenAPI schema that server serves, and every
answer must be one the schema describes: no server error, no status code the operation does not document, no
body that does not match its schema.

The server is Django's live server thread in this process, so it acts as the app role like every test (row
policies on); schemathesis runs in its own process on loopback, as a client would. The data is two populated
organizations (tests/isolation/routes.py's `populate`, with every role holding a token), plus a project with a
label schema and leases on it; tests/api_fuzz_hooks.py sends each case as one of those identities, naming those
objects (see there).

This bounded run keeps CI's share small (FUZZ_SECONDS of fuzzing, FUZZ_MAX_EXAMPLES cases per operation and
phase, a fixed FUZZ_SEED); `make fuzz` runs it for longer with a new seed each time.
"""

import json
import logging
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from annotation.services.claim import assignment_claim
from core import outbound
from core.context import organization_context
from projects.models import Task
from projects.services.projects import project_create
from projects.services.tasks import task_bulk_create
from tenancy.models import Role
from tests.factories import ApiTokenFactory, MembershipFactory, UserFactory
from tests.isolation.routes import PARAM_OBJECTS, populate

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# The suite's budget. schemathesis shares it out so that every operation gets its slice of every phase (all 102
# were tested in 45 s on a loaded two-core machine, 431 cases); a longer one buys more cases per operation, which is
# what `make fuzz` is for.
FUZZ_SECONDS = int(os.environ.get("FUZZ_SECONDS") or 45)
FUZZ_MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES") or 10)
FUZZ_SEED = os.environ.get("FUZZ_SEED", "20260101")  # empty: a new seed each run
HOOKS = Path(__file__).with_name("api_fuzz_hooks.py")
IDENTITY_HEADER = "X-Fuzz-Identity"  # as tests/api_fuzz_hooks.py reads it
# What the contract promises: no 5xx, only documented statuses, bodies, content types and required headers (401's
# WWW-Authenticate, 503's Retry-After). Others judge the fuzzer's guesses more than the server: a valid-looking body
# naming a missing skill is rightly a 400, and an unknown query parameter (or this run's own identity header) is
# ignored, as HTTP servers do. FUZZ_EXTRA_CHECKS adds some for an exploratory run.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    *filter(None, os.environ.get("FUZZ_EXTRA_CHECKS", "").split(",")),
)

# A label schema with a choice, a conditional free text and a rating, so submitted results are really checked.
LABEL_SCHEMA = {
    "fields": [
        {"name": "sentiment", "type": "choices", "options": ["positive", "negative", "mixed"]},
        {"name": "reason", "type": "text", "required": False, "when": {"field": "sentiment", "equals": "mixed"}},
        {"name": "confidence", "type": "rating", "min": 1, "max": 5, "required": False},
    ]
}


def _populate_schema_project(world: SimpleNamespace) -> None:
    """A second project with a real label schema, tasks, and leases held by the annotator, reviewer and manager; a spare
    project that only the destructive operations get (tests/api_fuzz_hooks.py)."""
    owner = world.owner
    world.schema_project = project_create(
        actor=owner, name=f"{world.prefix} sentiment", label_schema=LABEL_SCHEMA, overlap=3, max_active_per_annotator=3
    )
    task_bulk_create(
        actor=owner,
        project=world.schema_project,
        items=[{"external_id": f"{world.prefix}-s{i}", "data": {"text": f"review {i}"}} for i in range(6)],
    )
    world.schema_tasks = list(Task.objects.filter(project=world.schema_project).order_by("id"))
    world.schema_leases = []
    for role in (Role.ANNOTATOR, Role.REVIEWER, Role.MANAGER):
        claim = assignment_claim(actor=world.members[role], project=world.schema_project)
        assert claim.assignment is not None, claim.refusal
        world.schema_leases.append(claim.assignment)
    world.spare_project = project_create(actor=owner, name=f"{world.prefix} spare")


def _ids(worlds: list[SimpleNamespace]) -> dict[str, dict[str, list[str]]]:
    """Path parameter -> the seeded public ids it may name, and the spare ones for destructive operations."""
    ids: dict[str, dict[str, list[str]]] = {name: {"all": [], "spare": []} for name in PARAM_OBJECTS}

    def add(name: str, *objects: Any, spare: bool = False) -> None:
        ids[name]["all"].extend(str(o.uuid) for o in objects)
        if spare:
            ids[name]["spare"].extend(str(o.uuid) for o in objects)

    for w in worlds:
        add("organization_id", w.organization)
        add("member_id", *w.members.values(), w.author)
        add("member_id", w.member, spare=True)
        add("token_id", *w.tokens.values())
        add("token_id", w.token, spare=True)
        add("project_id", w.project, w.schema_project)
        add("project_id", w.spare_project, spare=True)
        add("task_id", w.task, w.free_task, *w.schema_tasks)
        add("assignment_id", w.assignment, w.member_assignment, *w.assignments.values(), *w.schema_leases)
        add("annotation_id", w.pending_annotation, w.annotation)
        for name in ("invitation_id", "skill_id", "exclusion_id", "export_id", "import_id", "connection_id"):
            add(name, getattr(w, PARAM_OBJECTS[name]))
    return ids


def _leases(worlds: list[SimpleNamespace]) -> list[Any]:
    return [a for w in worlds for a in [w.assignment, w.member_assignment, *w.assignments.values(), *w.schema_leases]]


def _identities(worlds: list[SimpleNamespace], staff_token: Any) -> list[dict[str, Any]]:
    """Every role of both organizations, platform staff, and nobody: each with the leases it holds."""
    held: dict[int, list[str]] = {}
    for lease in _leases(worlds):
        held.setdefault(lease.annotator_id, []).append(str(lease.uuid))
    tokens = [w.tokens[role] for w in worlds for role in Role] + [staff_token]
    identities = [{"authorization": f"Bearer {t.raw}", "assignments": held.get(t.membership_id, [])} for t in tokens]
    return [*identities, {"authorization": None, "assignments": []}]


def _fields(worlds: list[SimpleNamespace]) -> dict[str, list[str]]:
    """Request body field -> seeded values, so bodies can name a real lease, task, member or skill."""
    members = [str(m.uuid) for w in worlds for m in [*w.members.values(), w.member]]
    return {
        "lease_token": [str(a.lease_token) for a in _leases(worlds)],
        "task": [str(t.uuid) for w in worlds for t in [w.free_task, *w.schema_tasks]],
        "annotator": members,
        "member": members,
        "storage": [str(w.storage_connection.uuid) for w in worlds],
        "skill": [w.skill.name for w in worlds],
    }


@pytest.fixture
def fuzz_world(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    settings.OBJECT_STORAGE_BUCKET = ""
    settings.OBJECT_STORAGE_ROOT = tmp_path / "objects"
    worlds = [populate(prefix, roles=tuple(Role)) for prefix in ("alpha", "bravo")]
    for world in worlds:
        with organization_context(world.organization.pk):
            _populate_schema_project(world)
    alpha = worlds[0]
    with organization_context(alpha.organization.pk):
        # Platform staff are members of an organization like anyone; their token also reaches the platform routes.
        staff = MembershipFactory(role=Role.ANNOTATOR, user=UserFactory(email="staff@alpha.test", is_staff=True))
        staff_token = ApiTokenFactory(membership=staff, role=Role.ANNOTATOR, name="staff cli")

    # The run reaches no network: every storage endpoint or audit stream is refused, as an address the platform
    # must not reach would be, instead of contacting whatever address the fuzzer names. Refused, not unresolvable:
    # a refusal is final, so an import or export that needs the network fails at once. A transient fault would
    # have the task retry, and the suite runs tasks inline (CELERY_TASK_ALWAYS_EAGER), where Celery's retry is an
    # exception in the request that committed the job.
    def refused(host: str, port: int) -> Any:
        raise outbound.DestinationRefused(f"Refused to connect to {host}: the fuzz run reaches no network.")

    monkeypatch.setattr(outbound, "resolve", refused)
    return {
        "identities": _identities(worlds, staff_token),
        "ids": _ids(worlds),
        "leases": {str(a.uuid): str(a.lease_token) for a in _leases(worlds)},
        "fields": _fields(worlds),
        "schema_token": alpha.tokens[Role.ANNOTATOR].raw,
    }


@contextmanager
def _refusals_unlogged() -> Iterator[None]:
    """Thousands of refusals are the point of the run: the server's warning for each (django.request, axes) would
    drown its report. Errors are still logged."""
    loggers = [logging.getLogger(name) for name in ("django.request", "axes")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _served_schema(base_url: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310  the live server on loopback
        f"{base_url}/api/v1/schema/?format=json",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.oai.openapi+json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        schema: dict[str, Any] = json.loads(response.read())
    return schema


def _with_identity_parameter(schema: dict[str, Any], identities: int) -> dict[str, Any]:
    """The fuzzer's copy of the schema: every operation takes the identity to send it as, by index, so identities
    are generated (and enumerated, in the coverage phase) like any other input; the hooks turn the index into a
    token before the request leaves (tests/api_fuzz_hooks.py)."""
    parameter = {
        "name": IDENTITY_HEADER,
        "in": "header",
        "required": True,
        "schema": {"type": "string", "enum": [str(i) for i in range(identities)]},
    }
    for item in schema["paths"].values():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                operation["parameters"] = [*operation.get("parameters", []), parameter]
    return schema


def test_every_answer_is_one_the_schema_documents(live_server: Any, fuzz_world: dict[str, Any], tmp_path: Path) -> None:
    served = _served_schema(live_server.url, fuzz_world.pop("schema_token"))
    schema_path = tmp_path / "openapi.json"
    schema_path.write_text(json.dumps(_with_identity_parameter(served, len(fuzz_world["identities"]))))
    world_path = tmp_path / "world.json"
    world_path.write_text(json.dumps(fuzz_world))
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        str(schema_path),
        "--url",
        live_server.url,
        "--checks",
        ",".join(CHECKS),
        "--max-time",
        str(FUZZ_SECONDS),
        "--max-examples",
        str(FUZZ_MAX_EXAMPLES),
        # One worker: the server is the bottleneck either way, and schemathesis's threads can trip CPython 3.11's
        # ast module (hypothesis describes filters by parsing their source: "AST constructor recursion depth
        # mismatch"), failing a run for nothing the server did.
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        # Identities come from the hooks; a generated Authorization value would only ever be a 401.
        "--generation-with-security-parameters",
        "false",
        "--suppress-health-check",
        "all",
        "--no-color",
        *(["--seed", FUZZ_SEED] if FUZZ_SEED else []),
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), "FUZZ_WORLD": str(world_path)}
    # Its own folder as the working directory: schemathesis's caches and reports stay out of the checkout.
    with _refusals_unlogged():
        run = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=FUZZ_SECONDS + 300, check=False
        )
    report = run.stdout + run.stderr
    print(report[-20_000:])  # noqa: T201  the summary (operations, cases, failures) belongs in the test's output
    assert run.returncode == 0, report[-20_000:]
    # The short budget must still reach every operation the schema serves, not merely pass on those it reached.
    selected = re.search(r"^  Selected: (\d+)/(\d+)$", report, re.M)
    tested = re.search(r"^  Tested: (\d+)$", report, re.M)
    assert selected is not None, report[-20_000:]
    assert tested is not None, report[-20_000:]
    assert selected.group(1) == selected.group(2) == tested.group(1), report[-5_000:]
