"""Can this image boot? The rules the kernel and ld.so apply, checked before anyone boots it.

A recipe that replaces busybox's applet list loses /bin/sh; the kernel then finds /init
(`#!/bin/sh`) unrunnable and panics with "No working init found", minutes into a boot.
Every such loss is visible in the archive itself, so the image is read the way the
kernel and the loader will read it:

- `/init` (or the command line's `rdinit=`) exists, through the image's symlinks, and is
  an executable file (init/main.c: run_init_process of ramdisk_execute_command). An
  initramfs without one is only allowed where the kernel could still boot: a boot image
  whose command line has `root=` (init/do_mounts.c mounts it instead), or an initramfs
  written alone, which may be a supplement the boot loader loads after another one
  (firmware, modules, microcode: the kernel unpacks every one into the same rootfs);
- the `#!` interpreter of every executable script and the PT_INTERP of every
  executable ELF exist (fs/binfmt_script.c, fs/binfmt_elf.c), nested interpreters too;
- every DT_NEEDED of an executable and of the libraries it pulls in is found along
  ld.so's search: RPATH (of the object and its loaders, without RUNPATH), RUNPATH, the
  multiarch, lib64 and default directories (`composer.resolve.binaries`' own order);
- every module's dependencies (modules.dep of its release, else the module's own
  `.modinfo depends=`) are in the image;
- the command links in /bin, /sbin, /usr/bin and /usr/sbin lead somewhere.

The rules are pure functions over an `ImageTree` (entries by path, and the facts of a
file read on demand); `composer.read.imagetree` builds one from a plan or from any archive.
A finding names the missing path and everything that needs it, so that the build can
say which recipe entry removed it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from composer.pathwalk import Held, walk
from composer.resolve.elf import ET_DYN, ElfInfo
from composer.resolve.ldpath import default_library_dirs, expand_tokens
from composer.resolve.modfile import canonical_name, split_module_name

COMMAND_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin")
MODULES_DIR = "/lib/modules"
GONE = "is not in the image"


@dataclass(frozen=True)
class Node:
    """One entry of the image as the check sees it; `origin` is where it came from
    (a recipe location for a built image, empty for a foreign one)."""

    path: str
    kind: str  # composer.cpio.Kind's values: file, dir, symlink, char, block, fifo, socket
    mode: int = 0
    target: str | None = None
    origin: str = ""

    @property
    def executable(self) -> bool:
        return self.kind == "file" and bool(self.mode & 0o111)


@dataclass(frozen=True)
class FileFacts:
    """What a file's bytes say about running it: its `#!` interpreter (the program
    word of the line), or its ELF headers; `problem` when the headers are unreadable."""

    script: str | None = None
    elf: ElfInfo | None = None
    problem: str = ""
    modinfo_depends: tuple[str, ...] | None = None  # a module's .modinfo, when read
    text: str | None = None  # small text files the rules read (modules.dep)


NO_FACTS = FileFacts()


@dataclass
class ImageTree:
    """The image's entries by normalised path, and a reader of a file's facts."""

    nodes: dict[str, Node]
    read_facts: Callable[[Node], FileFacts]
    rdinit: str = "/init"
    needs_init: bool = True  # False: an initramfs that may supplement another one
    _facts: dict[str, FileFacts] = field(default_factory=dict)
    _dirs: dict[str, str | None] = field(default_factory=dict)

    def facts(self, node: Node) -> FileFacts:
        found = self._facts.get(node.path)
        if found is None:
            found = self._facts[node.path] = self.read_facts(node)
        return found

    def resolve(self, path: str) -> Node | None:
        """The entry `path` finally names, every symlink followed inside the image (an
        absolute target starts again at the image root, `..` stops there); None if a
        component is missing or the links loop."""
        parent, _, name = path.rpartition("/")
        if name not in ("", ".", ".."):
            # Most paths asked (every module modules.dep names) share a few directories:
            # walk each directory once, then look the last name up in it.
            directory = self._directory(parent or "/")
            node = None if directory is None else self.nodes.get(f"{directory}/{name}")
            if node is None or node.kind != "symlink" or not node.target:
                return node
        end = self._walk(path)
        return None if end is None else end[1]

    def _directory(self, path: str) -> str | None:
        """The canonical path (without a trailing /) of the directory `path` names,
        None if it names nothing or no directory; remembered."""
        if path not in self._dirs:
            end = self._walk(path)
            self._dirs[path] = end[0].rstrip("/") if end and end[1].kind == "dir" else None
        return self._dirs[path]

    def _walk(self, path: str) -> tuple[str, Node] | None:
        """Where the whole walk of `path` ends: its canonical path and the entry there
        (the root has none of its own); None if a component is missing or links loop."""
        walked = walk(path, self._held)
        if walked.stop:
            return None
        return walked.path, self.nodes.get(walked.path) or Node("/", "dir")

    def _held(self, path: str) -> Held[Node] | None:
        node = self.nodes.get(path)
        if node is None:
            return None
        target = node.target if node.kind == "symlink" and node.target else None
        return Held(node, target, node.kind == "dir")


@dataclass(frozen=True)
class Finding:
    """A path the boot needs and the image lacks (or has unusable), and who needs it."""

    rule: str  # init, interpreter, library, module, link
    missing: str
    needed_by: tuple[str, ...]  # descriptions: "/init (#!/bin/sh)"
    needer_origins: tuple[str, ...] = ()  # the origins of those entries, in order
    state: str = "is not in the image"  # GONE

    @property
    def need(self) -> str:
        """"/init (#!/bin/sh) needs it": who would fail without the path."""
        verb = "needs" if len(self.needed_by) == 1 else "need"
        return f"{_join(self.needed_by)} {verb} it"

    @property
    def message(self) -> str:
        return f"{self.missing} {self.state} and {self.need}"

    def json(self) -> dict[str, object]:
        return {"rule": self.rule, "path": self.missing, "state": self.state,
                "needed_by": list(self.needed_by), "message": self.message}


def _join(items: tuple[str, ...], limit: int = 4) -> str:
    shown = list(items[:limit])
    if len(items) > limit:
        shown.append(f"{len(items) - limit} more")
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


class _Collector:
    """Findings grouped by (rule, missing path), needers in the order met."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, str], tuple[list[str], list[str], str]] = {}

    def add(self, rule: str, missing: str, needer: str, origin: str,
            state: str = "is not in the image") -> None:
        needers, origins, _ = self.found.setdefault((rule, missing), ([], [], state))
        if needer not in needers:
            needers.append(needer)
            origins.append(origin)

    def findings(self) -> list[Finding]:
        return [Finding(rule, missing, tuple(needers), tuple(origins), state)
                for (rule, missing), (needers, origins, state) in self.found.items()]


def check_image(tree: ImageTree) -> list[Finding]:
    """Every finding of every rule; empty when the image can boot as far as its own
    contents go."""
    out = _Collector()
    check_init(tree, out)
    for node in list(tree.nodes.values()):
        if node.executable:
            check_program(tree, node, out)
    check_modules(tree, out)
    check_command_links(tree, out)
    return out.findings()


def check_init(tree: ImageTree, out: _Collector) -> None:
    init = tree.rdinit
    why = "the kernel (rdinit=)" if init != "/init" else "the kernel"
    node = tree.resolve(init)
    if node is None and not tree.needs_init and init not in tree.nodes:
        return
    if node is None:
        link = tree.nodes.get(init)
        state = f"is a symlink to {link.target} that leads nowhere" \
            if link is not None and link.kind == "symlink" else "is not in the image"
        out.add("init", init, why, "", state)
    elif node.kind != "file":
        out.add("init", init, why, node.origin, f"is a {node.kind}, not a program")
    elif not node.executable:
        out.add("init", init, why, node.origin,
                f"is not executable (mode {node.mode & 0o7777:04o})")
    else:  # first, so that /init leads the list of what needs a missing path
        check_program(tree, node, out)


def check_program(tree: ImageTree, node: Node, out: _Collector) -> None:
    """One executable's interpreter chain and libraries."""
    facts = tree.facts(node)
    if facts.script is not None:
        interpreter = facts.script
        found = tree.resolve(interpreter)
        who = f"{node.path} (#!{interpreter})"
        if found is None:
            out.add("interpreter", interpreter, who, node.origin)
        elif not found.executable:  # an executable one is checked in its own turn
            out.add("interpreter", interpreter, who, node.origin,
                    "is not an executable file")
        return
    elf = facts.elf
    if elf is None:
        return
    if elf.interp is not None:
        loader = tree.resolve(elf.interp)
        if loader is None or loader.kind != "file":
            out.add("interpreter", elf.interp, f"{node.path} (its ELF interpreter)",
                    node.origin)
    check_libraries(tree, node, elf, out)


@dataclass(frozen=True)
class _Loaded:
    path: str  # as found (the directory is $ORIGIN for a library)
    elf: ElfInfo
    loader: _Loaded | None


def check_libraries(tree: ImageTree, program: Node, elf: ElfInfo, out: _Collector) -> None:
    """DT_NEEDED breadth-first from `program`, as ld.so loads them; a library missing
    is reported once per program that needs it, with the object that names it."""
    loaded: set[str] = set()
    queue = [_Loaded(program.path, elf, None)]
    while queue:
        obj = queue.pop(0)
        for name in obj.elf.needed:
            if name in loaded:
                continue
            loaded.add(name)
            found = _find_library(tree, name, obj)
            if found is None:
                who = program.path if obj.loader is None else \
                    f"{program.path} (through {obj.path})"
                out.add("library", name, who, program.origin, _library_state(tree, name, obj))
                continue
            path, info = found
            if info.soname:
                loaded.add(info.soname)
            queue.append(_Loaded(path, info, obj))


def _library_state(tree: ImageTree, name: str, obj: _Loaded) -> str:
    dirs = list(search_dirs(obj))
    return f"is in none of {', '.join(dirs[:6])}{', ...' if len(dirs) > 6 else ''}"


def _find_library(tree: ImageTree, name: str, obj: _Loaded) -> tuple[str, ElfInfo] | None:
    candidates = [name if name.startswith("/") else "/" + name] if "/" in name else \
        [f"{d.rstrip('/')}/{name}" for d in search_dirs(obj)]
    for candidate in candidates:
        node = tree.resolve(candidate)
        if node is None or node.kind != "file":
            continue
        info = tree.facts(node).elf
        if info is not None and info.arch == obj.elf.arch and info.type == ET_DYN:
            return candidate, info
    return None


def search_dirs(obj: _Loaded) -> Iterator[str]:
    """ld.so's directories for one object: RPATH of it and its loaders (only while it
    has no RUNPATH), its RUNPATH, then the defaults; $ORIGIN expanded."""
    seen: set[str] = set()
    dirs: list[str] = []
    if obj.elf.runpath is None:
        holder: _Loaded | None = obj
        while holder is not None:
            if holder.elf.runpath is None and holder.elf.rpath:
                dirs += expand_tokens(holder.elf.rpath, posixpath.dirname(holder.path),
                                      holder.elf.arch)
            holder = holder.loader
    else:
        dirs += expand_tokens(obj.elf.runpath, posixpath.dirname(obj.path), obj.elf.arch)
    dirs += default_library_dirs(obj.elf.arch)
    for d in dirs:
        if d not in seen:
            seen.add(d)
            yield d


def check_modules(tree: ImageTree, out: _Collector) -> None:
    """Each module's dependencies, per release directory under /lib/modules."""
    by_release: dict[str, list[Node]] = {}
    prefix = MODULES_DIR + "/"
    for node in tree.nodes.values():
        if node.kind == "file" and node.path.startswith(prefix) \
                and split_module_name(posixpath.basename(node.path)):
            release = node.path[len(prefix):].split("/", 1)[0]
            by_release.setdefault(release, []).append(node)
    for release, modules in sorted(by_release.items()):
        top = f"{prefix}{release}"
        dep = tree.resolve(f"{top}/modules.dep")
        text = tree.facts(dep).text if dep is not None and dep.kind == "file" else None
        if text is not None:
            _check_modules_dep(tree, top, text, out)
        else:
            _check_modinfo(tree, modules, out)


def _check_modules_dep(tree: ImageTree, top: str, text: str, out: _Collector) -> None:
    from composer.resolve.depmod import parse_modules_dep

    for module, deps in parse_modules_dep(text, top).items():
        node = tree.nodes.get(f"{top}/{module}")
        if node is None:
            continue  # modules.dep may list the whole tree; only present modules load
        for dep in deps:
            if tree.resolve(f"{top}/{dep}") is None:
                out.add("module", f"{top}/{dep}", f"{node.path} (modules.dep)", node.origin)


def _check_modinfo(tree: ImageTree, modules: list[Node], out: _Collector) -> None:
    names = {canonical_name(found[0]) for m in modules
             if (found := split_module_name(posixpath.basename(m.path)))}
    for node in modules:
        depends = tree.facts(node).modinfo_depends or ()
        for name in depends:
            if canonical_name(name) not in names:
                out.add("module", f"module {name}", f"{node.path} (.modinfo depends)",
                        node.origin)


def check_command_links(tree: ImageTree, out: _Collector) -> None:
    """A command link in a PATH directory that leads nowhere: what a script runs by
    name would be 'not found' at boot."""
    for node in tree.nodes.values():
        if node.kind != "symlink" or posixpath.dirname(node.path) not in COMMAND_DIRS:
            continue
        if tree.resolve(node.path) is None:
            target = node.target or ""
            base = "/" if target.startswith("/") else posixpath.dirname(node.path)
            missing = posixpath.normpath(posixpath.join(base, target))
            out.add("link", missing, f"{node.path} (-> {target})", node.origin)
