"""The map in docs/architecture.md is the tree's own (core.architecture)."""

from core import architecture


def test_the_committed_map_is_the_one_the_tree_draws():
    current = architecture.DOCUMENT.read_text(encoding="utf-8")
    assert architecture.document_with(architecture.render(), current) == current, (
        "docs/architecture.md is out of date: run `.venv/bin/python manage.py architecture_map --write`."
    )


def test_the_map_names_every_module_route_and_task():
    generated = architecture.render()
    for app in architecture.APPS:
        for module in architecture.modules(app):
            assert f"`{module.path}`" in generated
    routes = architecture.routes()
    assert {"api:project-next", "api:assignment-submit", "home", "audit"} <= {r.name for r in routes}
    assert all(r.module.split(".", 1)[0] in (*architecture.APPS, "config") for r in routes)
    assert {name for name, *_ in architecture.tasks()} >= {"routing.dispatch", "audit.seal", "projects.import_run"}


def test_the_generated_part_replaces_only_itself():
    before = f"# Title\n\nhand-written\n\n{architecture.BEGIN}\nold\n{architecture.END}\n\ntail\n"
    after = architecture.document_with(f"{architecture.BEGIN}\nnew\n{architecture.END}\n", before)
    assert after == f"# Title\n\nhand-written\n\n{architecture.BEGIN}\nnew\n{architecture.END}\n\ntail\n"
