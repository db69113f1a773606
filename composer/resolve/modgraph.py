"""The module dependency graph: what a request reaches, and the load order, as depmod
and kmod order it.

Hard dependencies always come first; a soft one (`softdep=` `pre:`/`post:`) is placed
where it does not contradict them, and dropped where it would. A cycle among hard
dependencies is an error: the kernel cannot load such modules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from composer.errors import ResolveError
from composer.resolve.modinfo import ModInfo


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A soft dependency or firmware file that was asked for and is not there."""

    name: str
    wanted_by: tuple[str, ...]


class ModuleSource(Protocol):
    """What the graph asks of a module index (`composer.resolve.modules.ModuleIndex`)."""

    @property
    def directory(self) -> Path: ...

    @property
    def modules(self) -> Mapping[str, object]: ...

    @property
    def builtin(self) -> frozenset[str]: ...

    @property
    def builtin_aliases(self) -> Mapping[str, str]: ...

    def depends(self, name: str) -> tuple[str, ...]: ...

    def modinfo(self, name: str) -> ModInfo: ...

    def providers(self, alias: str) -> tuple[str, ...]: ...

@dataclass
class Graph:
    """The modules a request reaches, and what must come before what."""

    nodes: list[str]  # in discovery order: requested first
    hard: dict[str, list[str]]  # module -> modules it needs loaded first
    soft: list[tuple[str, str]]  # (first, then) from softdep pre:/post:
    soft_missing: list[Unresolved]
    via: dict[str, str] = field(default_factory=dict)  # module -> what first reached it


def close_over(index: ModuleSource, roots: list[str], softdeps: bool) -> Graph:
    graph = Graph(list(roots), {}, [], [])
    seen = set(roots)
    broken: list[str] = []
    missing_soft: dict[str, list[str]] = {}

    def reach(name: str, by: str) -> None:
        if name not in seen:
            seen.add(name)
            graph.nodes.append(name)
            graph.via[name] = by

    for name in graph.nodes:  # grows while we walk it
        graph.hard[name] = []
        for dep in index.depends(name):
            if dep in index.modules:
                graph.hard[name].append(dep)
                reach(dep, name)
            elif dep not in index.builtin:
                broken.append(f"{name} needs {dep}")
        if not softdeps:
            continue
        info = index.modinfo(name)
        for wanted, pre in ((info.softdep_pre, True), (info.softdep_post, False)):
            for soft_name in wanted:
                targets = soft_targets(index, soft_name)
                if targets is None:
                    missing_soft.setdefault(soft_name, []).append(name)
                for target in targets or ():
                    reach(target, name)
                    graph.soft.append((target, name) if pre else (name, target))
    if broken:
        raise ResolveError(
            f"kernel module dependencies missing from {index.directory}: {'; '.join(broken)}",
            hint="the modules tree is incomplete; install the package that ships them",
        )
    graph.soft_missing = [Unresolved(n, tuple(users)) for n, users in missing_soft.items()]
    return graph


def soft_targets(index: ModuleSource, name: str) -> tuple[str, ...] | None:
    """Modules a softdep name stands for; () if built in, None if nothing matches."""
    if name in index.modules:
        return (name,)
    if name in index.builtin or name in index.builtin_aliases:
        return ()
    return index.providers(name) or None


def order_modules(graph: Graph) -> list[str]:
    """Load order: hard dependencies always first, soft ones where they fit."""
    post_order(graph.nodes, graph.hard)  # a hard cycle is an error, whatever softdeps say
    edges = {name: list(deps) for name, deps in graph.hard.items()}
    for first, then in graph.soft:
        if first != then and not reaches(edges, first, then):
            edges[then].append(first)
    return post_order(graph.nodes, edges)


def post_order(nodes: Sequence[str], edges: Mapping[str, Sequence[str]]) -> list[str]:
    """Each node after the nodes its edges point to; iterative, so long chains are fine."""
    state: dict[str, bool] = {}  # False: on the current path, True: placed
    order: list[str] = []
    for start in nodes:
        if start in state:
            continue
        state[start] = False
        stack = [(start, iter(edges.get(start, ())))]
        while stack:
            node, pending = stack[-1]
            for nxt in pending:
                if nxt not in state:
                    state[nxt] = False
                    stack.append((nxt, iter(edges.get(nxt, ()))))
                    break
                if state[nxt] is False:
                    path = [n for n, _ in stack]
                    cycle = " -> ".join([*path[path.index(nxt):], nxt])
                    raise ResolveError(
                        f"kernel modules depend on each other in a cycle: {cycle}",
                        hint="the kernel cannot load such modules; the modules tree or its "
                        "modules.dep is broken",
                    )
            else:
                stack.pop()
                state[node] = True
                order.append(node)
    return order


def reaches(edges: Mapping[str, Sequence[str]], start: str, goal: str) -> bool:
    seen = {start}
    stack = [start]
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def transitive(order: Sequence[str], hard: Mapping[str, Sequence[str]]) -> dict[str, set[str]]:
    """Every module's dependencies, direct or not; `order` must have deps first."""
    closure: dict[str, set[str]] = {}
    for name in order:
        reached = closure[name] = set()
        for dep in hard.get(name, ()):
            reached.add(dep)
            reached |= closure[dep]
    return closure
