"""SFT chat JSONL: the prompt's conversation, then the annotator's text answer as the assistant's turn."""

import json

from tests.annotation import exports_support
from tests.annotation.exports_support import (
    bare_world,
    build_world,
    run_export,
)
from tests.factories import AnnotationFactory, ProjectFactory, TaskFactory

object_root = exports_support.object_root


def _example(task, annotation, pseudonym, answer):
    return {
        "messages": [*task.data["chat"]["messages"], {"role": "assistant", "content": answer}],
        "task_id": str(task.uuid),
        "external_id": task.external_id,
        "field": "answer",
        "annotation_id": str(annotation.uuid),
        "annotator": pseudonym,
    }


def test_examples_exactly(tenant, object_root):
    w = build_world()

    job, body = run_export(w, "sft")

    # `note` is a text field without a source: a comment answers no prompt and gives no example.
    assert [json.loads(line) for line in body.decode().splitlines()] == [
        _example(w.t1, w.a1, w.pa, "DNS translates names."),
        _example(w.t1, w.b1, w.pb, "-1 is not an answer"),
        _example(w.t2, w.a2, w.pa, "Hi!"),
    ]
    assert w.t1.data["chat"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert job.rows == 3


def test_a_prompt_string_becomes_the_user_turn_and_blank_answers_are_skipped(tenant, object_root):
    schema = {"fields": [{"name": "reply", "type": "text", "source": "question", "required": False}]}
    project = ProjectFactory(label_schema=schema)
    task = TaskFactory(project=project, data={"question": "What is 2 + 2?"})
    AnnotationFactory(project=project, task=task, result={"reply": "4"})
    blank = TaskFactory(project=project, data={"question": "Anything?"})
    AnnotationFactory(project=project, task=blank, result={"reply": "   "})
    listed = TaskFactory(project=project, data={"question": [{"role": "user", "content": "Ping"}]})
    AnnotationFactory(project=project, task=listed, result={"reply": "Pong"})

    _, body = run_export(bare_world(project), "sft")

    assert [json.loads(line)["messages"] for line in body.decode().splitlines()] == [
        [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "4"}],
        [{"role": "user", "content": "Ping"}, {"role": "assistant", "content": "Pong"}],
    ]
