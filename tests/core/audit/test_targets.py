"""The registry of audit target kinds: what each kind is called, and that a kind is declared once."""

import pytest

from core.audit.targets import TargetKind, target_kinds_register, target_noun


def test_the_kinds_have_nouns_and_an_undeclared_type_is_shown_as_stored():
    assert [target_noun(t) for t in ("projects.task", "tenancy.membership", "projects.exportjob")] == [
        "task",
        "member",
        "export",
    ]
    assert target_noun("ui:project-overview") == "ui:project-overview"


def test_a_target_type_is_declared_once():
    with pytest.raises(ValueError, match=r"^audit target type 'projects\.task' is declared twice$"):
        target_kinds_register({"projects.task": TargetKind("item", lambda ids: {})})
