"""`python -m bench`: run every benchmark at full size and print each table."""

import sys

from bench import bulk_tasks


def main() -> int:
    return bulk_tasks.main(["--tasks", "10000", "--repeat", "5"])


if __name__ == "__main__":
    sys.exit(main())
