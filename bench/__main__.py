"""`python -m bench`: run every benchmark at full size and print each table."""

import sys

from bench import audit_list, bulk_tasks


def main() -> int:
    status = bulk_tasks.main(["--tasks", "10000", "--repeat", "5"])
    return status or audit_list.main(["--events", "10000000", "--repeat", "20"])


if __name__ == "__main__":
    sys.exit(main())
