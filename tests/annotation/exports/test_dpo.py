"""Preference pairs for DPO: from pairwise answers (ties skipped) and from rankings (best vs worst, or all pairs)."""

import json

import pytest

from annotation.exports.dpo import ranking_pairs
from tests.annotation import exports_support
from tests.annotation.exports_support import (
    bare_world,
    build_world,
    run_export,
)
from tests.factories import AnnotationFactory, ProjectFactory, TaskFactory

object_root = exports_support.object_root


def _pair(w, task, annotation, pseudonym, field, chosen, rejected, prompt, **extra):
    contents = {c["id"]: c["content"] for key in ("responses", "candidates") for c in task.data[key]}
    return {
        "prompt": prompt,
        "chosen": contents[chosen],
        "rejected": contents[rejected],
        "chosen_id": chosen,
        "rejected_id": rejected,
        "task_id": str(task.uuid),
        "external_id": task.external_id,
        "field": field,
        "annotation_id": str(annotation.uuid),
        "annotator": pseudonym,
        **extra,
    }


def _lines(body):
    return [json.loads(line) for line in body.decode().splitlines()]


def test_pairs_from_pairwise_and_best_versus_worst_rankings_exactly(tenant, object_root):
    w = build_world()

    job, body = run_export(w, "dpo")

    assert _lines(body) == [
        _pair(w, w.t1, w.a1, w.pa, "preference", "b", "a", "Explain DNS.", strength=2),
        # A ranked y > x > z: best y against worst z.
        _pair(w, w.t1, w.a1, w.pa, "order", "y", "z", "Explain DNS."),
        # B's pairwise answer is a tie: no pair. B ranked x > y > z.
        _pair(w, w.t1, w.b1, w.pb, "order", "x", "z", "Explain DNS."),
        _pair(w, w.t2, w.a2, w.pa, "preference", "a", "b", "Say hi."),
    ]
    assert job.rows == 4


def test_all_pairs_from_rankings_when_asked(tenant, object_root):
    w = build_world()

    _, body = run_export(w, "dpo", ranking_pairs="all")

    order_pairs = [
        (line["annotator"], line["chosen_id"], line["rejected_id"]) for line in _lines(body) if line["field"] == "order"
    ]
    assert order_pairs == [
        (w.pa, "y", "x"),
        (w.pa, "x", "z"),
        (w.pa, "y", "z"),
        (w.pb, "x", "y"),
        (w.pb, "x", "z"),
        (w.pb, "y", "z"),
    ]


@pytest.mark.parametrize(
    ("ranks", "mode", "expected"),
    [
        ({"a": 1, "b": 1, "c": 2}, "best_worst", [("a", "c"), ("b", "c")]),
        ({"a": 1, "b": 1, "c": 2}, "all", [("a", "c"), ("b", "c")]),
        ({"a": 1, "b": 1}, "best_worst", []),
        ({"a": 2, "b": 1, "c": 3, "d": 3}, "best_worst", [("b", "c"), ("b", "d")]),
        ({"a": 2, "b": 1, "c": 3}, "all", [("b", "a"), ("a", "c"), ("b", "c")]),
    ],
)
def test_ranking_pairs(ranks, mode, expected):
    assert ranking_pairs(ranks, list(ranks), mode) == expected


def test_a_chat_prompt_gives_the_conversational_form(tenant, object_root):
    schema = {"fields": [{"name": "better", "type": "pairwise", "source": "responses"}]}
    project = ProjectFactory(label_schema=schema)
    chat = [{"role": "user", "content": "Hi?"}]
    responses = [{"id": "m1", "content": "Hello."}, {"id": "m2", "content": "Go away."}]
    task = TaskFactory(project=project, data={"prompt": {"messages": chat}, "responses": responses})
    AnnotationFactory(project=project, task=task, result={"better": {"preferred": "m1", "rationale": "Polite."}})
    no_prompt = TaskFactory(project=project, data={"responses": responses})
    AnnotationFactory(project=project, task=no_prompt, result={"better": {"preferred": "m2"}})

    _, body = run_export(bare_world(project), "dpo")

    lines = _lines(body)
    assert [(line["prompt"], line["chosen"], line["rejected"]) for line in lines] == [
        (chat, [{"role": "assistant", "content": "Hello."}], [{"role": "assistant", "content": "Go away."}]),
        ("", "Go away.", "Hello."),
    ]


def _load_with_datasets(body, tmp_path, monkeypatch):
    """The file read by Hugging Face `datasets` as JSON lines, offline, with its cache under the test's folder."""
    for name in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    from datasets import load_dataset

    path = tmp_path / "pairs.jsonl"
    path.write_bytes(body)
    return load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf" / "datasets"))


def test_the_datasets_library_loads_the_pairs(tenant, object_root, tmp_path, monkeypatch):
    w = build_world()
    _, body = run_export(w, "dpo")

    pairs = _load_with_datasets(body, tmp_path, monkeypatch)

    assert pairs.num_rows == 4
    assert {"prompt", "chosen", "rejected", "strength"} <= set(pairs.column_names)
    assert pairs["prompt"] == ["Explain DNS.", "Explain DNS.", "Explain DNS.", "Say hi."]
    assert pairs["chosen"] == ["A phone book.", "second", "first", "Names to addresses."]
    assert pairs["rejected"] == ["Names to addresses.", "third", "third", "A phone book."]
    assert pairs["strength"] == [2, None, None, None]
    assert pairs["annotator"] == [w.pa, w.pa, w.pb, w.pa]


def test_the_datasets_library_loads_the_conversational_form(tenant, object_root, tmp_path, monkeypatch):
    schema = {"fields": [{"name": "better", "type": "pairwise", "source": "responses"}]}
    project = ProjectFactory(label_schema=schema)
    responses = [{"id": "m1", "content": "Hello."}, {"id": "m2", "content": "Go away."}]
    for question, preferred in (("Hi?", "m1"), ("Leave?", "m2")):
        task = TaskFactory(
            project=project, data={"prompt": [{"role": "user", "content": question}], "responses": responses}
        )
        AnnotationFactory(project=project, task=task, result={"better": {"preferred": preferred}})
    _, body = run_export(bare_world(project), "dpo")

    pairs = _load_with_datasets(body, tmp_path, monkeypatch)

    assert pairs["prompt"] == [[{"role": "user", "content": "Hi?"}], [{"role": "user", "content": "Leave?"}]]
    assert pairs["chosen"] == [
        [{"role": "assistant", "content": "Hello."}],
        [{"role": "assistant", "content": "Go away."}],
    ]
    assert pairs["rejected"] == [
        [{"role": "assistant", "content": "Go away."}],
        [{"role": "assistant", "content": "Hello."}],
    ]
