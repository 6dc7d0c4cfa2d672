"""One label schema with every field type, a task it fits and a valid result: shared by the API, export and
browser tests so that all of them exercise the same eight widgets."""

from typing import Any

ALL_TYPES_TEXT = "Alice met Bob at Acme Corp in Paris."
ALL_TYPES_SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "sentiment", "type": "choices", "options": ["pos", "neg", "mixed"]},
        {"name": "topics", "type": "choices", "options": ["a", "b", "c", "d"], "multiple": True, "required": False},
        {"name": "score", "type": "rating", "min": 1, "max": 5},
        {"name": "answer", "type": "text", "min_length": 2, "max_length": 20},
        {"name": "entities", "type": "spans", "source": "text", "labels": ["PER", "ORG", "LOC"]},
        {"name": "objects", "type": "boxes", "source": "image", "labels": ["car", "person"]},
        {"name": "preference", "type": "pairwise", "source": "pair", "strength": True},
        {"name": "order", "type": "ranking", "source": "responses"},
        {
            "name": "quality",
            "type": "rubric",
            "criteria": [{"name": "accuracy", "min": 1, "max": 5}, {"name": "Tone & style", "min": 0, "max": 3}],
        },
    ]
}


def all_types_data(image: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "text": ALL_TYPES_TEXT,
        "image": image or {"url": "https://media.example.org/1.png", "width": 640, "height": 480},
        "pair": [{"id": "a", "content": "first"}, {"id": "b", "content": "second"}],
        "responses": [{"id": "r1", "content": "x"}, {"id": "r2", "content": "y"}, {"id": "r3", "content": "z"}],
    }


ALL_TYPES_DATA = all_types_data()
ALL_TYPES_RESULT: dict[str, Any] = {
    "sentiment": "pos",
    "topics": ["a", "c"],
    "score": 4,
    "answer": "Looks right",
    "entities": [{"start": 0, "end": 5, "label": "PER"}, {"start": 17, "end": 26, "label": "ORG"}],
    "objects": [{"x": 10, "y": 20.5, "width": 100, "height": 50.25, "label": "car"}],
    "preference": {"preferred": "a", "strength": 2, "rationale": "More precise."},
    "order": {"r1": 2, "r2": 1, "r3": 3},
    "quality": {"accuracy": 5, "Tone & style": 0},
}
