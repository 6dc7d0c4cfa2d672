"""The manager pages' forms: they turn what a browser posts into the arguments of the project services, which
still decide what is allowed (ranges the database enforces are checked here first, so the error names a field)."""

import json
from typing import Any

from django import forms

from projects import config
from projects.imports.parsers import FORMATS
from projects.models import Project
from tenancy.models import SKILL_LEVEL_MAX, SKILL_LEVEL_MIN

REVIEW_MODES = [("none", "No review"), ("sample", "A sampled share"), ("all", "Every annotation")]
REJECT_RETURNS_TO = [("annotator", "Its annotator, with the comment"), ("pool", "The pool (anyone else)")]


def _skills_text(skills: dict[str, int]) -> str:
    return ", ".join(f"{name}:{level}" for name, level in sorted(skills.items()))


class SkillsField(forms.CharField):
    """`radiology:3, oncology:2` ↔ {"radiology": 3, "oncology": 2}."""

    def prepare_value(self, value: Any) -> Any:
        return _skills_text(value) if isinstance(value, dict) else value

    def to_python(self, value: Any) -> dict[str, int]:  # type: ignore[override]
        text = str(value or "").strip()
        skills: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, level = part.partition(":")
            if (
                not sep
                or not name.strip()
                or not level.strip().isdigit()
                or not SKILL_LEVEL_MIN <= int(level) <= SKILL_LEVEL_MAX
            ):
                raise forms.ValidationError(
                    f"“{part}” is not skill:level with a level from {SKILL_LEVEL_MIN} to {SKILL_LEVEL_MAX}.", "invalid"
                )
            skills[name.strip()] = int(level)
        return skills


class LanguagesField(forms.CharField):
    """`en, pt-br` ↔ ["en", "pt-br"]."""

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        codes = [c.strip().lower() for c in str(value or "").split(",") if c.strip()]
        for code in codes:
            if len(code) > 16:
                raise forms.ValidationError(f"“{code}” is longer than a language code can be.", "invalid")
        return codes


def _share(label: str, help_text: str, *, required: bool = True) -> forms.FloatField:
    return forms.FloatField(label=label, min_value=0, max_value=1, required=required, help_text=help_text)


class ProjectSettingsForm(forms.Form):
    """Every routing, review and quality setting of a project; saved with `project_update`."""

    name = forms.CharField(max_length=200)
    codename = forms.CharField(max_length=100, required=False, help_text="Shown to annotators of blind projects.")
    blind = forms.BooleanField(required=False, help_text="Annotators see the codename, never the name.")
    is_active = forms.BooleanField(label="Active", required=False, help_text="A paused project serves no new work.")
    overlap = forms.IntegerField(
        min_value=1, max_value=config.MAX_OVERLAP, help_text="Annotations wanted per task, each by someone else."
    )
    max_active_per_annotator = forms.IntegerField(
        label="Max active per annotator", min_value=1, max_value=100, help_text="Tasks one annotator may hold."
    )
    lease_seconds = forms.IntegerField(
        label="Lease (seconds)", min_value=30, max_value=86400, help_text="How long a task stays with its annotator."
    )
    required_skills = SkillsField(
        required=False, help_text="skill:minimum level, comma separated, e.g. radiology:3, oncology:2."
    )
    required_languages = LanguagesField(required=False, help_text="Language codes, comma separated, e.g. en, fr.")
    review_mode = forms.ChoiceField(choices=REVIEW_MODES)
    review_rate = _share("Review rate", "Share of annotations reviewed in sampled mode, above 0 and at most 1.")
    reject_returns_to = forms.ChoiceField(
        label="Rejected work goes to",
        choices=REJECT_RETURNS_TO,
        help_text="Its annotator sees the reviewer's comment and redoes it; the pool gives it to someone else.",
    )
    gold_rate = _share("Gold rate", "Share of claims answered with a gold task, 0 to 1.")
    gold_min_accuracy = _share(
        "Gold threshold", "Gold accuracy under which an annotator is paused; empty for none.", required=False
    )
    agreement_threshold = _share("Agreement threshold", "Tasks below it go to adjudication.")
    show_suggestions = forms.BooleanField(
        required=False, help_text="Pre-fill the answers tasks arrive with, marked as suggested (agent hidden if blind)."
    )

    FIELDSETS = (
        ("General", ("name", "codename", "blind", "is_active")),
        ("Routing", ("overlap", "max_active_per_annotator", "lease_seconds", "required_skills", "required_languages")),
        (
            "Review and quality",
            (
                "review_mode",
                "review_rate",
                "reject_returns_to",
                "gold_rate",
                "gold_min_accuracy",
                "agreement_threshold",
                "show_suggestions",
            ),
        ),
    )

    @classmethod
    def for_project(cls, project: Project, data: Any = None) -> "ProjectSettingsForm":
        return cls(data, initial={name: getattr(project, name) for name in cls.base_fields})

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(legend, [self[name] for name in names]) for legend, names in self.FIELDSETS]


class ProjectSchemaForm(forms.Form):
    """The label schema as JSON text and the guidelines; saved with `project_update`."""

    label_schema = forms.CharField(
        label="Label schema (JSON)",
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "false", "class": "code-input"}),
        help_text='A document such as {"fields": [{"name": "sentiment", "type": "choices", "options": […]}]}.',
    )
    new_schema_version = forms.BooleanField(
        required=False,
        label="Start a new schema version",
        help_text="Needed when the change would orphan annotations already made.",
    )
    guidelines = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 10}), help_text="Shown to annotators beside each task."
    )

    @classmethod
    def for_project(cls, project: Project, data: Any = None) -> "ProjectSchemaForm":
        schema = json.dumps(project.label_schema or {"fields": []}, indent=2, ensure_ascii=False)
        return cls(data, initial={"label_schema": schema, "guidelines": project.guidelines})

    def clean_label_schema(self) -> dict[str, Any]:
        try:
            document = json.loads(self.cleaned_data["label_schema"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from exc
        if not isinstance(document, dict):
            raise forms.ValidationError('Must be a JSON object with a "fields" list.')
        return document


class ImportForm(forms.Form):
    """Rendered for the upload; the file itself goes to the import API, which spools it and starts the job."""

    file = forms.FileField(help_text="JSONL, JSON (one array) or CSV, optionally gzipped.")
    format = forms.ChoiceField(
        choices=[("", "From the file name"), *((f, f) for f in FORMATS)], required=False, label="Format"
    )
    skip_bad_rows = forms.BooleanField(required=False, help_text="Import the good rows and list the bad ones.")
    update_existing = forms.BooleanField(required=False, help_text="Replace the data of tasks already imported.")


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    codename = forms.CharField(max_length=100, required=False, help_text="Shown to annotators instead of the name.")
    overlap = forms.IntegerField(min_value=1, max_value=50, initial=1, help_text="Annotations wanted per task.")
    guidelines = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
