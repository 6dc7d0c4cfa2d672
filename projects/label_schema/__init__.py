"""The label-schema kernel: what a project asks annotators for, and whether an answer or a task fits it.

Pure functions over JSON values; no database access. docs/label-schemas.md describes the format.

- `parse_schema(document)` validates a schema document and returns an immutable `LabelSchema`.
- `validate_result(schema, result, task_data)` / `result_errors(...)` check an annotation result;
  `validate_gold_answer` / `gold_answer_errors` a task's gold answer.
- `validate_task_data(schema, data, path=...)` lists what a task's data lacks for the schema.
- `schema_incompatibilities(old, new)` says which changes would orphan annotations made under `old`.
- `label_studio_to_schema(xml)` converts a Label Studio labelling config.

Every refusal is `core.errors.InvalidInput` (or a list of `FieldError`) whose items name a path, a code and a
message.
"""

from projects.label_schema.compat import schema_incompatibilities
from projects.label_schema.definition import parse_schema
from projects.label_schema.fields import (
    FIELD_TYPES,
    BaseField,
    BoxesField,
    ChatField,
    ChoicesField,
    Field,
    FieldCondition,
    LabelSchema,
    PairwiseField,
    RankingField,
    RatingField,
    RubricCriterion,
    RubricField,
    SpansField,
    StepsField,
    TextField,
)
from projects.label_schema.label_studio import label_studio_to_schema
from projects.label_schema.results import (
    condition_holds,
    gold_answer_errors,
    result_errors,
    validate_gold_answer,
    validate_result,
)
from projects.label_schema.task_data import SourceRequirement, source_requirements, validate_task_data

__all__ = [
    "FIELD_TYPES",
    "BaseField",
    "BoxesField",
    "ChatField",
    "ChoicesField",
    "Field",
    "FieldCondition",
    "LabelSchema",
    "PairwiseField",
    "RankingField",
    "RatingField",
    "RubricCriterion",
    "RubricField",
    "SourceRequirement",
    "SpansField",
    "StepsField",
    "TextField",
    "condition_holds",
    "gold_answer_errors",
    "label_studio_to_schema",
    "parse_schema",
    "result_errors",
    "schema_incompatibilities",
    "source_requirements",
    "validate_gold_answer",
    "validate_result",
    "validate_task_data",
]
