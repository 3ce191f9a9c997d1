"""No import circle anywhere in ``mood``: every import counts, those inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import mood

PACKAGE_DIR = Path(mood.__file__).parent


def module_name(path: Path, root: Path = PACKAGE_DIR) -> str:
    """``mood/engine/models/__init__.py`` -> ``mood.engine.models``."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str], root: Path = PACKAGE_DIR) -> set[str]:
    """The package's modules that the file at ``path`` imports, anywhere in it (``from a import b``
    counts as importing ``a.b`` when that is a module, else ``a``)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
    return {m for m in found if m in modules and m != name}


def import_graph(root: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    paths = sorted(root.rglob("*.py"))
    modules = {module_name(p, root) for p in paths}
    return {module_name(p, root): imports_of(p, modules, root) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (``[a, b, ..., a]``), or None."""
    state: dict[str, str] = {}  # "open" while on the DFS stack, "done" after
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_mood_has_no_import_circle() -> None:
    graph = import_graph()
    assert len(graph) > 40 and graph["mood.training.cli"], "the walk found too little: this test checks nothing"
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_a_circle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n")
    (package / "sub" / "b.py").write_text("def late():\n    from .. import c\n")
    (package / "c.py").write_text("import pkg.a\n")
    graph = import_graph(package)
    assert graph["pkg.sub.b"] == {"pkg.c"}
    assert find_cycle(graph) == ["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]
    (package / "c.py").write_text("import os\n")
    assert find_cycle(import_graph(package)) is None


# The wings' one-way rule (docs/DESIGN.md, "Layout"): a wing never imports those listed for it.
FORBIDDEN_ARROWS = {
    "mood.engine": ("mood.batch", "mood.service", "mood.presentation", "mood.training", "mood.cli", "mood.sources"),
    "mood.batch": ("mood.service", "mood.presentation", "mood.training"),
    "mood.sources": ("mood.batch", "mood.service", "mood.presentation", "mood.training"),
    "mood.presentation": ("mood.training", "mood.cli"),
    "mood.service": ("mood.batch", "mood.training", "mood.cli"),
}


def _in(module: str, wing: str) -> bool:
    return module == wing or module.startswith(wing + ".")


def arrows_against_the_rule(graph: dict[str, set[str]]) -> list[str]:
    """``a -> b`` for every import of a wing into one it must not reach."""
    return [
        f"{module} -> {imported}"
        for module, imports in sorted(graph.items())
        for wing, forbidden in FORBIDDEN_ARROWS.items()
        if _in(module, wing)
        for imported in sorted(imports)
        if any(_in(imported, other) for other in forbidden)
    ]


def test_the_wings_import_one_way_and_nothing_in_mood_imports_the_app() -> None:
    graph = import_graph()
    assert arrows_against_the_rule(graph) == []
    for path in PACKAGE_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {m for m in imported if m.split(".")[0] in ("streamlit", "webapp")}, path


def test_an_arrow_against_the_rule_is_found() -> None:
    graph = {"mood.engine.inference": {"mood.presentation.report"}, "mood.batch.run": {"mood.engine.features"}}
    assert arrows_against_the_rule(graph) == ["mood.engine.inference -> mood.presentation.report"]
