"""The forms of the annotation app's pages."""

from typing import Any

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
