"""An import's memory does not grow with its file: the Python heap's peak (tracemalloc) for 40 batches stays within a
small margin of the peak for 10, and at the shipped batch size under a fixed bound, in every format.

The growth is measured in batches, since one batch at a time is the design and a leak would grow with their number:
40 batches of SLOPE_BATCH_ROWS rows against 10, as 200,000 rows against 50,000 are at the shipped 5,000 a batch, for
a fifth of the rows to write, stage and merge. The fixed bound holds for the shipped batch size, so it is measured at
that size, over two batches (the peak is one batch's, reached by the first)."""

import csv
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from projects import config
from projects.imports.runner import import_run
from projects.imports.services import import_create_upload
from projects.models import ImportJob, Task
from tests.projects import imports_support

# Fixtures shared by the import tests, bound here so that pytest finds them in this module.
manager = imports_support.manager
store = imports_support.store

pytestmark = pytest.mark.slow

SLOPE_BATCH_ROWS = 1000
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
def test_peak_memory_does_not_grow_with_the_number_of_rows(store, manager, tmp_path, fmt, settings):
    shipped_batch = config.import_batch_rows()
    settings.IMPORT_BATCH_ROWS = SLOPE_BATCH_ROWS
    small = peak_of_import(manager, fmt, 10 * SLOPE_BATCH_ROWS, tmp_path)
    large = peak_of_import(manager, fmt, 40 * SLOPE_BATCH_ROWS, tmp_path)
    settings.IMPORT_BATCH_ROWS = shipped_batch
    shipped = peak_of_import(manager, fmt, 2 * shipped_batch, tmp_path)

    assert shipped_batch == 5000
    assert Task.objects.count() == 50 * SLOPE_BATCH_ROWS + 2 * shipped_batch
    # Four times the batches, the same peak (give or take allocator noise): one batch at a time, whatever the size.
    assert large < small * 1.2 + 1024 * 1024, (small, large)
    assert shipped < 32 * 1024 * 1024, (small, large, shipped)
