"""The map of the code in docs/architecture.md, drawn from the code itself: every module of every app with the
first line of its docstring, every route with the view and module that serve it, and every background task.

It is generated (`manage.py architecture_map --write`) so that it cannot drift from the tree, and a test fails
when the committed map differs from what the tree would write. The kernel imports no app: the apps, their
modules, routes and tasks are found at run time from INSTALLED_APPS, the URLconf and the Celery app.
"""

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

BEGIN = "<!-- BEGIN GENERATED: manage.py architecture_map --write -->"
END = "<!-- END GENERATED -->"
DOCUMENT = Path(settings.BASE_DIR) / "docs" / "architecture.md"

# The platform's own apps, bottom layer first (the layers contract in pyproject.toml).
APPS = ("core", "tenancy", "projects", "llm", "annotation", "audit", "workers")


@dataclass(frozen=True)
class Module:
    name: str
    path: str
    summary: str


def _summary(path: Path) -> str:
    """The first sentence-line of a module's docstring, read from the source (nothing is imported)."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = " ".join(doc.split("\n\n", 1)[0].split())
    return first.replace("|", "\\|")


def modules(app: str) -> Iterator[Module]:
    """Every module of an app except migrations and empty package markers, in path order."""
    root = Path(apps.get_app_config(app).path)
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent)
        if "migrations" in relative.parts or "__pycache__" in relative.parts:
            continue
        if path.name == "__init__.py" and not path.read_text(encoding="utf-8").strip():
            continue
        dotted = ".".join(relative.with_suffix("").parts)
        yield Module(dotted.removesuffix(".__init__"), relative.as_posix(), _summary(path))


@dataclass(frozen=True)
class Route:
    pattern: str
    name: str
    view: str
    module: str


def _view_of(callback: Any) -> tuple[str, str]:
    target = getattr(callback, "view_class", None) or getattr(callback, "cls", None) or callback
    while hasattr(target, "__wrapped__"):
        target = target.__wrapped__
    return target.__qualname__, target.__module__


def routes() -> list[Route]:
    found: list[Route] = []

    def walk(patterns: list[URLPattern | URLResolver], prefix: str, namespace: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                walk(entry.url_patterns, prefix + str(entry.pattern), inner)
            else:
                view, module = _view_of(entry.callback)
                name = f"{namespace}{entry.name}" if entry.name else ""
                found.append(Route("/" + prefix + str(entry.pattern), name, view, module))

    walk(get_resolver().url_patterns, "", "")
    return [r for r in found if r.module.split(".", 1)[0] in APPS or r.module.startswith("config.")]


def tasks() -> list[tuple[str, str, str, str]]:
    """(task name, function, module, summary) of every task the platform registers with Celery."""
    celery_app = importlib.import_module("config.celery").app
    importlib.import_module("workers.tasks")
    out = []
    for name, task in sorted(celery_app.tasks.items()):
        body = _task_body(getattr(task, "run", None))
        module = getattr(body, "__module__", "") or ""
        if body is not None and module.split(".", 1)[0] in APPS:
            summary = " ".join((inspect.getdoc(body) or "").split("\n\n", 1)[0].split())
            out.append((name, body.__name__, module, summary.replace("|", "\\|") or "—"))
    return out


def _task_body(run: Any) -> Any:
    """The function a task runs: workers.base wraps each in a `run` that enters the tenant first, and keeps the
    function it wraps in its closure (named `func`)."""
    if run is None:
        return None
    closure = inspect.getclosurevars(run).nonlocals
    return closure.get("func", run)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def render() -> str:
    """The generated part of docs/architecture.md, markers included."""
    lines = [BEGIN, "", "## Where each module lives", ""]
    for app in APPS:
        lines += [f"### `{app}/`", ""]
        lines += _table(("module", "what it holds"), [(f"`{m.path}`", m.summary or "—") for m in modules(app)])
        lines.append("")
    lines += ["## Routes", "", "Every URL the platform answers, with the view that serves it.", ""]
    lines += _table(
        ("route", "name", "view", "module"),
        [(f"`{r.pattern}`", r.name, f"`{r.view}`", f"`{r.module}`") for r in routes()],
    )
    lines += ["", "## Background tasks", "", "Enqueued by name (core.enqueue); each takes ids, never objects.", ""]
    lines += _table(("task", "function", "what it does"), [(f"`{n}`", f"`{m}.{f}`", what) for n, f, m, what in tasks()])
    lines += ["", END]
    return "\n".join(lines) + "\n"


def document_with(generated: str, current: str) -> str:
    """The document with its generated part replaced (appended when the markers are missing)."""
    if BEGIN in current and END in current:
        head, _, rest = current.partition(BEGIN)
        _, _, tail = rest.partition(END)
        return head + generated.rstrip("\n") + tail
    return current.rstrip("\n") + "\n\n" + generated


def module_names(app: str) -> list[str]:
    """Importable module names of an app (for tests that walk every module)."""
    package = importlib.import_module(app)
    return [m.name for m in pkgutil.walk_packages(package.__path__, app + ".") if ".migrations" not in m.name]
