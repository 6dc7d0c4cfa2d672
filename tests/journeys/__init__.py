import pytest

# The journey's checks live in support.py, shared by both tests; rewritten, a failed check shows its values.
pytest.register_assert_rewrite("tests.journeys.support")
