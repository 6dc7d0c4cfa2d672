"""The forms of the annotation app's pages."""

from typing import Any, cast

from django import forms

from annotation.exports.filters import STATUSES
from projects.models import ExportFormat

EXPORT_FORMATS = [
    (ExportFormat.JSONL.value, "JSONL (one task per line)"),
    (ExportFormat.CSV.value, "CSV"),
    (ExportFormat.COCO.value, "COCO (boxes)"),
    (ExportFormat.CONLL.value, "CoNLL (spans)"),
    (ExportFormat.DPO.value, "Preference pairs (DPO)"),
    (ExportFormat.SFT.value, "SFT chat JSONL"),
    (ExportFormat.LABEL_STUDIO.value, "Label Studio JSON"),
    (ExportFormat.PRM.value, "Process reward data (PRM, steps)"),
]


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=EXPORT_FORMATS)
    status = forms.ChoiceField(
        choices=[("", "Every task"), *((s, s) for s in STATUSES)],
        required=False,
        help_text="done: every overlap slot answered; open: the rest.",
    )
    reviewed_only = forms.BooleanField(required=False, help_text="Only annotations a reviewer accepted.")
    created_after = forms.DateTimeField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Tasks created on or after."
    )
    created_before = forms.DateTimeField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Tasks created before."
    )

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {k: data[k] for k in ("status", "created_after", "created_before") if data.get(k)} | (
            {"reviewed_only": True} if data.get("reviewed_only") else {}
        )


TASK_STATES = [("", "Any state"), ("new", "Not started"), ("in_progress", "In progress"), ("complete", "Complete")]
REVIEW_OUTCOMES = [
    ("", "Any review"),
    ("pending", "Waiting for review"),
    ("accepted", "Accepted"),
    ("rejected", "Rejected"),
    ("corrected", "Corrected"),
]
SORT_ORDERS = [
    ("imported", "Oldest first"),
    ("-imported", "Newest first"),
    ("external_id", "External id, A → Z"),
    ("-external_id", "External id, Z → A"),
    ("priority", "Highest priority first"),
]
GOLD = [("", "Gold or not"), ("yes", "Gold only"), ("no", "Not gold")]


class TaskFilterForm(forms.Form):
    """The data browser's filters, read from the query string so that a view is a URL to keep or share."""

    q = forms.CharField(required=False, max_length=200, label="Search the data", help_text="Words, or their start.")
    state = forms.ChoiceField(choices=TASK_STATES, required=False)
    review = forms.ChoiceField(choices=REVIEW_OUTCOMES, required=False, label="Review outcome")
    annotator = forms.ChoiceField(choices=[("", "Anyone")], required=False)
    field = forms.ChoiceField(choices=[("", "Any field")], required=False, label="Label field")
    value = forms.CharField(required=False, max_length=200, label="Label value")
    agreement_below = forms.FloatField(
        required=False, min_value=0.0, max_value=1.0, label="Agreement below", help_text="0 to 1."
    )
    disputed = forms.BooleanField(required=False, label="Disputed (waiting for adjudication)")
    skipped = forms.BooleanField(required=False, label="Skipped by someone")
    gold = forms.ChoiceField(choices=GOLD, required=False)
    created_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    created_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")
    sort = forms.ChoiceField(choices=SORT_ORDERS, required=False, label="Order")
    after = forms.UUIDField(required=False, widget=forms.HiddenInput)
    before = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, data: Any, *, fields: list[str], annotators: list[tuple[str, str]]) -> None:
        super().__init__(data)
        cast(forms.ChoiceField, self.fields["field"]).choices = [("", "Any field"), *((n, n) for n in fields)]
        cast(forms.ChoiceField, self.fields["annotator"]).choices = [("", "Anyone"), *annotators]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("value") and not data.get("field"):
            self.add_error("field", "Choose the field the value is an answer to.")
        if data.get("field") and not data.get("value"):
            self.add_error("value", "Type the answer to look for.")
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", "Must be on or after the start.")
        return data


BULK_ACTIONS = [
    ("requeue", "Re-queue: ask for one more annotation"),
    ("priority", "Set priority"),
    ("gold", "Mark gold (with the settled answer)"),
    ("ungold", "Unmark gold"),
    ("adjudicate", "Send to adjudication"),
    ("export", "Export the selection"),
]


class TaskBulkForm(forms.Form):
    """A change to the tasks ticked in the data browser."""

    action = forms.ChoiceField(choices=BULK_ACTIONS)
    tasks = forms.TypedMultipleChoiceField(choices=[], coerce=str, error_messages={"required": "Tick some tasks."})
    priority = forms.IntegerField(required=False, help_text="For “Set priority”.")
    format = forms.ChoiceField(choices=EXPORT_FORMATS, required=False, help_text="For “Export the selection”.")
    back = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, data: Any) -> None:
        super().__init__(data)
        # Any uuid is accepted here; the service takes the project's own tasks among them and no other.
        ticked = data.getlist("tasks") if hasattr(data, "getlist") else []
        cast(forms.ChoiceField, self.fields["tasks"]).choices = [(value, value) for value in ticked]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "priority" and data.get("priority") is None:
            self.add_error("priority", "Give the new priority.")
        return data
