"""An export downloaded through the API verifies offline (`python -m audit.offline_verify`), and a tampered one
does not: the verifier names the altered event, and with the organization's MAC key an unsealed event the
platform did not write."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from audit import signing
from audit.services.sealing import audit_seal
from core.audit.context import ActorContext, actor_context
from core.audit.record import audit_record
from tenancy.models import Role
from tests.audit.tamper import as_owner_without_triggers
from tests.factories import ProjectFactory, TaskFactory

ROOT = Path(__file__).resolve().parents[2]
EXPORT = "/api/v1/audit/events/export"
# The verifier must run where Django is not installed: make importing it fail.
NO_DJANGO = (
    "import sys; sys.modules['django'] = None; sys.modules['rest_framework'] = None; "
    "from audit.offline_verify import main; sys.exit(main(sys.argv[1:]))"
)


def verify(export: Path, key: Path | None, *options: str) -> subprocess.CompletedProcess[str]:
    args = [str(export), "--public-key", str(key)] if key else [str(export)]
    return subprocess.run(
        [sys.executable, "-c", NO_DJANGO, *args, *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )


@pytest.fixture
def exported(tenant, api_as, tmp_path):
    project = ProjectFactory(organization=tenant)
    task = TaskFactory(project=project)
    with actor_context(ActorContext(user_label="alice@lab.example")):
        for n in range(4):
            audit_record(action="project.update", target=project, metadata={"n": n})
        audit_record(action="data_access.task_view", target=task, metadata={"project": str(project.uuid)})
    audit_seal()
    with actor_context(ActorContext(user_label="bob@lab.example")):
        audit_record(action="project.update", target=project, metadata={"n": 4})
    audit_seal()
    with actor_context(ActorContext(user_label="bob@lab.example")):
        audit_record(action="project.update", target=project, metadata={"n": 5})  # not sealed yet
    client = api_as(tenant, Role.OWNER)
    key = tmp_path / "audit-key.pem"
    key.write_text(signing.public_key_pem())

    def download(**params: str) -> Path:
        response = client.get(EXPORT, params)
        assert response.status_code == 200
        path = tmp_path / f"export-{len(list(tmp_path.iterdir()))}.jsonl"
        path.write_bytes(b"".join(response.streaming_content))
        return path

    return download, key


def test_a_full_export_verifies_offline(exported):
    download, key = exported

    result = verify(download(), key)

    assert result.returncode == 0, result.stdout + result.stderr
    # Sealed: project #1..5 and data_access #1; not yet: project #6 and the client's own setup events.
    assert result.stdout.startswith("OK: 6 events verified against 3 signed checkpoints (3 complete ranges ")
    assert result.stderr == ""


def test_a_full_export_recomputes_every_range(exported):
    download, key = exported

    result = verify(download(q="category:project"), key)

    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == (
        "OK: 5 events verified against 2 signed checkpoints (2 complete ranges recomputed from prev_head to head); "
        "1 events not sealed yet"
    )


def test_a_filtered_export_verifies_what_it_holds(exported):
    download, key = exported

    result = verify(download(q="actor:bob@lab.example category:project"), key)

    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == (
        "OK: 1 events verified against 1 signed checkpoints (1 complete ranges recomputed from prev_head to head); "
        "1 events not sealed yet"
    )


def test_one_altered_line_fails_naming_the_event(exported):
    download, key = exported
    path = download(q="category:project")
    lines = path.read_text().splitlines()
    third = next(i for i, line in enumerate(lines) if '"sequence":3' in line and '"type":"event"' in line)
    event = json.loads(lines[third])
    event["actor_label"] = "mallory@lab.example"
    lines[third] = json.dumps(event)
    path.write_text("\n".join(lines) + "\n")

    result = verify(path, key)

    assert result.returncode == 1
    assert result.stdout.strip() == (
        f"FAILED: event project #3 (line {third + 1}) does not match its seal: it was altered"
    )


def test_a_forged_checkpoint_fails(exported):
    download, key = exported
    path = download(q="category:project")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    checkpoint = next(line for line in lines if line["type"] == "checkpoint")
    checkpoint["head"] = "f" * 64
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))

    result = verify(path, key)

    assert result.returncode == 1
    assert result.stdout.strip() == "FAILED: checkpoint project 1..4 has an invalid signature"


def test_another_key_is_refused_and_the_header_key_is_used_only_with_a_warning(exported, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    download, _ = exported
    path = download(q="category:project")
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    refused = verify(path, stranger)
    trusting = verify(path, None)

    assert refused.returncode == 1
    assert refused.stdout.startswith("FAILED: checkpoint project 1..4 is signed by key ")
    assert trusting.returncode == 0
    assert trusting.stderr.strip() == "warning: no --public-key given; trusting the key in the export's own header"


def test_the_module_runs_as_a_command(exported):
    download, key = exported

    result = subprocess.run(
        [sys.executable, "-m", "audit.offline_verify", str(download(q="category:project")), "--public-key", str(key)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK: 5 events verified")


# --- events not sealed yet, authenticated by their MACs (--mac-key) ---


@pytest.fixture
def mac_key(tenant, tmp_path):
    out = io.StringIO()
    call_command("audit_mac_key", "--organization", tenant.slug, stdout=out)
    path = tmp_path / "audit-mac-key.txt"
    path.write_text(out.getvalue())
    return path


def test_with_the_mac_key_unsealed_events_are_authenticated(exported, mac_key):
    download, key = exported

    result = verify(download(q="category:project"), key, "--mac-key", str(mac_key))

    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == (
        "OK: 5 events verified against 2 signed checkpoints (2 complete ranges recomputed from prev_head to head); "
        "1 events not sealed yet, each carrying its valid MAC"
    )


@pytest.mark.parametrize("copied", [False, True], ids=["made-up", "copy-of-a-genuine-event"])
def test_with_the_mac_key_an_unsealed_event_the_platform_did_not_write_fails(tenant, exported, mac_key, copied):
    # An event put in the database with the counter raised to match: only its MAC (or its MAC's twin) betrays it.
    download, key = exported
    mac = "mac" if copied else "''"
    with as_owner_without_triggers() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (organization_id, sequence, occurred_at, action, category, outcome, "  # noqa: S608
            "actor_label, actor_token_prefix, user_agent, request_id, target_type, target_id, changes, metadata, mac) "
            "SELECT organization_id, 7, occurred_at, action, category, outcome, actor_label, actor_token_prefix, "
            f"user_agent, request_id, target_type, target_id, changes, metadata, {mac} FROM audit_auditevent "
            "WHERE organization_id = %s AND category = 'project' AND sequence = 2",
            [tenant.pk],
        )
        cursor.execute(
            "UPDATE audit_auditsequence SET last_value = 7 WHERE organization_id = %s AND category = 'project'",
            [tenant.pk],
        )
    path = download(q="category:project")
    events = {
        r["sequence"]: n
        for n, r in enumerate(map(json.loads, path.read_text().splitlines()), 1)
        if r["type"] == "event"
    }
    line, original = events[7], events[2]

    without_key = verify(path, key)
    with_key = verify(path, key, "--mac-key", str(mac_key))

    assert without_key.returncode == 0, without_key.stdout  # unsealed: nothing signed covers it yet
    assert with_key.returncode == 1
    reason = f"is a copy of event project #2 (line {original})" if copied else "does not carry the platform's MAC"
    assert (
        with_key.stdout.strip()
        == f"FAILED: event project #7 (line {line}) {reason}: it was not written by the platform"
    )
