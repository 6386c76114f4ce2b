"""The layers of bedwatch import only downwards, and no module imports itself in a circle.

    bedwatch (wire, kinds, config files, connections)   the lowest layer; the CLI is its own top
      ├── edge        the agent in the home
      └── hub         the central service
    firmware_sim, rig  simulators and the local test site: may use everything, used by nothing
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"bedwatch": REPO / "bedwatch", "edge": REPO / "edge", "hub": REPO / "hub",
            "firmware_sim": REPO / "firmware-sim", "rig": REPO / "rig"}
# What each package may import of the others.
ALLOWED = {
    "bedwatch": set(),
    "edge": {"bedwatch"},
    "hub": {"bedwatch"},
    "firmware_sim": {"bedwatch", "edge"},
    "rig": {"bedwatch", "edge", "hub", "firmware_sim"},
}
# The console script dispatches to every part, importing each inside its own command.
TOP_MODULES = {"bedwatch.cli", "bedwatch.__main__"}


def _module_name(package: str, path: Path) -> str:
    parts = list(path.relative_to(PACKAGES[package]).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def _imports(path: Path, module: str) -> list[tuple[str, bool]]:
    """Return (imported module, at module level) for each import outside TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, bool]] = []
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    top_level = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                if not path.name == "__init__.py":
                    anchor = anchor[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((base, id(node) in top_level))
            # `from package import module` imports that module too.
            found += [(f"{base}.{alias.name}", id(node) in top_level) for alias in node.names]
    return found


def _graph() -> dict[str, list[tuple[str, bool]]]:
    graph: dict[str, list[tuple[str, bool]]] = {}
    for package, root in PACKAGES.items():
        if not root.exists():
            continue
        for path in sorted(root.rglob("*.py")):
            module = _module_name(package, path)
            graph[module] = _imports(path, module)
    return graph


def test_no_package_imports_upwards() -> None:
    graph = _graph()
    wrong = []
    for module, imports in graph.items():
        package = module.split(".")[0]
        if module in TOP_MODULES:
            continue
        for target, _ in imports:
            other = target.split(".")[0]
            if other in PACKAGES and other != package and other not in ALLOWED[package]:
                wrong.append(f"{module} imports {target}")
    assert sorted(set(wrong)) == []


def test_no_import_circles_between_modules() -> None:
    graph = _graph()
    known = set(graph)
    edges: dict[str, set[str]] = defaultdict(set)
    for module, imports in graph.items():
        for target, _ in imports:
            # Resolve `from pkg import name` to the module it names, if it is one.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != module and not module.startswith(target + "."):
                edges[module].add(target)
    # Tarjan's strongly connected components: any component of two or more is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(known):
        if node not in index:
            visit(node)
    assert circles == []


def test_the_layer_check_sees_a_violation() -> None:
    # The walk itself must find imports, relative ones included, or the checks above prove nothing.
    graph = _graph()
    assert ("bedwatch.wire", True) in graph["hub.ingest"]
    assert any(t.startswith("bedwatch.kinds") for t, _ in graph["bedwatch.wire"])
