"""Process reward data: one line per review of a chain, with its steps as text, per-step labels in both forms, the
first error, the overall verdict and the review's provenance."""

import json

import pytest

from annotation.exports.filters import ExportFilters
from annotation.exports.pseudonyms import annotator_pseudonym
from annotation.exports.services import export_create
from core.errors import InvalidInput
from tests.annotation import exports_support
from tests.annotation.exports_support import bare_world, run_export
from tests.factories import AnnotationFactory, MembershipFactory, ProjectFactory, TaskFactory

object_root = exports_support.object_root

SCHEMA = {
    "fields": [
        {"name": "review", "type": "steps", "source": "trace", "stop_at_first_error": True},
        {"name": "note", "type": "text", "required": False},
    ]
}
TRACE = [
    {"role": "user", "content": "Book a table for two tonight."},
    {"role": "assistant", "content": None, "tool_calls": [{"name": "search", "arguments": {"party": 2}}]},
    {"role": "tool", "name": "search", "content": "[]"},
    {"role": "assistant", "content": "Booked at 8pm."},
]
TRACE_TEXT = [
    "[user] Book a table for two tonight.",
    '[assistant] search({"party": 2})',
    "[tool search] []",
    "[assistant] Booked at 8pm.",
]


def review(*verdicts, overall, comments=None):
    comments = comments or {}
    return {
        "steps": [
            {"index": i, "verdict": v, **({"comment": comments[i]} if i in comments else {})}
            for i, v in enumerate(verdicts)
        ],
        "first_error": next((i for i, v in enumerate(verdicts) if v == "incorrect"), None),
        "overall": overall,
    }


def _pseudonym(tenant, membership):
    return annotator_pseudonym(organization_uuid=tenant.uuid, membership_uuid=membership.uuid)


def _world(tenant):
    project = ProjectFactory(label_schema=SCHEMA)
    task = TaskFactory(project=project, data={"trace": TRACE}, external_id="trace-1")
    alice, bob = MembershipFactory(), MembershipFactory()
    first = AnnotationFactory(
        project=project,
        task=task,
        annotator=alice,
        time_spent_ms=5400,
        result={
            "review": review(
                "correct", "correct", "neutral", "incorrect", overall="incorrect", comments={3: "Nothing was found."}
            )
        },
    )
    second = AnnotationFactory(
        project=project,
        task=task,
        annotator=bob,
        time_spent_ms=1200,
        result={"review": review("correct", "incorrect", overall="incorrect"), "note": "stopped early"},
    )
    reasoning = TaskFactory(project=project, data={"trace": ["2 * 3 = 6", "2 + 6 = 8"]}, external_id="math-1")
    third = AnnotationFactory(
        project=project,
        task=reasoning,
        annotator=alice,
        result={"review": review("correct", "correct", overall="correct")},
    )
    return bare_world(project), task, reasoning, (first, second, third), (alice, bob)


def _lines(body):
    return [json.loads(line) for line in body.decode().splitlines()]


def test_one_line_per_review_exactly(tenant, object_root):
    world, task, reasoning, (first, second, third), (alice, bob) = _world(tenant)

    job, body = run_export(world, "prm")

    provenance = {"field": "review", "schema_version": 1, "guidelines_version": 1, "review_outcome": "none"}
    assert _lines(body) == [
        {
            "prompt": "Book a table for two tonight.",
            "steps": TRACE_TEXT,
            "step_labels": [1, 1, 0, -1],
            "verdicts": ["correct", "correct", "neutral", "incorrect"],
            "comments": [None, None, None, "Nothing was found."],
            "completions": TRACE_TEXT,
            "labels": [True, True, True, False],
            "first_error": 3,
            "overall": "incorrect",
            "task_id": str(task.uuid),
            "external_id": "trace-1",
            "annotation_id": str(first.uuid),
            "annotator": _pseudonym(tenant, alice),
            "time_spent_ms": 5400,
            **provenance,
        },
        {
            "prompt": "Book a table for two tonight.",
            "steps": TRACE_TEXT,
            "step_labels": [1, -1, None, None],
            "verdicts": ["correct", "incorrect", None, None],
            "comments": [None, None, None, None],
            "completions": TRACE_TEXT[:2],
            "labels": [True, False],
            "first_error": 1,
            "overall": "incorrect",
            "task_id": str(task.uuid),
            "external_id": "trace-1",
            "annotation_id": str(second.uuid),
            "annotator": _pseudonym(tenant, bob),
            "time_spent_ms": 1200,
            **provenance,
        },
        {
            "prompt": "",
            "steps": ["2 * 3 = 6", "2 + 6 = 8"],
            "step_labels": [1, 1],
            "verdicts": ["correct", "correct"],
            "comments": [None, None],
            "completions": ["2 * 3 = 6", "2 + 6 = 8"],
            "labels": [True, True],
            "first_error": None,
            "overall": "correct",
            "task_id": str(reasoning.uuid),
            "external_id": "math-1",
            "annotation_id": str(third.uuid),
            "annotator": _pseudonym(tenant, alice),
            "time_spent_ms": third.time_spent_ms,
            **provenance,
        },
    ]
    assert job.rows == 3


def test_the_question_comes_from_the_prompt_key_the_field_names(tenant, object_root):
    schema = {"fields": [{"name": "review", "type": "steps", "source": "chain", "prompt": "question"}]}
    project = ProjectFactory(label_schema=schema)
    for question in (
        "What is 2 + 2?",
        {"messages": [{"role": "system", "content": "Be exact."}, {"role": "user", "content": "And 3 + 3?"}]},
    ):
        task = TaskFactory(project=project, data={"question": question, "chain": ["Add.", "4"]})
        AnnotationFactory(
            project=project, task=task, result={"review": review("correct", "correct", overall="correct")}
        )

    _, body = run_export(bare_world(project), "prm")

    assert [line["prompt"] for line in _lines(body)] == ["What is 2 + 2?", "And 3 + 3?"]


def test_a_project_without_steps_fields_is_refused(tenant, object_root):
    project = ProjectFactory(label_schema={"fields": [{"name": "note", "type": "text"}]})
    world = bare_world(project)

    with pytest.raises(InvalidInput) as caught:
        export_create(actor=world.owner, project=project, export_format="prm", filters=ExportFilters())

    assert [e.message for e in caught.value.errors] == [
        "Process reward data is made from steps fields, and the project's label schema has none."
    ]


def test_the_datasets_library_loads_the_lines(tenant, object_root, tmp_path, monkeypatch):
    world, *_ = _world(tenant)
    _, body = run_export(world, "prm")
    for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    from datasets import load_dataset

    path = tmp_path / "prm.jsonl"
    path.write_bytes(body)
    rows = load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf" / "datasets"))

    assert rows.num_rows == 3
    assert {"prompt", "completions", "labels", "step_labels", "first_error", "overall"} <= set(rows.column_names)
    assert rows["labels"] == [[True, True, True, False], [True, False], [True, True]]
    assert rows["step_labels"] == [[1, 1, 0, -1], [1, -1, None, None], [1, 1]]
    assert rows["first_error"] == [3, 1, None]
    assert rows["completions"][1] == TRACE_TEXT[:2]
