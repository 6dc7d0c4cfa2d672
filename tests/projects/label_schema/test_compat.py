"""Schema changes: those every earlier annotation survives, and those that would orphan some (a new version)."""

import copy

import pytest

from projects.label_schema import parse_schema, schema_incompatibilities

BASE = {
    "fields": [
        {"name": "kind", "type": "choices", "options": ["bug", "idea"], "source": "text"},
        {"name": "tags", "type": "choices", "options": ["ui", "api"], "multiple": True, "required": False},
        {"name": "score", "type": "rating", "min": 1, "max": 5, "labels": {"1": "poor"}},
        {"name": "note", "type": "text", "min_length": 5, "max_length": 100, "required": False},
        {"name": "detail", "type": "text", "when": {"field": "kind", "equals": "bug"}},
        {"name": "entities", "type": "spans", "source": "text", "labels": ["PER", "ORG"]},
        {"name": "objects", "type": "boxes", "source": "image", "labels": ["car", "bus"]},
        {"name": "preference", "type": "pairwise", "source": "pair", "strength": True},
        {"name": "order", "type": "ranking", "source": "responses", "allow_ties": True},
        {
            "name": "quality",
            "type": "rubric",
            "criteria": [
                {"name": "accuracy", "min": 1, "max": 5},
                {"name": "tone", "label": "Tone", "min": 0, "max": 3},
            ],
        },
    ]
}


def changed(edit) -> list[str]:
    new = copy.deepcopy(BASE)
    edit({f["name"]: f for f in new["fields"]}, new["fields"])
    return schema_incompatibilities(parse_schema(BASE), parse_schema(new))


def test_the_same_schema_is_compatible():
    assert schema_incompatibilities(parse_schema(BASE), parse_schema(copy.deepcopy(BASE))) == []


COMPATIBLE = {
    "optional field added": lambda f, fields: fields.append({"name": "extra", "type": "text", "required": False}),
    "option added": lambda f, fields: f["kind"]["options"].append("question"),
    "options reordered": lambda f, fields: f["kind"].update(options=["idea", "bug"]),
    "span label added": lambda f, fields: f["entities"]["labels"].append("LOC"),
    "box label added": lambda f, fields: f["objects"]["labels"].append("truck"),
    "rating widened": lambda f, fields: f["score"].update(min=0, max=10),
    "rating point labels changed": lambda f, fields: f["score"].update(labels={"5": "great"}),
    "display label changed": lambda f, fields: f["kind"].update(label="Kind of report"),
    "fields reordered": lambda f, fields: fields.sort(key=lambda x: x["name"] in ("kind", "detail")),
    "required made optional": lambda f, fields: f["score"].update(required=False),
    "text bounds widened": lambda f, fields: f["note"].update(min_length=0, max_length=1000),
    "overlaps now allowed": lambda f, fields: f["entities"].update(allow_overlap=True),
    "tie still allowed, rationale relaxed": lambda f, fields: f["preference"].update(rationale="optional"),
    "criterion label changed": lambda f, fields: f["quality"]["criteria"][1].update(label="Register"),
    "criterion widened": lambda f, fields: f["quality"]["criteria"][0].update(min=0, max=10),
    "selection bound of 1 added": lambda f, fields: f["tags"].update(min_selected=1),
    "condition dropped from an optional field": lambda f, fields: (
        f["detail"].update(required=False) or f["detail"].pop("when")
    ),
}


@pytest.mark.parametrize("edit", COMPATIBLE.values(), ids=COMPATIBLE.keys())
def test_compatible_changes(edit):
    assert changed(edit) == []


INCOMPATIBLE = [
    ("field removed", lambda f, fields: fields.remove(f["note"]), ["Field 'note' was removed."]),
    (
        "type changed",
        lambda f, fields: fields.__setitem__(
            fields.index(f["note"]), {"name": "note", "type": "rating", "min": 1, "max": 2}
        ),
        ["Field 'note' changed type from text to rating."],
    ),
    (
        "option removed",
        lambda f, fields: f["kind"].update(options=["bug", "question"]),
        ["Field 'kind': options removed: 'idea'."],
    ),
    (
        "single to multiple",
        lambda f, fields: f["kind"].update(multiple=True),
        ["Field 'kind': it changed from single choice to multiple choice."],
    ),
    (
        "more selections needed",
        lambda f, fields: f["tags"].update(min_selected=2),
        ["Field 'tags': at least 2 selections are now needed (was 1)."],
    ),
    (
        "fewer selections allowed",
        lambda f, fields: f["tags"].update(max_selected=1),
        ["Field 'tags': at most 1 selections are now allowed (was no limit)."],
    ),
    (
        "rating narrowed",
        lambda f, fields: f["score"].update(max=4),
        ["Field 'score': the scale narrowed from 1..5 to 1..4."],
    ),
    (
        "text bounds narrowed",
        lambda f, fields: f["note"].update(max_length=50),
        ["Field 'note': the allowed length narrowed from 5..100 to 5..50."],
    ),
    (
        "span label removed",
        lambda f, fields: f["entities"].update(labels=["PER"]),
        ["Field 'entities': labels removed: 'ORG'."],
    ),
    (
        "box label removed",
        lambda f, fields: f["objects"].update(labels=["truck"]),
        ["Field 'objects': labels removed: 'car', 'bus'."],
    ),
    (
        "source changed",
        lambda f, fields: f["entities"].update(source="body"),
        ["Field 'entities': its source changed from 'text' to 'body'."],
    ),
    (
        "optional source removed",
        lambda f, fields: f["kind"].pop("source"),
        ["Field 'kind': its source changed from 'text' to None."],
    ),
    (
        "made required",
        lambda f, fields: f["note"].update(required=True),
        ["Field 'note': it was made required; earlier annotations may not have it."],
    ),
    (
        "required field added",
        lambda f, fields: fields.append({"name": "extra", "type": "text"}),
        ["Field 'extra' was added as required; earlier annotations do not have it."],
    ),
    (
        "condition added",
        lambda f, fields: f["note"].update(when={"field": "kind", "equals": "idea"}),
        ["Field 'note': its condition changed from none to kind = 'idea'."],
    ),
    (
        "condition changed",
        lambda f, fields: f["detail"].update(when={"field": "kind", "equals": "idea"}),
        ["Field 'detail': its condition changed from kind = 'bug' to kind = 'idea'."],
    ),
    (
        "condition dropped from a required field",
        lambda f, fields: f["detail"].pop("when"),
        ["Field 'detail': its condition changed from kind = 'bug' to none."],
    ),
    (
        "ties refused",
        lambda f, fields: f["preference"].update(allow_tie=False),
        ["Field 'preference': ties are no longer allowed."],
    ),
    (
        "strength dropped",
        lambda f, fields: f["preference"].update(strength=False),
        ["Field 'preference': a strength is no longer accepted."],
    ),
    (
        "rationale required",
        lambda f, fields: f["preference"].update(rationale="required"),
        ["Field 'preference': the rationale changed from optional to required."],
    ),
    (
        "rationale dropped",
        lambda f, fields: f["preference"].update(rationale="none"),
        ["Field 'preference': the rationale changed from optional to none."],
    ),
    (
        "ranking ties refused",
        lambda f, fields: f["order"].update(allow_ties=False),
        ["Field 'order': tied ranks are no longer allowed."],
    ),
    (
        "criterion removed",
        lambda f, fields: f["quality"].update(criteria=[{"name": "accuracy", "min": 1, "max": 5}]),
        ["Field 'quality': criteria removed: 'tone'."],
    ),
    (
        "criterion added",
        lambda f, fields: f["quality"]["criteria"].append({"name": "clarity", "min": 1, "max": 3}),
        ["Field 'quality': criterion 'clarity' was added; earlier annotations do not score it."],
    ),
    (
        "criterion narrowed",
        lambda f, fields: f["quality"]["criteria"][1].update(min=1),
        ["Field 'quality': the scale of criterion 'tone' narrowed from 0..3 to 1..3."],
    ),
]


@pytest.mark.parametrize(
    ("edit", "expected"), [(e, x) for _, e, x in INCOMPATIBLE], ids=[n for n, _, _ in INCOMPATIBLE]
)
def test_incompatible_changes_are_each_described(edit, expected):
    assert changed(edit) == expected


def test_overlaps_refused_after_being_allowed_is_incompatible():
    old = parse_schema(
        {"fields": [{"name": "e", "type": "spans", "source": "t", "labels": ["X"], "allow_overlap": True}]}
    )
    new = parse_schema({"fields": [{"name": "e", "type": "spans", "source": "t", "labels": ["X"]}]})

    assert schema_incompatibilities(old, new) == ["Field 'e': overlapping spans are no longer allowed."]
    assert schema_incompatibilities(new, old) == []


def test_several_changes_are_listed_in_field_order_then_additions():
    def edit(f, fields):
        fields.remove(f["kind"])
        fields.remove(f["detail"])  # its condition referred to kind
        f["score"].update(min=2, labels={})
        f["entities"].update(labels=["ORG"], source="body")
        fields.insert(0, {"name": "first", "type": "text"})

    assert changed(edit) == [
        "Field 'kind' was removed.",
        "Field 'score': the scale narrowed from 1..5 to 2..5.",
        "Field 'detail' was removed.",
        "Field 'entities': its source changed from 'text' to 'body'.",
        "Field 'entities': labels removed: 'PER'.",
        "Field 'first' was added as required; earlier annotations do not have it.",
    ]
