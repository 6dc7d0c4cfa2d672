"""`python -m bench`: run every benchmark at full size, one process each (each sets up Django against its own
throwaway database), and print each table."""

import subprocess
import sys

BENCHMARKS = [
    ("bench.bulk_tasks", ["--tasks", "10000", "--repeat", "5"]),
    ("bench.audit_overhead", ["--rounds", "7"]),
    ("bench.audit_seal", ["--events", "200000"]),
    ("bench.audit_list", ["--events", "10000000", "--repeat", "20"]),
    ("bench.imports", ["--tasks", "100000", "--formats", "jsonl,json,csv,jsonl.gz"]),
    ("bench.exports", ["--rows", "100000", "--repeat", "3"]),
    ("bench.task_browser", ["--tasks", "1000000", "--repeat", "5"]),
    ("bench.routing", ["--tasks", "10000", "--tasks", "1000000", "--seconds", "60", "--annotators", "50"]),
    ("bench.model_streams", ["--streams", "50"]),
]


def main() -> int:
    status = 0
    for module, args in BENCHMARKS:
        status |= subprocess.run([sys.executable, "-m", module, *args], check=False).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
