"""tenancy.services.changes: the `changes` an audit event records."""

from tenancy.services.changes import changes_between


def test_changes_between_lists_only_changed_fields():
    assert changes_between({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == {"b": [2, 3], "c": [None, 4]}
