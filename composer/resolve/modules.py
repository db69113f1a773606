"""Kernel modules for the image, resolved from `/lib/modules/<release>` of a sysroot.

`ModuleIndex.load()` lists every module of one release (`.ko`, `.ko.xz`, `.ko.zst`,
`.ko.gz`), keyed by its name in underscore form (`virtio-net` and `virtio_net` are one
module, as for the kernel and kmod). `select()` closes a request over dependencies and
returns a `ModuleSelection`: the modules in load order, the firmware they ask for, and
a `modules.dep` for exactly that subset.

Decisions (each is what a user of the image would expect to happen at boot):
- Dependencies come from `modules.dep` when the sysroot has one, else from each module's
  `.modinfo depends=`: Debian installs modules without modules.dep (depmod runs at
  package install time), so a sysroot unpacked with dpkg-deb has none.
- `softdep=` `pre:` modules are loaded before the module and `post:` modules after it;
  both are included, since the driver's author asked for them to be present. A softdep
  may name an alias (ext4's `pre: crc32c`); names that match no module, no exact alias
  and nothing built in are returned in `softdeps_missing`, not raised. A soft ordering
  that would contradict the hard dependencies is dropped.
- A cycle among hard dependencies is an error: the kernel cannot load such modules.
- Firmware is looked up where the kernel's loader looks (`/lib/firmware/updates/
  <release>`, `/lib/firmware/updates`, `/lib/firmware/<release>`, `/lib/firmware`;
  plain first, then `.zst`, then `.xz`). Missing firmware is a result, not an error:
  many drivers list firmware for hardware variants nobody has.
- The generated `modules.dep` is what depmod writes: one line per module, each line
  listing the *transitive* dependencies with the ones to load first at the *end*.
  busybox modprobe (full, not modprobe-small: that is what Debian's busybox-static is)
  reads only the requested module's line and loads it right to left. It ignores
  softdeps, so `/init` should load `load_order()` rather than rely on modprobe for them.
- Patterns select by path under `kernel/` (see `glob_regex`).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path

from composer.cache.index import CacheDirectory, FileCache, code_version, identity
from composer.errors import InputError, ResolveError
from composer.manifest import Entry, Kind
from composer.resolve import elfsection, modfile
from composer.resolve import modinfo as modinfo_format
from composer.resolve.depmod import (
    is_pattern,
    parse_builtin,
    parse_builtin_aliases,
    parse_modules_dep,
)
from composer.resolve.firmware import Firmware, find_firmware
from composer.resolve.modfile import canonical_name
from composer.resolve.modgraph import Unresolved, close_over, order_modules, transitive
from composer.resolve.modinfo import ModInfo, read_modinfo
from composer.resolve.modtree import (
    MODULES_DIR,
    Module,
    choose,
    glob_regex,
    in_sysroot,
    names_of,
    only_release,
    releases,
    scan_cached,
)
from composer.resolve.sysroot import Sysroot

__all__ = ["Firmware", "ModuleIndex", "ModuleSelection", "Unresolved", "glob_regex"]


class ModuleIndex:
    """The modules of one kernel release inside a sysroot."""

    def __init__(
        self,
        sysroot: Sysroot,
        release: str,
        directory: Path,
        modules: dict[str, Module],
        listed_deps: dict[str, tuple[str, ...]] | None = None,
        builtin: frozenset[str] = frozenset(),
        builtin_aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.sysroot = sysroot
        self.release = release
        self.directory = directory  # host path of /lib/modules/<release>
        self.modules = modules
        self.listed_deps = listed_deps  # from modules.dep; None: use .modinfo
        self.builtin = builtin
        self.builtin_aliases = dict(builtin_aliases or {})
        self._modinfo: dict[str, ModInfo] = {}
        self._aliases: dict[str, tuple[str, ...]] | None = None
        # One cache file per directory of modules: a build that needs three modules
        # reads three small files, not the answers for the whole tree.
        self._caches: dict[str, FileCache] = {}
        self._code = code_version(modinfo_format.__file__, elfsection.__file__, modfile.__file__)
        self._cache_directory = CacheDirectory()

    @classmethod
    def load(cls, sysroot: Sysroot | Path, release: str | None = None) -> ModuleIndex:
        """The modules of `release`, or of the only release the sysroot has."""
        sysroot = sysroot if isinstance(sysroot, Sysroot) else Sysroot(sysroot)
        if release is not None and (not release or "/" in release or release in (".", "..")):
            raise InputError(f"kernel release {release!r} is not a directory name",
                             hint="a release looks like `uname -r`: 6.1.0-50-s390x")
        release = release or only_release(sysroot)
        found = sysroot.lookup(f"{MODULES_DIR}/{release}", strict=False)
        if not found.is_dir:
            others = releases(sysroot)
            raise ResolveError(
                f"no kernel modules for release {release}: {sysroot.root}{MODULES_DIR}/"
                f"{release} does not exist",
                hint=f"releases there: {', '.join(others)}" if others
                else f"{sysroot.root}{MODULES_DIR} has no module directory at all",
            )
        directory = sysroot.host(found.canonical)
        dep_file = directory / "modules.dep"
        listed = None
        if dep_file.is_file():
            text = dep_file.read_text("utf-8", "replace")
            listed = parse_modules_dep(text, f"{MODULES_DIR}/{release}")
        builtin_file = directory / "modules.builtin"
        builtin = parse_builtin(builtin_file.read_text()) if builtin_file.is_file() else frozenset()
        info_file = directory / "modules.builtin.modinfo"
        aliases = parse_builtin_aliases(info_file.read_bytes()) if info_file.is_file() else {}
        files = [
            (relpath, source, name, compression)
            for relpath, path, name, compression, link in scan_cached(directory)
            if (source := path if not link else
                in_sysroot(sysroot, f"{found.canonical}/{relpath}"))
        ]
        return cls(sysroot, release, directory, choose(files, listed),
                   names_of(listed), builtin, aliases)

    def __len__(self) -> int:
        return len(self.modules)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonical_name(name) in self.modules

    def find(self, name: str) -> Module:
        module = self.modules.get(canonical_name(name))
        if module is None:
            raise self.missing_error([name])
        return module

    def modinfo(self, name: str) -> ModInfo:
        info = self._modinfo.get(name)
        if info is None:
            info = self._modinfo[name] = self._read_modinfo(self.modules[name])
        return info

    def _read_modinfo(self, module: Module) -> ModInfo:
        """From the cache while the file is the one read before (see composer.cache.index)."""
        try:
            key = identity(os.stat(module.host))
        except OSError:
            return read_modinfo(module.source, module.compression)  # which says what is wrong
        scope = module.host.rpartition("/")[0]  # its directory (host paths are absolute)
        cache = self._caches.get(scope)
        if cache is None:
            cache = self._caches[scope] = FileCache("modinfo", scope, self._code,
                                                     self._cache_directory)
        info = ModInfo.from_tuple(cache.get(module.host, key))
        if info is None:
            info = read_modinfo(module.source, module.compression)
            cache.put(module.host, key, info.as_tuple())
        return info

    def depends(self, name: str) -> tuple[str, ...]:
        """Hard dependencies: as modules.dep lists them (transitive), else `depends=`."""
        if self.listed_deps is not None and name in self.listed_deps:
            return self.listed_deps[name]
        return self.modinfo(name).depends

    def providers(self, alias: str) -> tuple[str, ...]:
        """Modules declaring exactly this alias (no wildcard matching)."""
        if self._aliases is None:
            table: dict[str, list[str]] = {}
            for name in sorted(self.modules):
                for value in self.modinfo(name).aliases:
                    if not is_pattern(value):
                        table.setdefault(canonical_name(value), []).append(name)
            self._aliases = {key: tuple(value) for key, value in table.items()}
        return self._aliases.get(canonical_name(alias), ())

    def match(self, pattern: str) -> list[Module]:
        """Modules whose path matches `pattern` (see glob_regex), sorted by path."""
        fullmatch = glob_regex(pattern.strip("/")).fullmatch
        found = [
            m for m in self.modules.values()
            if fullmatch(tree := m.tree_path) or fullmatch(tree[:-3]) or fullmatch(m.relpath)
        ]
        if not found:
            raise self.pattern_error(pattern)
        return sorted(found, key=lambda m: m.relpath)

    def select(
        self,
        names: Iterable[str] = (),
        patterns: Iterable[str] = (),
        all_: bool = False,
        softdeps: bool = True,
    ) -> ModuleSelection:
        """Close the request over dependencies; see the module docstring for the rules.

        A name may be a module (`virtio_net`, `virtio-net`), a module built into the
        kernel (satisfied, listed in `.builtin`) or an exact alias (`crc32c`: every module
        declaring it). Patterns and all_ add to the names; duplicates are harmless.
        """
        names = list(names)
        roots: list[str] = []
        builtin: list[str] = []
        missing = []
        for raw in names:
            name = canonical_name(raw)
            if name in self.modules:
                roots.append(name)
            elif name in self.builtin or name in self.builtin_aliases:
                builtin.append(name)
            elif providers := self.providers(name):  # an alias, as `modprobe crc32c` takes
                roots.extend(providers)
            else:
                missing.append(raw)
        if missing:
            raise self.missing_error(missing)
        for pattern in patterns:
            roots.extend(m.name for m in self.match(pattern))
        if all_:
            roots.extend(m.name for m in sorted(self.modules.values(), key=lambda m: m.relpath))
        graph = close_over(self, list(dict.fromkeys(roots)), softdeps)
        order = order_modules(graph)
        self.check_vermagic(order)
        for cache in self._caches.values():
            cache.save()
        selection = ModuleSelection(self, [self.modules[n] for n in order], graph.hard,
                                    tuple(names), tuple(dict.fromkeys(builtin)),
                                    tuple(graph.soft_missing))
        selection.via = dict(graph.via)
        return selection

    def check_vermagic(self, names: Sequence[str]) -> None:
        wrong = [(n, r) for n in names if (r := self.modinfo(n).release) and r != self.release]
        if wrong:
            listed = ", ".join(f"{n} ({r})" for n, r in wrong[:5])
            raise ResolveError(
                f"{len(wrong)} module(s) in {self.directory} were built for another kernel "
                f"release than {self.release}: {listed}",
                hint="the kernel would refuse them; use the modules of the same kernel build",
            )

    def missing_error(self, names: Sequence[str]) -> ResolveError:
        parts = []
        for name in names:
            near = difflib.get_close_matches(canonical_name(name), list(self.modules), n=3)
            parts.append(f"'{name}'" + (f" (nearest: {', '.join(near)})" if near else ""))
        what = "kernel module" if len(names) == 1 else "kernel modules"
        return ResolveError(
            f"{what} {'; '.join(parts)} not found in {self.directory} "
            f"({len(self.modules)} modules there"
            f"{', and not built into the kernel per modules.builtin' if self.builtin else ''})",
            hint="check the name with `find` in that directory, or pick the right kernel release",
        )

    def pattern_error(self, pattern: str) -> ResolveError:
        literal = re.split(r"[*?\[]", pattern.strip("/"), maxsplit=1)[0].rstrip("/")
        dirs = {os.path.dirname(m.tree_path) for m in self.modules.values()}
        near = difflib.get_close_matches(literal, sorted(dirs), n=3) if literal else []
        return ResolveError(
            f"module pattern '{pattern}' matches no module under {self.directory}/kernel",
            hint=(f"nearest directories: {', '.join(near)}; " if near else "")
            + "'*' stays within one directory, '**' reaches into subdirectories",
        )


class ModuleSelection:
    """The modules an image gets, in load order, and what goes with them."""

    def __init__(
        self,
        index: ModuleIndex,
        modules: list[Module],
        hard: Mapping[str, Sequence[str]],
        requested: tuple[str, ...],
        builtin: tuple[str, ...],
        softdeps_missing: tuple[Unresolved, ...],
    ) -> None:
        self.index = index
        self.release = index.release
        self.modules = tuple(modules)
        self.requested = requested
        self.builtin = builtin  # requested names the kernel has built in
        self.softdeps_missing = softdeps_missing
        self._hard = hard
        self.via: dict[str, str] = {}  # module -> the module whose dependency it is

    def chain(self, name: str) -> tuple[str, ...]:
        """The dependency chain that brought NAME in, from a requested module."""
        chain = [name]
        while chain[-1] in self.via and len(chain) <= len(self.modules):
            chain.append(self.via[chain[-1]])
        return tuple(reversed(chain))

    def load_order(self) -> list[str]:
        """Module names, each after everything it needs: what /init loads, in turn."""
        return [m.name for m in self.modules]

    def image_path(self, module: Module) -> str:
        return f"{MODULES_DIR}/{self.release}/{module.relpath}"

    def dependency_lines(self) -> list[tuple[Module, list[Module]]]:
        """Per module, its transitive hard dependencies, the one to load first last."""
        position = {m.name: i for i, m in enumerate(self.modules)}
        closure = transitive([m.name for m in self.modules], self._hard)
        by_name = {m.name: m for m in self.modules}
        lines = []
        for module in sorted(self.modules, key=lambda m: m.relpath):
            # positions are distinct: reversed order, the one loaded first last
            deps = sorted(closure[module.name], key=position.__getitem__, reverse=True)
            lines.append((module, [by_name[d] for d in deps]))
        return lines

    def modules_dep(self) -> bytes:
        text = "".join(
            f"{m.relpath}:{''.join(' ' + d.relpath for d in deps)}\n"
            for m, deps in self.dependency_lines()
        )
        return text.encode(errors="surrogateescape")

    def modules_alias(self) -> bytes:
        """`alias PATTERN module` lines as depmod writes them; busybox modprobe reads
        them to resolve names such as `virtio:d00000001v*` that are no module name."""
        lines = ["# Aliases extracted from modules themselves.\n"]
        for module in sorted(self.modules, key=lambda m: m.relpath):
            aliases = self.index.modinfo(module.name).aliases
            lines.extend(f"alias {alias} {module.name}\n" for alias in aliases)
        return "".join(lines).encode()

    @cached_property
    def _firmware(self) -> tuple[tuple[Firmware, ...], tuple[Unresolved, ...]]:
        wanted: dict[str, list[str]] = {}
        for module in self.modules:
            for name in self.index.modinfo(module.name).firmware:
                wanted.setdefault(name, []).append(module.name)
        hits = find_firmware(self.index.sysroot, self.release, wanted)
        found: list[Firmware] = []
        missing: list[Unresolved] = []
        for name, users in sorted(wanted.items()):
            if name in hits:
                found.append(Firmware(name, hits[name][0], hits[name][1], tuple(users)))
            else:
                missing.append(Unresolved(name, tuple(users)))
        return tuple(found), tuple(missing)

    @property
    def firmware(self) -> tuple[Firmware, ...]:
        return self._firmware[0]

    @property
    def firmware_missing(self) -> tuple[Unresolved, ...]:
        return self._firmware[1]

    def entries(self, with_firmware: bool = True) -> list[Entry]:
        """Module files, modules.dep/.alias/.builtin for busybox modprobe, and firmware."""
        base = f"{MODULES_DIR}/{self.release}"
        entries = [
            Entry(self.image_path(m), Kind.FILE, source=m.source, origin=f"module {m.name}",
                  why=self.chain(m.name))
            for m in self.modules
        ]
        generated = "generated for the selected modules"
        entries.append(Entry(f"{base}/modules.dep", Kind.FILE,
                             data=self.modules_dep(), origin=generated))
        entries.append(Entry(f"{base}/modules.alias", Kind.FILE,
                             data=self.modules_alias(), origin=generated))
        builtin = self.index.directory / "modules.builtin"
        if builtin.is_file():
            entries.append(Entry(f"{base}/modules.builtin", Kind.FILE, source=builtin,
                                 origin="kernel modules.builtin"))
        if with_firmware:
            entries.extend(
                Entry(f.path, Kind.FILE, source=f.source,
                      origin=f"firmware for {', '.join(f.wanted_by)}")
                for f in self.firmware
            )
        return entries
