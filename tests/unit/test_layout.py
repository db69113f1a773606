"""The code's layout, held to the developers' guide: no module over 400 lines, and
imports that run one way (no module reaches itself through the modules it imports)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "composer"
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The composer modules `path` imports, wherever the import stands (a function-level
    import is still a dependency); `from package import module` counts as the module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in known:
                found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if f"{node.module}.{alias.name}" in known)
    found.discard(module_name(path))
    return found


def cycle_through(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    """A path start -> ... -> start, if there is one (depth first, iterative)."""
    stack = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(graph[node]):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_the_package_is_found_and_counted() -> None:
    found = modules()
    assert "composer.build.pipeline" in found and "composer.cli" in found and len(found) > 40


def test_no_module_is_over_400_lines() -> None:
    too_long = {name: lines for name, path in modules().items()
                if (lines := len(path.read_text().splitlines())) > MAX_LINES}
    assert too_long == {}, f"split these by concern (limit {MAX_LINES} lines): {too_long}"


def test_imports_run_one_way() -> None:
    known = modules()
    graph = {name: imports(path, known) for name, path in known.items()}
    cycles = [cycle for name in sorted(graph) if (cycle := cycle_through(name, graph))]
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycle_through("a", graph) == ["a", "b", "c", "a"]
    assert cycle_through("d", graph) is None
