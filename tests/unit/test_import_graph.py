"""The data flows one way: scenario -> harness -> runner -> chain, with no loops.

Every import counts, at module level, inside functions and under TYPE_CHECKING: a
lazy import that closes a loop is still a two-way dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (anywhere in its body)."""
    files = {module_name(p, root): p for pkg in packages for p in (root / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            for t in targets:
                while t and t not in files:
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    graph[mod].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


class TestImportGraph:
    def test_harness_has_no_import_cycle(self) -> None:
        """No set of harness modules imports each other round in a loop."""
        assert cycles(import_graph(ROOT, ["harness"])) == []

    def test_runner_never_imports_the_harness(self) -> None:
        """The runner is what a live deployment runs: it cannot depend on the test harness."""
        graph = import_graph(ROOT, ["runner", "harness"])
        leaks = sorted(f"{m} -> {t}" for m, ts in graph.items() if m.startswith("runner") for t in ts
                       if t.startswith("harness"))
        assert leaks == []

    def test_the_checker_sees_a_lazy_cycle(self, tmp_path: Path) -> None:
        """A loop closed by an import inside a function is found (the checker can fail)."""
        pkg = tmp_path / "pkg"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        (pkg / "a.py").write_text("from pkg import b\n")
        (pkg / "b.py").write_text("def f():\n    from pkg.a import x\n")
        (pkg / "c.py").write_text("from . import a\n")
        assert cycles(import_graph(tmp_path, ["pkg"])) == [["pkg.a", "pkg.b"]]
