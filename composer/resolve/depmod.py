"""The files depmod writes beside the modules, read: `modules.dep`, `modules.builtin`
and `modules.builtin.modinfo`. (Writing `modules.dep` for a selection is
`composer.resolve.modules.ModuleSelection.modules_dep`.)"""

from __future__ import annotations

from composer.resolve.modfile import canonical_name, split_module_name


def parse_modules_dep(text: str, release_dir: str) -> dict[str, tuple[str, ...]]:
    """`modules.dep` -> {relpath: (dependency relpaths...)}.

    Paths are relative to /lib/modules/<release>; very old depmods wrote them absolute,
    which kmod still accepts, so that prefix is stripped. Comments and blank lines are
    skipped like busybox and kmod skip them.
    """
    prefix = release_dir.rstrip("/") + "/"
    deps: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        head, sep, tail = line.partition(":")
        head = head.strip()
        if not sep or not head or head.startswith("#"):
            continue
        deps[head.removeprefix(prefix)] = tuple(d.removeprefix(prefix) for d in tail.split())
    return deps


def parse_builtin(text: str) -> frozenset[str]:
    """`modules.builtin` (one `kernel/path/name.ko` a line) -> canonical module names."""
    names = set()
    for line in text.split():
        found = split_module_name(line.rsplit("/", 1)[-1])
        if found:
            names.add(found[0])
    return frozenset(names)


def parse_builtin_aliases(data: bytes) -> dict[str, str]:
    """`modules.builtin.modinfo` (`name.key=value` NUL-separated) -> {alias: module}.

    Only exact aliases (no wildcards) are kept: they are what softdep= names refer to,
    e.g. ext4's `softdep=pre: crc32c` is satisfied by a built-in crc32c_generic.
    """
    aliases: dict[str, str] = {}
    for raw in data.split(b"\0"):
        head, sep, value = raw.decode("utf-8", "replace").partition("=")
        module, dot, key = head.partition(".")
        if sep and dot and key == "alias" and not is_pattern(value):
            aliases.setdefault(canonical_name(value), canonical_name(module))
    return aliases


def is_pattern(alias: str) -> bool:
    return "*" in alias or "?" in alias or "[" in alias
