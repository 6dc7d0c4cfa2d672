"""The registry of audit actions: what it refuses, that it matches what the code records, and the docs' table."""

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from django.conf import settings
from django.core.management import call_command

from annotation.models import ReviewDecision
from audit.management.commands.audit_actions import DOCUMENT
from core.audit.actions import (
    ACTIONS,
    CATEGORIES,
    TABLE_BEGIN,
    AuditAction,
    _registry,
    action_check,
    actions_markdown,
    document_with_actions,
)
from core.audit.record import Outcome, Record, audit_record, audit_record_all, audit_record_denied

ROOT = Path(settings.BASE_DIR)
# The packages whose code records events; the entry point itself (core/audit/record.py) only passes them on.
SOURCE = ("core", "tenancy", "projects", "llm", "annotation", "audit", "workers", "config")
ENTRY_POINT = ROOT / "core" / "audit" / "record.py"


class Recorder(NamedTuple):
    """Something that records an event: where its action is, and where its outcome is (or what it is)."""

    keyword: str
    position: int | None = None
    outcome_keyword: str | None = "outcome"
    # The outcomes it records when it takes none (None: not known to the scan).
    outcomes: frozenset[str] | None = None


RECORDERS = {
    audit_record.__name__: Recorder("action"),
    audit_record_denied.__name__: Recorder("action", outcome_keyword=None, outcomes=frozenset({Outcome.DENIED})),
    Record.__name__: Recorder("action", position=0),
}
Function = ast.FunctionDef | ast.AsyncFunctionDef


def _python_files() -> Iterator[Path]:
    for package in SOURCE:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path != ENTRY_POINT and "migrations" not in path.parts:
                yield path


def _called_name(call: ast.Call) -> str:
    if isinstance(call.func, ast.Name):
        return call.func.id
    return call.func.attr if isinstance(call.func, ast.Attribute) else ""


def _outcome_values(node: ast.expr) -> frozenset[str] | None:
    """`"denied"`, `Outcome.DENIED`, or a choice between such; None for anything computed."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return frozenset({node.value})
    if isinstance(node, ast.Attribute) and node.attr in Outcome.names:
        return frozenset({Outcome[node.attr].value})
    if isinstance(node, ast.IfExp):
        body, orelse = _outcome_values(node.body), _outcome_values(node.orelse)
        return body | orelse if body is not None and orelse is not None else None
    return None


class _Scan:
    """Every action the source passes to a recorder, and with which outcomes: literals, module constants, local
    variables, and parameters of helpers that pass their argument on (which makes the helper a recorder too). What
    stays unresolved (an f-string) is reported by file and function, for the test to account for."""

    def __init__(self) -> None:
        self.trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in _python_files()}
        self.constants: dict[str, list[str]] = {}
        for tree in self.trees.values():
            for node in tree.body:
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                    for target in node.targets:
                        if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                            self.constants.setdefault(target.id, []).append(node.value.value)
        self.recorders = dict(RECORDERS)
        self.found: dict[str, set[str]] = {}
        self.outcomes: dict[str, set[str]] = {}
        self.unresolved: set[str] = set()

    def run(self) -> "_Scan":
        known = -1
        while known != len(self.recorders):  # each pass may find a helper that passes its argument on
            known = len(self.recorders)
            self.found, self.outcomes, self.unresolved = {}, {}, set()
            for path, tree in self.trees.items():
                self._module(path, tree)
        return self

    def _module(self, path: Path, tree: ast.Module) -> None:
        functions = [node for node in ast.walk(tree) if isinstance(node, Function)]
        # Walked outermost first, so a call's entry ends up naming its innermost function.
        enclosing = {id(call): f for f in functions for call in ast.walk(f) if isinstance(call, ast.Call)}
        for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
            recorder = self.recorders.get(_called_name(call))
            if recorder is None:
                continue
            given = [k.value for k in call.keywords if k.arg == recorder.keyword]
            if not given and recorder.position is not None and len(call.args) > recorder.position:
                given = [call.args[recorder.position]]
            outcomes = recorder.outcomes
            passed = []
            if recorder.outcome_keyword is not None:
                passed = [k.value for k in call.keywords if k.arg == recorder.outcome_keyword]
                outcomes = _outcome_values(passed[0]) if passed else frozenset({Outcome.SUCCESS.value})
            for expression in given:
                self._resolve_paired(expression, passed[0] if passed else None, enclosing.get(id(call)), path, outcomes)

    def _resolve_paired(
        self,
        action: ast.expr,
        outcome: ast.expr | None,
        function: Function | None,
        path: Path,
        outcomes: frozenset[str] | None,
    ) -> None:
        """`action="x.complete" if ok else "x.fail", outcome=SUCCESS if ok else FAILURE`: both choose on the same
        test, so each action goes with the outcome of its own branch, not with both."""
        if (
            isinstance(action, ast.IfExp)
            and isinstance(outcome, ast.IfExp)
            and ast.dump(action.test) == ast.dump(outcome.test)
        ):
            self._resolve_paired(action.body, outcome.body, function, path, _outcome_values(outcome.body))
            self._resolve_paired(action.orelse, outcome.orelse, function, path, _outcome_values(outcome.orelse))
            return
        self._resolve(action, function, path, outcomes)

    def _resolve(self, node: ast.expr, function: Function | None, path: Path, outcomes: frozenset[str] | None) -> None:
        where = str(path.relative_to(ROOT))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            self._found(node.value, where, outcomes)
        elif isinstance(node, ast.IfExp):
            self._resolve(node.body, function, path, outcomes)
            self._resolve(node.orelse, function, path, outcomes)
        elif isinstance(node, ast.Name) and function is not None and self._local(node.id, function, path, outcomes):
            return
        elif isinstance(node, ast.Name) and node.id in self.constants:
            for value in self.constants[node.id]:
                self._found(value, where, outcomes)
        else:
            self.unresolved.add(f"{where} {function.name if function else '(module)'}")

    def _found(self, action: str, where: str, outcomes: frozenset[str] | None) -> None:
        self.found.setdefault(action, set()).add(where)
        self.outcomes.setdefault(action, set()).update(outcomes or ())

    def _local(self, name: str, function: Function, path: Path, outcomes: frozenset[str] | None) -> bool:
        """Resolve `name` as a variable assigned in `function`, or as one of its parameters."""
        assigned = [
            node.value
            for node in ast.walk(function)
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
        ]
        for value in assigned:
            self._resolve(value, None, path, outcomes)
        parameters = [a.arg for a in (*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs)]
        if name in parameters:
            positional = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
            position = positional.index(name) if name in positional else None
            self.recorders.setdefault(function.name, Recorder(name, position, None, outcomes))
            return True
        return bool(assigned)


@pytest.fixture(scope="module")
def scan() -> _Scan:
    return _Scan().run()


def test_an_undeclared_action_is_refused_naming_it_and_the_closest_declared_one():
    expected = (
        "audit action 'project.updaet' is not declared in core.audit.actions; "
        "the closest declared one is 'project.update'"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        action_check("project.updaet", Outcome.SUCCESS)


def test_a_malformed_action_is_refused_as_not_category_dot_verb():
    with pytest.raises(ValueError, match=r"^audit action must be 'category\.verb', got 'project'$"):
        action_check("project", Outcome.SUCCESS)


def test_an_outcome_the_action_does_not_declare_is_refused():
    expected = "audit action 'project.update' cannot have outcome 'denied'; it is declared with: success"
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        action_check("project.update", Outcome.DENIED)


def test_declared_actions_and_outcomes_pass():
    action_check("project.update", Outcome.SUCCESS)
    action_check("import.finish", Outcome.FAILURE)
    action_check("access.not_found", "denied")


def test_recording_refuses_before_anything_is_written():
    # No database and no tenant: the check comes first, so nothing else is reached.
    with pytest.raises(ValueError, match=re.escape("'projet.update' is not declared")):
        audit_record(action="projet.update")
    with pytest.raises(ValueError, match=re.escape("'audit.seal' cannot have outcome 'failure'")):
        audit_record_all(Record("audit.seal", outcome=Outcome.FAILURE), Record("project.update"))


def test_declared_outcomes_are_outcomes_and_categories_are_the_declared_prefixes():
    assert set().union(*(action.outcomes for action in ACTIONS.values())) == set(Outcome.values)
    assert {name.partition(".")[0] for name in ACTIONS} == CATEGORIES
    assert all(action.name == f"{action.category}.{action.verb}" for action in ACTIONS.values())


def test_every_read_of_the_data_access_category_and_every_refusal_is_a_data_access():
    flagged = {name for name, action in ACTIONS.items() if action.data_access}

    assert {name for name in ACTIONS if name.startswith(("data_access.", "access."))} <= flagged
    assert flagged - {name for name in ACTIONS if name.startswith(("data_access.", "access."))} == {"audit.export"}


def test_the_scan_finds_the_helpers_that_pass_an_action_on(scan):
    # tenancy.pages.base records its page refusals through a helper; tenancy.api.base picks the action first.
    assert scan.recorders["_record_denied"] == Recorder("action", 2, None, frozenset({"denied"}))
    # annotation.api.chat's async views are not DRF views: they record their refusals as the API base view does.
    assert scan.found["access.not_found"] == {"tenancy/api/base.py", "tenancy/pages/base.py", "annotation/api/chat.py"}
    assert scan.found["audit.integrity_alert"] == {"audit/services/integrity.py", "audit/services/recording.py"}


def test_every_action_the_code_records_is_declared(scan):
    # The one action the scan cannot read is the review decision's, built from its model's choices.
    assert scan.unresolved == {"annotation/services/review.py annotation_review"}, (
        "an action the scan cannot resolve: pass a literal, or a constant, or account for it here"
    )
    recorded = set(scan.found) | {f"review.{decision}" for decision in ReviewDecision.values}

    undeclared = {name: sorted(scan.found.get(name, ())) for name in recorded - set(ACTIONS)}
    assert undeclared == {}, "declare these actions in core/audit/actions.py"


def test_every_outcome_the_code_records_is_declared(scan):
    # `import.finish` takes its outcome from its caller: the scan sees none there, and the declaration says both.
    assert scan.outcomes["import.finish"] == set()
    assert scan.outcomes["audit.verify"] == {"success", "failure"}

    undeclared = {
        name: sorted(seen - ACTIONS[name].outcomes)
        for name, seen in scan.outcomes.items()
        if seen - ACTIONS[name].outcomes
    }
    assert undeclared == {}, "recorded with an outcome its declaration in core/audit/actions.py does not allow"


def test_every_fail_action_is_declared_and_recorded_with_the_outcome_failure_only(scan):
    failing = sorted(name for name, action in ACTIONS.items() if action.verb == "fail")

    assert failing == ["export.fail", "judge_run.fail", "qualification.fail"]
    assert {name: set(ACTIONS[name].outcomes) for name in failing} == {name: {"failure"} for name in failing}
    assert {name: scan.outcomes[name] for name in failing} == {name: {"failure"} for name in failing}
    assert {name: scan.found[name] for name in failing} == {
        "export.fail": {"annotation/exports/runner.py"},
        "judge_run.fail": {"llm/services/judge_runner.py"},
        "qualification.fail": {"annotation/services/submit.py"},
    }
    # Their counterparts, chosen by the same test at the same call, keep `success`.
    assert (scan.outcomes["export.complete"], scan.outcomes["qualification.pass"]) == ({"success"}, {"success"})


def test_a_fail_action_declared_with_another_outcome_stops_the_registry():
    expected = "audit action 'export.fail' names a failure, so its only outcome is 'failure'"
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        _registry(AuditAction("export.fail", ("projects.exportjob",), "An export stops.", frozenset({"success"})))


def test_recording_a_fail_action_as_a_success_is_refused():
    expected = "audit action 'export.fail' cannot have outcome 'success'; it is declared with: failure"
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        audit_record(action="export.fail")


def test_every_declared_action_is_recorded_somewhere(scan):
    recorded = set(scan.found) | {f"review.{decision}" for decision in ReviewDecision.values}

    assert set(ACTIONS) - recorded == set(), "declared but never recorded: remove them from core/audit/actions.py"


def test_the_table_of_actions_in_the_docs_is_current():
    document = DOCUMENT.read_text(encoding="utf-8")

    assert document_with_actions(document) == document, (
        "docs/audit.md's table of actions is out of date: run `python manage.py audit_actions --write`"
    )


def test_the_command_prints_the_table(capsys):
    call_command("audit_actions")

    assert capsys.readouterr().out == actions_markdown()
    assert "| `project.update` | `projects.project` | `success` |  |" in actions_markdown()


def test_the_table_goes_only_between_its_markers():
    with pytest.raises(ValueError, match=re.escape(f"no {TABLE_BEGIN!r}")):
        document_with_actions("# A document without the markers\n")
