"""What depmod knows, computed in-process: `.modinfo`, the depmod files, load ordering.

This is the format side of `composer.resolve.modules`: reading a module's `.modinfo`,
listing a `/lib/modules/<release>` tree, parsing `modules.dep`, `modules.builtin` and
`modules.builtin.modinfo`, and ordering a dependency graph.

A module is an ELF relocatable object (ET_REL) built for the target, so on an x86 host
an s390x module is a big-endian ELF64 we can only read, never load. Its `.modinfo`
section is a run of NUL-terminated `key=value` strings written by the MODULE_*() macros
(`depends=`, `softdep=`, `firmware=`, `alias=`, `vermagic=`). Only the ELF header, the
section header table and two sections are touched, so a plain `.ko` is mapped rather
than read: resolving thousands of modules costs a few pages each. Compressed modules
(`.ko.xz`, `.ko.zst`, `.ko.gz`, as depmod and kmod accept them) must be inflated
whole, since the section table sits at the end of the file.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from composer.errors import ResolveError
from composer.resolve.cache import is_strings
from composer.resolve.elf import ELF_MAGIC, elf_class_and_order

# Suffix -> compression, longest first so `.ko.xz` is not taken for `.ko`.
MODULE_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".ko.xz", "xz"),
    (".ko.zst", "zst"),
    (".ko.gz", "gz"),
    (".ko", ""),
)

_SHN_XINDEX = 0xFFFF
# (e_shoff, e_shentsize/e_shnum/e_shstrndx offsets, section header layout picking
# sh_name, sh_offset and sh_size) per ELF class; from the System V gABI.
_LAYOUT = {
    1: ("I", 0x20, 0x2E, "I12xII16x", 40),
    2: ("Q", 0x28, 0x3A, "I4x16xQQ24x", 64),
}


class ModinfoError(ValueError):
    """The bytes are not a module we can read; the caller knows which file it was."""


@dataclass(frozen=True, slots=True)
class ModInfo:
    """What a module declares about itself; empty tuples when it declares nothing."""

    depends: tuple[str, ...] = ()
    softdep_pre: tuple[str, ...] = ()
    softdep_post: tuple[str, ...] = ()
    firmware: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    vermagic: str = ""
    name: str = ""

    @property
    def release(self) -> str:
        """The kernel release a module was built for: the first word of vermagic."""
        return self.vermagic.split(" ", 1)[0]

    def as_tuple(self) -> tuple[object, ...]:
        return (self.depends, self.softdep_pre, self.softdep_post, self.firmware,
                self.aliases, self.vermagic, self.name)

    @classmethod
    def from_tuple(cls, value: object) -> ModInfo | None:
        """The ModInfo `as_tuple` gave, or None for anything else (a damaged cache)."""
        if not isinstance(value, tuple) or len(value) != 7:
            return None
        depends, pre, post, firmware, aliases, vermagic, name = value
        if (is_strings(depends) and is_strings(pre) and is_strings(post) and is_strings(firmware)
                and is_strings(aliases) and isinstance(vermagic, str) and isinstance(name, str)):
            return cls(depends, pre, post, firmware, aliases, vermagic, name)
        return None


def split_module_name(filename: str) -> tuple[str, str] | None:
    """`virtio-net.ko.xz` -> (`virtio_net`, `xz`); None for files that are no module.

    `-` and `_` are the same character in module names (the kernel and kmod compare
    them as equal), so names are kept in the underscore form depmod uses.
    """
    if filename.endswith(".ko"):  # what most trees hold: decided by one test
        return (canonical_name(filename[:-3]), "") if len(filename) > 3 else None
    for suffix, compression in MODULE_SUFFIXES:
        if filename.endswith(suffix) and len(filename) > len(suffix):
            return canonical_name(filename[: -len(suffix)]), compression
    return None


def canonical_name(name: str) -> str:
    return name.replace("-", "_")


def elf_section(image: bytes | mmap.mmap, wanted: bytes) -> bytes | None:
    """The content of the section called `wanted`, or None if the object has none."""
    if len(image) < 0x34 or image[:4] != ELF_MAGIC:
        raise ModinfoError("not an ELF file")
    found = elf_class_and_order(image[:6])
    if found is None:
        raise ModinfoError(f"unknown ELF class {image[4]} or byte order {image[5]}")
    elf_class = 1 if found[0] == 32 else 2  # e_ident[EI_CLASS], which _LAYOUT is keyed by
    order = "<" if found[1] == "little" else ">"
    word, shoff_at, counts_at, header_format, entry_size = _LAYOUT[elf_class]
    (shoff,) = struct.unpack_from(order + word, image, shoff_at)
    shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", image, counts_at)
    if shoff == 0:
        return None
    if shentsize != entry_size:
        raise ModinfoError(f"section header size {shentsize}, expected {entry_size}")
    if shnum == 0 or shstrndx == _SHN_XINDEX:
        # More than 0xff00 sections: the real numbers sit in section header 0.
        first = image[shoff : shoff + entry_size]
        _, _, size0 = struct.unpack(order + header_format, first)
        (link0,) = struct.unpack_from(order + "I", first, 24 if elf_class == 1 else 40)
        shnum = shnum or size0
        shstrndx = link0 if shstrndx == _SHN_XINDEX else shstrndx
    table = image[shoff : shoff + shnum * entry_size]
    if len(table) != shnum * entry_size or shstrndx >= shnum:
        raise ModinfoError("section header table is truncated")
    headers = list(struct.iter_unpack(order + header_format, table))
    _, names_at, names_size = headers[shstrndx]
    names = image[names_at : names_at + names_size]
    key = wanted + b"\0"
    for name, offset, size in headers:
        if names[name : name + len(key)] == key:
            content = image[offset : offset + size]
            if len(content) != size:
                raise ModinfoError(f"section {wanted.decode()} runs past the end of the file")
            return bytes(content)
    return None


def parse_modinfo(section: bytes) -> ModInfo:
    """Fold the `key=value` strings into a ModInfo; unknown keys are ignored."""
    values: dict[str, list[str]] = {}
    for raw in section.split(b"\0"):
        key, sep, value = raw.decode("utf-8", "replace").partition("=")
        if sep:
            values.setdefault(key, []).append(value)
    depends = tuple(
        canonical_name(d) for v in values.get("depends", ()) for d in v.split(",") if d
    )
    pre: list[str] = []
    post: list[str] = []
    for line in values.get("softdep", ()):
        pre_part, post_part = parse_softdep(line)
        pre.extend(pre_part)
        post.extend(post_part)
    return ModInfo(
        depends=depends,
        softdep_pre=tuple(pre),
        softdep_post=tuple(post),
        firmware=tuple(values.get("firmware", ())),
        aliases=tuple(values.get("alias", ())),
        vermagic=(values.get("vermagic") or [""])[0],
        name=canonical_name((values.get("name") or [""])[0]),
    )


def parse_softdep(value: str) -> tuple[list[str], list[str]]:
    """`pre: a b post: c` -> ([a, b], [c]); words before any `pre:`/`post:` are ignored,
    as kmod ignores them."""
    pre: list[str] = []
    post: list[str] = []
    target: list[str] | None = None
    for word in value.split():
        if word == "pre:":
            target = pre
        elif word == "post:":
            target = post
        elif target is not None:
            target.append(canonical_name(word))
    return pre, post


class DecompressError(ValueError):
    """A compressed module whose bytes are not what its suffix says."""


def decompress(data: bytes, compression: str) -> bytes:
    """Inflate a compressed module; each codec is imported only by a tree that uses it."""
    try:
        if compression == "xz":
            import lzma

            try:
                return lzma.decompress(data)
            except lzma.LZMAError as error:
                raise DecompressError(str(error)) from None
        if compression == "zst":
            import zstandard

            try:
                # decompressobj copes with frames that do not record their content size.
                result: bytes = zstandard.ZstdDecompressor().decompressobj().decompress(data)
            except zstandard.ZstdError as error:
                raise DecompressError(str(error)) from None
            return result
        if compression == "gz":
            import gzip
            import zlib

            try:
                return gzip.decompress(data)
            except (zlib.error, gzip.BadGzipFile) as error:
                raise DecompressError(str(error)) from None
    except EOFError as error:
        raise DecompressError(str(error)) from None
    return data


def read_modinfo(path: Path, compression: str) -> ModInfo:
    """The ModInfo of the module file at `path` (a host path inside the sysroot)."""
    try:
        if compression:
            image: bytes | mmap.mmap = decompress(path.read_bytes(), compression)
            section = elf_section(image, b".modinfo")
        else:
            with path.open("rb") as handle:
                if handle.seek(0, 2) == 0:
                    raise ModinfoError("the file is empty")
                with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                    section = elf_section(mapped, b".modinfo")
    except (ModinfoError, struct.error) as error:
        raise ResolveError(
            f"kernel module {path} cannot be read: {error}",
            hint="the modules tree may be damaged or not built for this kernel",
        ) from None
    except DecompressError as error:
        raise ResolveError(
            f"kernel module {path} does not decompress as {compression}: {error}",
            hint="the file is damaged or its suffix does not match its compression",
        ) from None
    except OSError as error:
        raise ResolveError(f"kernel module {path} cannot be read: {error.strerror}") from None
    return parse_modinfo(section or b"")


# --- the files of /lib/modules/<release> ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Module:
    name: str  # canonical: underscores
    relpath: str  # under /lib/modules/<release>, as modules.dep writes it
    host: str  # host path of the file (a str: thousands are listed, few are used)
    compression: str  # "", "xz", "zst" or "gz"

    @property
    def source(self) -> Path:
        return Path(self.host)

    @property
    def tree_path(self) -> str:
        """The path patterns match: under `kernel/`, without a compression suffix."""
        path = self.relpath.removeprefix("kernel/")
        return path[: path.rindex(".ko") + 3]


def scan(directory: Path) -> list[tuple[str, str, str, str, bool]]:
    """(relpath, host path, name, compression, is a symlink) of every module file below
    `directory`. Symlinked directories (`build`, `source`) are not followed; a symlinked
    module file (RHEL's weak-updates) is listed with its own path, for the caller to
    resolve inside the sysroot, since the host would follow an absolute link out of it."""
    found = []
    stack = [""]
    base = str(directory)
    while stack:
        rel = stack.pop()
        with os.scandir(f"{base}/{rel}" if rel else base) as entries:
            for entry in entries:
                relpath = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append(relpath)
                    continue
                if ".ko" not in entry.name:
                    continue  # most names in a tree: the suffix check is the slow part
                split = split_module_name(entry.name)
                if split is None:
                    continue
                link = entry.is_symlink()
                if link or entry.is_file():
                    found.append((relpath, entry.path, split[0], split[1], link))
    return sorted(found)


def choose(
    files: list[tuple[str, str, str, str]], listed: Mapping[str, object] | None
) -> dict[str, Module]:
    """One file per module name: the one modules.dep lists, else one under `updates/`
    (depmod's default search order puts it first), else the first by path."""

    def rank(item: tuple[str, str, str, str]) -> tuple[int, int, str]:
        relpath = item[0]
        return (0 if listed is not None and relpath in listed else 1,
                0 if relpath.startswith("updates/") else 1, relpath)

    modules: dict[str, Module] = {}
    for relpath, source, name, compression in sorted(files, key=rank):
        modules.setdefault(name, Module(name, relpath, source, compression))
    return modules


def names_of(listed: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]] | None:
    """modules.dep's paths turned into module names."""
    if listed is None:
        return None

    def name(path: str) -> str | None:
        found = split_module_name(path.rsplit("/", 1)[-1])
        return found[0] if found else None

    return {
        module: tuple(n for dep in deps if (n := name(dep)))
        for path, deps in listed.items() if (module := name(path))
    }


# --- the depmod files beside the modules -------------------------------------------------


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


# --- ordering, as depmod does it ---------------------------------------------------------


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
