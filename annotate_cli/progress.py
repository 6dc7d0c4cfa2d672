"""A progress bar on stderr: redrawn in place on a terminal, a line every few seconds otherwise (logs, CI)."""

import sys
import time
from typing import TextIO

WIDTH = 30
LOG_EVERY_SECONDS = 5.0


def _human(count: float, unit: str) -> str:
    if unit != "B":
        return f"{int(count):,}"
    for suffix in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or suffix == "GiB":
            return f"{count:.0f} {suffix}" if suffix == "B" else f"{count:.1f} {suffix}"
        count /= 1024
    return f"{count:.1f} TiB"


class ProgressBar:
    """`update(done, total)` as work advances; `finish()` once. A total of None shows a count without a bar."""

    def __init__(self, label: str, *, unit: str = "", stream: TextIO | None = None, quiet: bool = False) -> None:
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last_log = 0.0
        self.line = ""

    def render(self, done: float, total: float | None, note: str = "") -> str:
        amount = _human(done, self.unit)
        if total:
            share = min(max(done / total, 0.0), 1.0)
            filled = int(share * WIDTH)
            bar = "#" * filled + "-" * (WIDTH - filled)
            text = f"{self.label} [{bar}] {share:6.1%} {amount}/{_human(total, self.unit)}"
        else:
            text = f"{self.label} {amount}"
        return f"{text} {note}".rstrip()

    def update(self, done: float, total: float | None = None, note: str = "") -> None:
        if self.quiet:
            return
        line = self.render(done, total, note)
        if self.tty:
            padding = " " * max(len(self.line) - len(line), 0)
            self.stream.write(f"\r{line}{padding}")
            self.stream.flush()
        elif time.monotonic() - self.last_log >= LOG_EVERY_SECONDS:
            self.stream.write(line + "\n")
            self.stream.flush()
            self.last_log = time.monotonic()
        self.line = line

    def finish(self, note: str = "") -> None:
        if self.quiet:
            return
        final = f"{self.line} {note}".rstrip() if note else self.line
        if self.tty:
            self.stream.write(f"\r{final}\n")
        elif final:
            self.stream.write(final + "\n")
        self.stream.flush()
        self.line = ""
