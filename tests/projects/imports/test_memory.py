"""An import's memory does not grow with its file: the Python heap's peak (tracemalloc) for 200,000 rows stays
within a small margin of the peak for 50,000, and under a fixed bound, in every format."""

import csv
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from projects.imports.runner import import_run
from projects.imports.services import import_create_upload
from projects.models import ImportJob, Task
from tests.projects import imports_support

# Fixtures shared by the import tests, bound here so that pytest finds them in this module.
manager = imports_support.manager
store = imports_support.store

pytestmark = pytest.mark.slow

TEXT = "Patient presents with intermittent chest pain radiating to the left arm, worse on exertion. " * 2


def write_rows(path: Path, fmt: str, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        table = csv.writer(out)
        if fmt == "csv":
            table.writerow(["external_id", "data.text"])
        elif fmt == "json":
            out.write("[")
        for i in range(count):
            if fmt == "csv":
                table.writerow([f"{fmt}-{count}-{i}", TEXT])
                continue
            row = json.dumps({"external_id": f"{fmt}-{count}-{i}", "data": {"text": TEXT}})
            out.write(("," if fmt == "json" and i else "") + row + ("\n" if fmt == "jsonl" else ""))
        if fmt == "json":
            out.write("]")


def peak_of_import(manager: Any, fmt: str, count: int, tmp_path: Path) -> int:
    from tests.factories import ProjectFactory

    path = tmp_path / f"{count}.{fmt}"
    write_rows(path, fmt, count)
    with path.open("rb") as upload:
        job = import_create_upload(
            actor=manager, project=ProjectFactory(), upload=upload, size=path.stat().st_size, fmt=fmt
        )
    path.unlink()
    tracemalloc.start()
    try:
        while not import_run(job, time_budget=3600).finished:
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    job = ImportJob.objects.get(pk=job.pk)
    assert (job.state, job.created_count) == ("succeeded", count)
    return peak


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_peak_memory_does_not_grow_with_the_number_of_rows(store, manager, tmp_path, fmt):
    small = peak_of_import(manager, fmt, 50_000, tmp_path)
    large = peak_of_import(manager, fmt, 200_000, tmp_path)

    assert Task.objects.count() == 250_000
    # Four times the rows, the same peak (give or take allocator noise): one batch at a time, whatever the size.
    assert large < small * 1.2 + 1024 * 1024, (small, large)
    assert large < 32 * 1024 * 1024, (small, large)
