"""Preference pairs for DPO (and other pairwise objectives): JSON Lines of `{prompt, chosen, rejected}`.

- `prompt` is the task data's `prompt` key: a string gives plain strings for all three; a chat
  (`{"messages": [...]}` or the list) gives the conversational form, `prompt` the messages and `chosen` /
  `rejected` one assistant message each. A task without a `prompt` gets "".
- From a `pairwise` field: the preferred candidate is chosen, the other rejected; a tie is no preference and
  gives no pair. `strength` is carried when the annotator gave one.
- From a `ranking` field (1 is best): by default the best-versus-worst pairs (every candidate ranked first
  against every candidate ranked last; none when all are tied); with `ranking_pairs: "all"`, every pair of
  candidates whose ranks differ, the better one chosen. Pairs follow the candidates' order in the task data.
- From a `chat` field: per turn, the chosen reply over each other reply, and an edited reply over the model's
  original, in the conversational form with the conversation so far as `prompt` and both models named
  (annotation.exports.chat_fields).
Each line also names the task, the field, the candidates' ids, the annotation and its pseudonymous annotator.
"""

from collections.abc import Sequence
from typing import Any

from annotation.exports.base import TaskRecordWriter, has_field, json_line
from annotation.exports.chat import chat_messages
from annotation.exports.chat_fields import chat_dpo_pairs, chat_tree
from annotation.exports.records import AnnotationRecord, TaskRecord
from projects.label_schema.fields import ChatField, LabelSchema, PairwiseField, RankingField


def _candidates(data: dict[str, Any], source: str) -> list[tuple[str, str]]:
    items = data.get(source)
    if not isinstance(items, list):
        return []
    return [
        (str(item["id"]), str(item.get("content", "")))
        for item in items
        if isinstance(item, dict) and isinstance(item.get("id"), str)
    ]


def ranking_pairs(ranks: dict[str, Any], order: list[str], mode: str) -> list[tuple[str, str]]:
    """(better, worse) candidate ids from a ranking, in candidate order; `mode` is best_worst or all."""
    ranked = [c for c in order if isinstance(ranks.get(c), int)]
    if not ranked:
        return []
    best, worst = min(ranks[c] for c in ranked), max(ranks[c] for c in ranked)
    pairs = []
    for i, first in enumerate(ranked):
        for second in ranked[i + 1 :]:
            a, b = ranks[first], ranks[second]
            if a == b:
                continue
            better, worse = (first, second) if a < b else (second, first)
            if mode == "all" or (ranks[better] == best and ranks[worse] == worst):
                pairs.append((better, worse))
    return pairs


class DpoWriter(TaskRecordWriter):
    extension = "dpo.jsonl"
    content_type = "application/x-ndjson"

    @classmethod
    def schema_refusal(cls, schemas: Sequence[LabelSchema]) -> str | None:
        if has_field(schemas, (PairwiseField, RankingField, ChatField), lambda field: True):
            return None
        return "DPO pairs are made from pairwise or ranking fields, and the project's label schema has neither."

    def _line(
        self,
        record: TaskRecord,
        annotation: AnnotationRecord,
        field: str,
        chosen: tuple[str, str],
        rejected: tuple[str, str],
        extra: dict[str, Any],
    ) -> None:
        raw_prompt = record.data.get("prompt")
        messages = None if isinstance(raw_prompt, str) else chat_messages(raw_prompt)
        document: dict[str, Any]
        if messages is not None:
            document = {
                "prompt": messages,
                "chosen": [{"role": "assistant", "content": chosen[1]}],
                "rejected": [{"role": "assistant", "content": rejected[1]}],
            }
        else:
            prompt = raw_prompt if isinstance(raw_prompt, str) else ""
            document = {"prompt": prompt, "chosen": chosen[1], "rejected": rejected[1]}
        document.update(
            chosen_id=chosen[0],
            rejected_id=rejected[0],
            task_id=record.id,
            external_id=record.external_id,
            field=field,
            annotation_id=annotation.id,
            annotator=annotation.annotator,
            **extra,
        )
        self.out.write(json_line(document))

    def write_task(self, record: TaskRecord) -> int:
        written = 0
        mode = self.context.filters.ranking_pairs
        for annotation in record.annotations:
            schema = self.context.schema(annotation.schema_version)
            for field in [] if schema is None else schema:
                value = annotation.result.get(field.name)
                if isinstance(field, PairwiseField) and isinstance(value, dict):
                    candidates = dict(_candidates(record.data, field.source))
                    preferred = value.get("preferred")
                    others = [c for c in candidates if c != preferred]
                    if preferred not in candidates or len(others) != 1:
                        continue  # a tie, or data that no longer holds the pair
                    extra = {"strength": value["strength"]} if "strength" in value else {}
                    chosen = (str(preferred), candidates[str(preferred)])
                    self._line(record, annotation, field.name, chosen, (others[0], candidates[others[0]]), extra)
                    written += 1
                elif isinstance(field, ChatField) and isinstance(value, dict):
                    written += self._chat_pairs(record, annotation, field, value)
                elif isinstance(field, RankingField) and isinstance(value, dict):
                    candidates = dict(_candidates(record.data, field.source))
                    for better, worse in ranking_pairs(value, list(candidates), mode):
                        chosen, rejected = (better, candidates[better]), (worse, candidates[worse])
                        self._line(record, annotation, field.name, chosen, rejected, {})
                        written += 1
        return written

    def _chat_pairs(self, record: TaskRecord, annotation: AnnotationRecord, field: ChatField, value: Any) -> int:
        """Each turn's preferences (chosen over every other reply; an edit over its original), with the models."""
        tree = chat_tree(value)
        pairs = [] if tree is None else chat_dpo_pairs(field, value, tree)
        for pair in pairs:
            document = {
                **pair,
                "task_id": record.id,
                "external_id": record.external_id,
                "field": field.name,
                "annotation_id": annotation.id,
                "annotator": annotation.annotator,
                "conversation": value["conversation"],
            }
            self.out.write(json_line(document))
        return len(pairs)
