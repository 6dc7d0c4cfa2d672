"""A short run of the model-streams benchmark (the model server, the platform under uvicorn, 5 streams), so
`make bench-streams` cannot rot."""

import math
import re

import pytest

from tests.bench.runner import run_bench

ROWS = (
    "API GET /api/v1/projects/ idle",
    "API GET /api/v1/projects/ during 5 streams",
    "TTFT direct to the model server",
    "TTFT through the platform",
    "platform TTFT overhead",
)


@pytest.mark.slow
def test_model_streams_benchmark_streams_every_reply_and_prints_its_table() -> None:
    result = run_bench("model_streams", "--streams", "5", "--idle-seconds", "1")
    lines = result.stdout.splitlines()

    assert (
        "model streams: 5 at once, model server 50 ms/token, first token 200 ms, platform on uvicorn (1 process)"
        in lines
    )
    for name in ROWS:
        (row,) = [line for line in lines if line.startswith(f"{name} ")]
        p50, p95 = (float(cell) for cell in row.split("|")[1:3])
        # Not timing: only that every measure was taken (a measure without samples prints nan).
        assert not math.isnan(p50), row
        assert not math.isnan(p95), row
    assert re.search(
        r"^streams completed 5/5 through the platform in [\d.]+ s \(direct [\d.]+ s\); "
        r"stream errors 0; API read failures 0$",
        result.stdout,
        re.M,
    ), result.stdout
