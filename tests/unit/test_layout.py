"""The code's layout, held to the developers' guide and to docs/architecture.md: no module
over 400 lines, imports that run one way (no cycles), and no import of a higher layer of
the layer table in docs/architecture.md (the one list; this test reads it from there)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "composer"
ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"
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


def documented_layers(text: str) -> list[tuple[str, list[str]]]:
    """The layer table of docs/architecture.md, top first: (layer, its names), each name a
    package or module under composer/ (`composer` itself is the package's __init__)."""
    block = text.split("<!-- layers: begin", 1)[1].split("<!-- layers: end -->", 1)[0]
    layers = []
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[0] in ("layer", "") or set(cells[0]) <= {"-"}:
            continue
        layers.append((cells[0], re.findall(r"`([\w.]+)`", cells[1])))
    return layers


def layer_of(module: str, layers: list[tuple[str, list[str]]]) -> int | None:
    """The index of the layer holding `module` (by its longest listed prefix)."""
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for index, (_, names) in enumerate(layers):
        for name in names:
            full = "composer" if name == "composer" else f"composer.{name}"
            inside = module == full or (name != "composer" and module.startswith(full + "."))
            if inside and (best is None or len(full) > best[0]):
                best = (len(full), index)
    return None if best is None else best[1]


def upward_imports(graph: dict[str, set[str]], layers: list[tuple[str, list[str]]]
                   ) -> list[str]:
    """Every import of a module of a higher layer, as 'a (layer) imports b (layer)'."""
    found = []
    for module in sorted(graph):
        here = layer_of(module, layers)
        for target in sorted(graph[module]):
            there = layer_of(target, layers)
            if here is not None and there is not None and there < here:
                found.append(f"{module} ({layers[here][0]}) imports {target} "
                             f"({layers[there][0]})")
    return found


LAYERS = documented_layers(ARCHITECTURE.read_text())


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


def test_the_layer_table_is_read_from_the_architecture_doc() -> None:
    names = [name for _, layer in LAYERS for name in layer]
    assert LAYERS[0][1] == ["__main__", "cli"] and "errors" in LAYERS[-1][1]
    assert len(names) == len(set(names)), "a name in two layers"


def test_every_module_is_in_a_documented_layer() -> None:
    unplaced = [name for name in modules() if layer_of(name, LAYERS) is None]
    assert unplaced == [], ("add these to the layer table of docs/architecture.md: "
                            f"{unplaced}")


def test_no_module_imports_a_higher_layer() -> None:
    known = modules()
    graph = {name: imports(path, known) for name, path in known.items()}
    upward = upward_imports(graph, LAYERS)
    assert upward == [], "imports against docs/architecture.md's layers: " + "; ".join(upward)


def test_the_layer_check_finds_an_upward_import() -> None:
    layers = documented_layers("<!-- layers: begin -->\n| layer | names |\n|---|---|\n"
                               "| top | `cli` |\n| middle | `recipe`, `render` |\n"
                               "| ground | `errors` |\n<!-- layers: end -->\n")
    graph = {"composer.cli.build": {"composer.recipe.loader"},
             "composer.recipe.loader": {"composer.errors", "composer.render.jinja"},
             "composer.errors": {"composer.recipe.model"}}
    assert upward_imports(graph, layers) == [
        "composer.errors (ground) imports composer.recipe.model (middle)"]
