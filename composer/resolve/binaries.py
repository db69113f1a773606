"""Programs from the sysroot with everything their loader needs, as manifest entries.

The closure is computed the way glibc's ld.so would compute it inside the finished
image, because `ldd` cannot run a foreign architecture: PT_INTERP, then DT_NEEDED
breadth-first, each name searched along DT_RPATH (of the object and its loaders, only
when the object has no DT_RUNPATH), DT_RUNPATH, the sysroot's ld.so.conf directories,
then the multiarch and default directories. LD_LIBRARY_PATH is ignored: the image does
not inherit the build's environment. A candidate of another ELF class, byte order or
machine is skipped, as ld.so skips it, and a name already loaded (by DT_NEEDED name or
SONAME) is not searched again.

Every symlink on the way is kept as a symlink entry and the file itself goes to its
canonical path; the image thus has the links the loader will follow (/lib/ld64.so.1,
or /lib -> usr/lib in a merged-/usr sysroot) and never a file under a symlinked parent.

The image gets an /etc/ld.so.cache (composer/resolve/ldcache.py) naming each library
found along the ld.so.conf and default directories where it was found: ld.so loads the
same files without probing every directory and hwcaps subdirectory first, and a library
found only through ld.so.conf (which ld.so reads from the cache alone) loads too.
"""

from __future__ import annotations

import difflib
import posixpath
import stat
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from composer.errors import ResolveError, at_entry
from composer.manifest import Entry, Kind, image_path
from composer.resolve.busybox import AppletTable, applet_entries, read_applet_table
from composer.resolve.elf import ELF_MAGIC, ET_DYN, ET_EXEC, Arch, ElfError, ElfInfo, read_elf
from composer.resolve.ldcache import PATH as LD_SO_CACHE
from composer.resolve.ldcache import ld_so_cache, supported
from composer.resolve.ldpath import default_library_dirs, expand_tokens
from composer.resolve.sysroot import Lookup, Sysroot

MAX_INTERPRETER_DEPTH = 4  # the kernel's BINPRM_MAX_RECURSION for nested #! scripts
SCRIPT_HEAD = 256  # BINPRM_BUF_SIZE: the kernel reads no more of a #! line


@dataclass(frozen=True, slots=True)
class BinaryRequest:
    """One item of a recipe's `binaries:` list.

    `path_or_name`: an absolute image path in the sysroot, or a bare name searched
    along PATH. `dest`: put the program at another image path (its libraries keep
    theirs). `applets`: for a busybox binary, the applet links to add, or "all".
    """

    path_or_name: str
    dest: str | None = None
    applets: Sequence[str] | Literal["all"] | None = None
    at: str = ""  # where the recipe asked for it (file:line:col), which errors lead with

    @property
    def origin(self) -> str:
        return f"binaries: {self.path_or_name}"


def resolve_binaries(
    sysroot: Sysroot,
    requests: Sequence[BinaryRequest | str],
    *,
    target: Arch | None = None,
) -> list[Entry]:
    """Entries for the requested programs, their loader, libraries and applet links.

    `target` is the image's architecture (from the recipe or the kernel); without it
    the first ELF met decides. Entries are sorted by path and free of duplicates.
    """
    plan = _Plan(sysroot, target)
    wanted = [r if isinstance(r, BinaryRequest) else BinaryRequest(r) for r in requests]
    found: list[tuple[BinaryRequest, str]] = []
    for request in wanted:
        with at_entry(request.at, "name"):
            found.append((request, plan.locate(request)))
    applets = plan.applets(found)
    for request, path in found:
        with at_entry(request.at, "name"):
            plan.add_program(path, request.dest, request.origin)
    for entry, explicit in applets:
        if explicit or entry.path not in plan.entries:
            plan.add(entry)
    if plan.searched and plan.target is not None and supported(plan.target):
        plan.add(Entry(LD_SO_CACHE, Kind.FILE, mode=0o644, origin="binaries: ld.so cache",
                       data=ld_so_cache(plan.searched, plan.target),
                       why=("the libraries ld.so searches for, where it finds them",)))
    return sorted(plan.entries.values(), key=lambda e: e.path.encode(errors="surrogateescape"))


@dataclass(eq=False)
class _Object:
    """An ELF object in one program's closure, as the loader would have mapped it."""

    path: str
    lookup: Lookup
    info: ElfInfo
    loader: _Object | None

    @property
    def origin_dir(self) -> str:
        """$ORIGIN: the executable's real directory (the kernel resolves it via
        /proc/self/exe), a library's directory as found along the search path."""
        if self.loader is None:
            return posixpath.dirname(self.lookup.canonical)
        return posixpath.dirname(self.path)


@dataclass
class _Plan:
    """One resolution's state: the entries found so far and the ELF files already read."""

    sysroot: Sysroot
    target: Arch | None
    target_from: str = ""
    entries: dict[str, Entry] = field(default_factory=dict)
    provided: set[str] = field(default_factory=set)
    searched: dict[str, str] = field(default_factory=dict)  # the ld.so cache's names
    _elf: dict[str, ElfInfo | ElfError] = field(default_factory=dict)
    _conf_dirs: list[str] | None = None

    def locate(self, request: BinaryRequest) -> str:
        name = request.path_or_name
        path = name if name.startswith("/") else self.sysroot.find_program(name)
        found = self.sysroot.lookup(path)
        if not found.is_file:
            raise ResolveError(f"{request.origin}: {path} is not a regular file in the sysroot")
        return path

    def applets(self, located: list[tuple[BinaryRequest, str]]) -> list[tuple[Entry, bool]]:
        """Applet links first, so that a script's `#!/bin/sh` can be served by busybox."""
        out: list[tuple[Entry, bool]] = []
        for request, path in located:
            if request.applets is None:
                continue
            with at_entry(request.at, "applets"):
                out += self.request_applets(request, path)
        return out

    def request_applets(self, request: BinaryRequest, path: str) -> list[tuple[Entry, bool]]:
        """The applet links of one request; `provided` learns each."""
        assert request.applets is not None
        table: AppletTable | None = None
        try:
            table = read_applet_table(self.sysroot.host(path), name=path)
        except ResolveError:
            if request.applets == "all":
                raise
        home = image_path(request.dest) if request.dest else path
        out: list[tuple[Entry, bool]] = []
        for entry in applet_entries(self.sysroot, home, request.applets, table,
                                    origin=request.origin):
            out.append((entry, request.applets != "all"))
            self.provided.add(entry.path)
        return out

    def add(self, entry: Entry) -> None:
        existing = self.entries.get(entry.path)
        if existing is None:
            self.entries[entry.path] = entry
        elif not existing.same_content(entry):
            raise ResolveError(
                f"two binaries want {entry.path}: {existing.describe()} and {entry.describe()}",
                hint="drop one of them, or give one a 'dest'",
            )

    def place(self, found: Lookup, origin: str, dest: str | None = None,
              why: tuple[str, ...] = ()) -> None:
        """The file and every link that leads to it (or the file alone at `dest`)."""
        host = self.sysroot.host(found.canonical)
        mode = stat.S_IMODE(host.stat().st_mode)
        if dest is not None:
            where = self.sysroot.placement(image_path(dest))
            links, path = where.links, where.canonical
        else:
            links, path = found.links, found.canonical
        for link in links:
            self.add(Entry(link.path, Kind.SYMLINK, target=link.target, origin=origin, why=why))
        self.add(Entry(path, Kind.FILE, mode=mode, source=host, origin=origin, why=why))

    def add_program(self, path: str, dest: str | None, origin: str, depth: int = 0) -> None:
        found = self.sysroot.lookup(path)
        head = _head(self.sysroot, found)
        if head.startswith(ELF_MAGIC):
            info = self.read(found, path)
            self.check_arch(info, path, origin)
            if info.type not in (ET_EXEC, ET_DYN):
                raise ResolveError(
                    f"{path} ({origin}) is an ELF {info.type_name}, not a program"
                )
            if dest is not None:
                _check_origin_kept(path, found, dest, info)
            self.place(found, origin, dest)
            self.closure(_Object(path, found, info, None), origin)
        elif head.startswith(b"#!"):
            self.place(found, origin, dest)
            interpreter = _interpreter(head, path)
            where = self.sysroot.placement(interpreter).canonical
            if where in self.provided or interpreter in self.provided:
                return
            if depth >= MAX_INTERPRETER_DEPTH:
                raise ResolveError(
                    f"{path} ({origin}): more than {MAX_INTERPRETER_DEPTH} nested #! "
                    "interpreters; the kernel refuses to run that"
                )
            self.add_program(interpreter, None, f"{origin} (interpreter of {path})", depth + 1)
        else:
            raise ResolveError(
                f"{path} ({origin}) is neither an ELF program nor a #! script "
                f"(it starts with {head[:4]!r})",
                hint="put data files in the recipe's files, not its binaries",
            )

    def closure(self, program: _Object, origin: str) -> None:
        loaded: dict[str, _Object] = {}
        if program.info.interp is not None:
            interp = self.interpreter(program, origin)
            for name in (interp.info.soname, posixpath.basename(interp.path)):
                if name:
                    loaded.setdefault(name, interp)
        queue = deque([program])
        while queue:
            obj = queue.popleft()
            for name in obj.info.needed:
                if name in loaded:
                    continue
                lib = self.find_library(name, obj, origin)
                loaded[name] = lib
                if lib.info.soname:
                    loaded.setdefault(lib.info.soname, lib)
                self.place(lib.lookup, origin, why=_needed_chain(lib, name))
                queue.append(lib)

    def interpreter(self, program: _Object, origin: str) -> _Object:
        path = program.info.interp
        assert path is not None
        found = self.sysroot.lookup(path, strict=False)
        if not found.is_file:
            raise ResolveError(
                f"the ELF interpreter {path} of {program.path} ({origin}) is not in the "
                f"sysroot {self.sysroot.root}"
                + (f" (via {found.chain()})" if found.links else ""),
                hint="add the C library package (libc6 on Debian) to the sysroot",
            )
        info = self.read(found, path)
        self.check_arch(info, path, f"{origin} (interpreter of {program.path})")
        self.place(found, origin, why=(*_needed_chain(program, ""), f"PT_INTERP {path}"))
        interp = _Object(path, found, info, None)
        if info.needed:
            self.closure(interp, origin)
        return interp

    def find_library(self, name: str, requester: _Object, origin: str) -> _Object:
        if "/" in name:
            path = name if name.startswith("/") else "/" + name
            found = self.sysroot.lookup(path)
            return _Object(path, found, self.read(found, path), requester)
        searched: list[str] = []
        skipped: list[str] = []
        for directory, why in self.search_dirs(requester):
            searched.append(f"{directory} ({why})" if why else directory)
            candidate = f"{directory}/{name}"
            found = self.sysroot.lookup(candidate, strict=False)
            if not found.is_file:
                continue
            info = self.try_read(found, candidate)
            if isinstance(info, ElfError):
                skipped.append(f"{candidate} (not an ELF file)")
            elif info.arch != requester.info.arch:
                skipped.append(f"{candidate} ({info.arch.name})")
            elif info.type != ET_DYN:
                skipped.append(f"{candidate} (an ELF {info.type_name})")
            else:
                if why in ("", "ld.so.conf"):  # not RPATH/RUNPATH: ld.so asks the cache
                    self.searched[name] = candidate
                return _Object(candidate, found, info, requester)
        dirs = [d for d, _ in self.search_dirs(requester)]
        nearest = difflib.get_close_matches(
            name, sorted({n for d in dirs for n in self.sysroot.listdir(d)} - {name}), n=5,
            cutoff=0.6,
        )
        raise ResolveError(
            f"library {name} needed by {requester.path} ({origin}) is not in the sysroot "
            f"{self.sysroot.root}; searched {', '.join(searched)}"
            + (f"; skipped {', '.join(skipped)}" if skipped else "")
            + (f"; nearest names: {', '.join(nearest)}" if nearest else ""),
            hint="add the package that provides it to the sysroot",
        )

    def search_dirs(self, obj: _Object) -> list[tuple[str, str]]:
        dirs: list[tuple[str, str]] = []
        if obj.info.runpath is None:
            holder: _Object | None = obj
            while holder is not None:
                if holder.info.runpath is None and holder.info.rpath:
                    why = f"RPATH of {holder.path}"
                    dirs += [(d, why) for d in expand_tokens(holder.info.rpath, holder.origin_dir,
                                                             holder.info.arch)]
                holder = holder.loader
        else:
            why = f"RUNPATH of {obj.path}"
            dirs += [(d, why) for d in expand_tokens(obj.info.runpath, obj.origin_dir,
                                                         obj.info.arch)]
        if self._conf_dirs is None:
            self._conf_dirs = self.sysroot.ld_so_conf_dirs()
        dirs += [(d, "ld.so.conf") for d in self._conf_dirs]
        dirs += [(d, "") for d in default_library_dirs(obj.info.arch)]
        seen: set[str] = set()
        unique = []
        for directory, why in dirs:
            if directory not in seen:
                seen.add(directory)
                unique.append((directory, why))
        return unique

    def check_arch(self, info: ElfInfo, path: str, origin: str) -> None:
        if self.target is None:
            self.target, self.target_from = info.arch, path
            return
        if info.arch != self.target:
            source = f" (the architecture of {self.target_from})" if self.target_from else ""
            raise ResolveError(
                f"{path} ({origin}) is built for {info.arch.name}, but the image is for "
                f"{self.target.name}{source}",
                hint=f"take it from a sysroot for {self.target.name}",
            )

    def read(self, found: Lookup, path: str) -> ElfInfo:
        info = self.try_read(found, path)
        if isinstance(info, ElfError):
            raise info
        return info

    def try_read(self, found: Lookup, path: str) -> ElfInfo | ElfError:
        """Parsed once per file: a library is met again by every program that needs it."""
        cached = self._elf.get(found.canonical)
        if cached is None:
            try:
                cached = read_elf(self.sysroot.host(found.canonical), name=path)
            except ElfError as error:
                cached = error
            self._elf[found.canonical] = cached
        return cached


def _needed_chain(obj: _Object, name: str) -> tuple[str, ...]:
    """The DT_NEEDED chain that loads OBJ (asked for as NAME): the program's path, then
    each library's name as its requester asked for it."""
    chain = [name] if name else []
    holder = obj.loader
    while holder is not None:
        chain.append(holder.path if holder.loader is None else posixpath.basename(holder.path))
        holder = holder.loader
    if not name:
        chain.append(obj.path)
    return tuple(reversed(chain))


def _head(sysroot: Sysroot, found: Lookup) -> bytes:
    with open(sysroot.host(found.canonical), "rb") as f:
        return f.read(SCRIPT_HEAD)


def _interpreter(head: bytes, path: str) -> str:
    """The program of a `#!` line (its optional argument is only an argument)."""
    line = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    words = line.split(None, 1)
    if not words:
        raise ResolveError(f"{path} starts with '#!' but names no interpreter")
    interpreter = words[0]
    if not interpreter.startswith("/"):
        raise ResolveError(
            f"{path}: its interpreter {interpreter!r} is not an absolute path",
            hint="the kernel resolves it against the working directory; write #!/bin/sh",
        )
    return interpreter


def _check_origin_kept(path: str, found: Lookup, dest: str, info: ElfInfo) -> None:
    uses_origin = any("ORIGIN" in d for d in (*(info.rpath or ()), *(info.runpath or ())))
    if uses_origin and posixpath.dirname(image_path(dest)) != posixpath.dirname(found.canonical):
        raise ResolveError(
            f"{path} finds libraries relative to its own directory ($ORIGIN), so it cannot "
            f"move to {dest}",
            hint=f"install it at {found.canonical}, or drop 'dest'",
        )
