"""The small state file that makes pushes and pulls resumable: which job a push or pull started, by what it was
asked to do. It holds job ids only, never a token. Default `~/.local/state/annotate/state.json`, or
ANNOTATE_STATE_FILE, or --state-file."""

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def default_path() -> Path:
    configured = os.environ.get("ANNOTATE_STATE_FILE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "annotate" / "state.json"


def entry_key(*parts: str) -> str:
    """A key naming what a command was asked to do; parts are encoded unambiguously (as a JSON list)."""
    return hashlib.sha256(json.dumps(list(parts)).encode()).hexdigest()[:32]


class StateFile:
    """A JSON object of entries, rewritten atomically on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self._load().get(key)
        return entry if isinstance(entry, dict) else None

    def _save(self, entries: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".tmp")
        partial.write_text(json.dumps(entries, indent=2, sort_keys=True), encoding="utf-8")
        partial.replace(self.path)

    def put(self, key: str, entry: dict[str, Any]) -> None:
        entries = self._load()
        entries[key] = entry
        self._save(entries)

    def drop(self, key: str) -> None:
        entries = self._load()
        if entries.pop(key, None) is not None:
            self._save(entries)
