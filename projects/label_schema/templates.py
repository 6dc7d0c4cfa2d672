"""Schemas a manager can start from on the schema page: one per common kind of labelling work.

Each document is an ordinary schema (tests validate every one with `parse_schema`), written out as a manager would
write it, so that what the page fills in reads like the examples of docs/label-schemas.md. Choosing one only fills
the editor; nothing is stored until the schema is saved.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SchemaTemplate:
    """A named starting schema, with a line saying what it is for and the task data keys it reads."""

    key: str
    title: str
    summary: str
    document: dict[str, Any]


def _one_field(key: str, title: str, summary: str, **field: Any) -> SchemaTemplate:
    return SchemaTemplate(key=key, title=title, summary=summary, document={"fields": [field]})


SCHEMA_TEMPLATES: tuple[SchemaTemplate, ...] = (
    _one_field(
        "classification",
        "Classification",
        "One label per text, e.g. sentiment. Reads data.text.",
        name="sentiment",
        type="choices",
        label="Overall sentiment",
        source="text",
        options=["positive", "negative", "neutral", "mixed"],
    ),
    _one_field(
        "multi_label",
        "Multi-label",
        "Every label that applies, at least one. Reads data.text.",
        name="topics",
        type="choices",
        label="Topics that apply",
        source="text",
        options=["billing", "bug", "feature request", "account", "other"],
        multiple=True,
        min_selected=1,
    ),
    _one_field(
        "ner_spans",
        "Named entities",
        "Mark people, organisations, places and dates in a text. Reads data.text.",
        name="entities",
        type="spans",
        label="Entities",
        source="text",
        labels=["PER", "ORG", "LOC", "DATE"],
    ),
    _one_field(
        "boxes",
        "Bounding boxes",
        "Draw a labelled box around each object in an image. Reads data.image.",
        name="objects",
        type="boxes",
        label="Objects",
        source="image",
        labels=["person", "car", "bicycle"],
    ),
    _one_field(
        "pairwise_preference",
        "Pairwise preference",
        "Which of two responses is better, how much, and why. Reads data.responses (2 candidates).",
        name="preference",
        type="pairwise",
        label="Which response is better?",
        source="responses",
        allow_tie=True,
        strength=True,
        rationale="required",
    ),
    _one_field(
        "ranking",
        "Ranking",
        "Order N responses from best to worst. Reads data.responses (2 to 20 candidates).",
        name="order",
        type="ranking",
        label="Rank the responses, best first",
        source="responses",
        allow_ties=False,
    ),
    SchemaTemplate(
        key="rubric",
        title="Rubric grading",
        summary="Score one response on several criteria, with an optional comment. Reads data.response.",
        document={
            "fields": [
                {
                    "name": "grades",
                    "type": "rubric",
                    "label": "Grade the response",
                    "source": "response",
                    "criteria": [
                        {"name": "accuracy", "label": "Accuracy", "min": 1, "max": 5},
                        {"name": "helpfulness", "label": "Helpfulness", "min": 1, "max": 5},
                        {"name": "safety", "label": "Safety", "min": 1, "max": 5},
                    ],
                },
                {"name": "comment", "type": "text", "label": "Comment", "required": False, "max_length": 2000},
            ]
        },
    ),
    _one_field(
        "sft_answer",
        "Answer writing",
        "Write the ideal answer to a prompt, for supervised fine-tuning. Reads data.prompt.",
        name="answer",
        type="text",
        label="The ideal answer",
        source="prompt",
        min_length=20,
        max_length=8000,
    ),
    SchemaTemplate(
        key="chat_evaluation",
        title="Chat evaluation",
        summary="Rate an assistant's conversation and name its problems. Reads data.conversation (chat).",
        document={
            "fields": [
                {
                    "name": "overall",
                    "type": "rating",
                    "label": "Overall quality of the assistant",
                    "source": "conversation",
                    "min": 1,
                    "max": 5,
                    "labels": {"1": "poor", "3": "acceptable", "5": "excellent"},
                },
                {
                    "name": "problems",
                    "type": "choices",
                    "label": "Problems seen",
                    "required": False,
                    "options": ["factual error", "unsafe", "ignored instructions", "off topic", "too long"],
                    "multiple": True,
                },
                {"name": "feedback", "type": "text", "label": "Feedback", "required": False, "max_length": 4000},
            ]
        },
    ),
    _one_field(
        "step_review",
        "Step-by-step review (reasoning or agent trace)",
        "A verdict on each step of a reasoning chain or an agent's trajectory, the first error, and one on the whole, "
        "for process reward models. Reads data.steps (strings or messages) and data.question.",
        name="step_review",
        type="steps",
        label="Review each step",
        source="steps",
        prompt="question",
        verdicts=["correct", "incorrect", "neutral"],
        comment="optional",
        overall=["correct", "incorrect"],
        stop_at_first_error=False,
    ),
    SchemaTemplate(
        key="chat_blind_comparison",
        title="Chat with models (blind comparison)",
        summary=(
            "Talk with two of the organization's models at once, rate each reply and pick the better one per turn; "
            "the models stay anonymous. Name your own model connections before saving. Reads no task data."
        ),
        document={
            "fields": [
                {
                    "name": "conversation",
                    "type": "chat",
                    "label": "Talk with the models",
                    "connections": ["model-a", "model-b"],
                    "blind": True,
                    "max_turns": 5,
                    "turn_fields": [
                        {"name": "helpfulness", "type": "rating", "label": "Helpfulness", "min": 1, "max": 5},
                        {
                            "name": "issues",
                            "type": "choices",
                            "label": "Problems",
                            "required": False,
                            "multiple": True,
                            "options": ["factual error", "unsafe", "ignored instructions", "too long"],
                        },
                    ],
                    "require_choice": True,
                },
                {"name": "feedback", "type": "text", "label": "Overall feedback", "required": False},
            ]
        },
    ),
)


def schema_template_find(*, key: str) -> SchemaTemplate | None:
    """The template called `key`, if there is one."""
    return next((template for template in SCHEMA_TEMPLATES if template.key == key), None)
