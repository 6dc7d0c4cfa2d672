"""How far a judge run agrees with the experts, field by field: where a model could stand in for them, and where not.

For each judged field, over the tasks the judge answered validly and the experts answered too:
- Krippendorff's alpha with the judge as one more coder beside the experts, and the experts' own alpha on the same
  tasks for reference: a judge that agrees with them as they agree with one another leaves alpha where it was, one
  that does not pulls it down;
- Cohen's kappa of the judge against the experts' settled answer (the adjudicated one where a task was adjudicated,
  else the majority; a tie settles nothing), for the fields whose values are categories or points on a scale.
  Fields coded per part (multiple choice per option, rubric per criterion, ranking per candidate) pool their parts
  as units, as the project's own agreement does.

The experts' answer on a task is what the project's agreement counts (annotation.services.quality.current_answers)
under the schema version the run judged; free text gets the counts but no coefficient.
"""

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from annotation.models import Adjudication, Annotation
from annotation.quality.agreement import cohen_kappa, field_agreement
from annotation.services.quality import current_answers
from llm.models import JudgeRun, JudgeVerdict
from projects.label_schema import parse_schema
from projects.models import Project
from projects.selectors import schema_version_list
from projects.services.schema_versions import project_schema_fields

# The judge's key among the coders: a string, where the experts are member ids, so the two never collide.
JUDGE = "judge"
# How much lower than the experts' own alpha the judge's may be and still read "about as well".
CLOSE_GAP = 0.05
SOMEWHAT_GAP = 0.15
_COLUMNS = ("id", "task_id", "annotator_id", "supersedes_id", "version", "review_state", "schema_version", "result")


@dataclass(frozen=True)
class JudgeFieldAgreement:
    """One judged field: the judge against the experts, and the experts among themselves."""

    name: str
    type: str
    items: int  # tasks with a valid verdict and at least one expert answer for the field
    judge_alpha: float | None  # the experts and the judge as one more coder
    experts_alpha: float | None  # the experts alone, on the same tasks
    kappa: float | None  # the judge against the settled answer; None for free text or when undefined
    agreement: float | None  # raw share of units where the judge gave the settled answer
    settled_units: int  # units (tasks, or task parts) with a settled answer and a judge's code
    reading: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "items": self.items,
            "judge_alpha": self.judge_alpha,
            "experts_alpha": self.experts_alpha,
            "kappa": self.kappa,
            "agreement": self.agreement,
            "settled_units": self.settled_units,
            "reading": self.reading,
        }


@dataclass(frozen=True)
class JudgeAgreement:
    """A run measured against the experts: one row per judged field."""

    run: JudgeRun
    verdicts: int  # valid verdicts
    fields: tuple[JudgeFieldAgreement, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"verdicts": self.verdicts, "fields": [f.as_dict() for f in self.fields]}


def _field_specs(project: Project, run: JudgeRun) -> list[dict[str, Any]]:
    """The judged fields as the schema version the run judged under defines them."""
    if run.schema_version == project.schema_version:
        fields = project_schema_fields(project)
    else:
        version = schema_version_list(project=project).filter(version=run.schema_version).first()
        if version is None or not (version.document or {}).get("fields"):
            return []
        fields = list(parse_schema(version.document).to_document()["fields"])
    wanted = set(run.fields)
    return [f for f in fields if f["name"] in wanted]


def _parts(spec: Mapping[str, Any], value: Any) -> dict[Hashable, Hashable]:
    """A value as the codes kappa compares, by part (None for a field coded whole); {} when it has none."""
    kind = spec["type"]
    if value is None:
        return {}
    if kind == "choices" and spec.get("multiple", False):
        return {o: int(o in value) for o in spec.get("options", [])} if isinstance(value, list) else {}
    if kind in ("choices", "rating"):
        return {None: value} if isinstance(value, str | int) else {}
    if kind == "pairwise":
        return {None: value.get("preferred")} if isinstance(value, Mapping) and value.get("preferred") else {}
    if kind in ("rubric", "ranking"):
        return {k: v for k, v in value.items() if isinstance(v, int)} if isinstance(value, Mapping) else {}
    return {}  # free text: no categories to agree on


def _majority(codes: list[Hashable]) -> Hashable | None:
    ranked = Counter(codes).most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def _reading(judge_alpha: float | None, experts_alpha: float | None, items: int) -> str:
    if items == 0:
        return "No task has both a valid verdict and an expert answer yet."
    if judge_alpha is not None and experts_alpha is None:
        # Overlap 1 (or no variation among the experts): the judge is measured, the experts cannot be.
        return f"The experts' own agreement cannot be measured here; the judge's alpha with them is {judge_alpha:.2f}."
    if judge_alpha is None or experts_alpha is None:
        return "Not enough overlap or variation yet to compare the judge with the experts."
    gap = experts_alpha - judge_alpha
    if gap <= CLOSE_GAP:
        return "The judge agrees with the experts about as well as experts agree with each other."
    if gap <= SOMEWHAT_GAP:
        return "The judge agrees with the experts somewhat less than experts agree with each other."
    return "The judge agrees with the experts far less than experts agree with each other."


def _field(
    spec: Mapping[str, Any],
    experts: Mapping[int, Mapping[Hashable, Any]],
    judge: Mapping[int, Any],
    adjudicated: Mapping[int, Mapping[str, Any]],
) -> JudgeFieldAgreement:
    name = spec["name"]
    with_judge: dict[Hashable, dict[Hashable, Any]] = {}
    alone: dict[Hashable, dict[Hashable, Any]] = {}
    judge_codes: list[Hashable | None] = []
    settled_codes: list[Hashable | None] = []
    for task_id, verdict in judge.items():
        values: dict[Hashable, Any] = {
            member: result.get(name)
            for member, result in experts.get(task_id, {}).items()
            if result.get(name) is not None
        }
        judged = verdict.get(name)
        if not values or judged is None:
            continue
        alone[task_id] = dict(values)
        with_judge[task_id] = {**values, JUDGE: judged}
        by_part: dict[Hashable, list[Hashable]] = {}
        for value in values.values():
            for part, code in _parts(spec, value).items():
                by_part.setdefault(part, []).append(code)
        final = adjudicated.get(task_id)
        settled = (
            _parts(spec, final.get(name))
            if final is not None and final.get(name) is not None
            else {part: _majority(codes) for part, codes in by_part.items()}
        )
        mine = _parts(spec, judged)
        for part, code in settled.items():
            if code is not None and part in mine:
                judge_codes.append(mine[part])
                settled_codes.append(code)
    coded = spec["type"] != "text"
    judge_alpha = field_agreement(spec, with_judge).alpha if coded else None
    experts_alpha = field_agreement(spec, alone).alpha if coded else None
    units = len(judge_codes)
    kappa = cohen_kappa(judge_codes, settled_codes) if coded and units else None
    agreement = sum(1 for a, b in zip(judge_codes, settled_codes, strict=True) if a == b) / units if units else None
    items = len(with_judge)
    return JudgeFieldAgreement(
        name=name,
        type=spec["type"],
        items=items,
        judge_alpha=judge_alpha,
        experts_alpha=experts_alpha,
        kappa=kappa,
        agreement=agreement,
        settled_units=units,
        reading=_reading(judge_alpha, experts_alpha, items)
        if coded
        else "Free text: compare the answers themselves; no coefficient applies.",
    )


def judge_agreement(*, project: Project, run: JudgeRun) -> JudgeAgreement:
    """The run's valid verdicts measured against the experts' standing answers, per judged field."""
    judge = {
        task_id: result
        for task_id, result in JudgeVerdict.objects.filter(run=run, valid=True).values_list("task_id", "result")
        if isinstance(result, dict)
    }
    experts: dict[int, dict[Hashable, Any]] = {}
    batch: list[Annotation] = []

    def flush() -> None:
        answers = current_answers(batch, schema_version=run.schema_version)
        experts[batch[0].task_id] = {
            a.owner_id: a.annotation.result for a in answers if isinstance(a.annotation.result, dict)
        }

    rows = Annotation.objects.filter(project=project, task_id__in=list(judge), is_gold=False).only(*_COLUMNS)
    for annotation in rows.order_by("task_id", "id").iterator(chunk_size=2000):
        if batch and annotation.task_id != batch[0].task_id:
            flush()
            batch = []
        batch.append(annotation)
    if batch:
        flush()
    adjudicated = {
        task_id: result
        for task_id, result in Adjudication.objects.filter(
            project=project, task_id__in=list(judge), schema_version=run.schema_version
        ).values_list("task_id", "result")
        if isinstance(result, dict)
    }
    fields = tuple(_field(spec, experts, judge, adjudicated) for spec in _field_specs(project, run))
    return JudgeAgreement(run=run, verdicts=len(judge), fields=fields)
