"""Unpack an initramfs under a directory, and never anywhere else.

Archives come from anyone, so every name is treated as hostile until proven otherwise:
- an absolute name ("/etc/passwd") is refused. The kernel would put it at the root of
  the image, but no tool that builds initramfs images writes one (gen_init_cpio, dracut,
  GNU cpio from `find .` and composer all write "bin/sh" or "./bin/sh"), so in practice
  it marks an archive crafted to escape a careless extractor;
- a name with a ".." component is refused, wherever the ".." is;
- nothing is written through a symbolic link, whether the archive made it earlier
  (`x -> /etc`, then `x/passwd`) or it was already in the directory. This is enforced
  by the file system, not by string checks: every directory on the way is opened with
  O_NOFOLLOW relative to its parent, and files are created with O_EXCL|O_NOFOLLOW.

Existing files are kept unless `force`; a later entry for a path this extraction
already wrote replaces it, as the kernel does. Device nodes need root: without it they
are skipped with a note. Modes and mtimes are restored (directories last, deepest first,
so a read-only directory does not block its children), owners only as root.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from composer.archive.reader import Limits, Member, Record
from composer.cpio import DEVICES, Kind, path_parts
from composer.errors import BuildError, InputError
from composer.inputfile import kind_of, why_not_opened
from composer.read.inspect import Image, open_image

FATAL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO)
DIR_OPEN = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
LINKABLE = frozenset({Kind.FILE, Kind.CHAR, Kind.BLOCK, Kind.FIFO, Kind.SOCKET})


@dataclass(frozen=True)
class Note:
    name: str
    reason: str


@dataclass
class ExtractReport:
    """What happened to each entry that was not simply written."""

    written: int = 0
    skipped: list[Note] = field(default_factory=list)
    refused: list[Note] = field(default_factory=list)
    conflicts: list[Note] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """2 when the archive holds hostile names, 1 when entries clashed with DIR."""
        if self.refused:
            return 2
        return 1 if self.conflicts else 0


class _Refusal(Exception):
    def __init__(self, reason: str, *, hostile: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hostile = hostile


class _Skip(Exception):
    """An entry deliberately left out, with the note to show."""


def entry_parts(name: str) -> tuple[str, ...]:
    """The path components of an archive name; () for the root itself."""
    if name.startswith("/"):
        raise _Refusal("absolute path: archive names must be relative to the image root",
                       hostile=True)
    parts = path_parts(name)
    if ".." in parts:
        raise _Refusal("'..' in the path: it would climb out of the directory",
                       hostile=True)
    return parts


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


class _Tree:
    """The destination directory, reached only through O_NOFOLLOW opens."""

    def __init__(self, root: int, *, force: bool, privileged: bool) -> None:
        self.root = root
        self.force = force
        self.privileged = privileged
        self.created: set[tuple[str, ...]] = set()
        self.links: dict[tuple[int, ...], tuple[str, ...]] = {}
        self.dirs: list[tuple[tuple[str, ...], Record]] = []

    def open_parent(self, parts: tuple[str, ...], *, create: bool = True) -> int:
        """A descriptor of the directory holding `parts`, made if missing."""
        fd = os.dup(self.root)
        try:
            for depth, part in enumerate(parts[:-1], start=1):
                try:
                    child = os.open(part, DIR_OPEN, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(part, 0o755, dir_fd=fd)
                    self.created.add(parts[:depth])
                    child = os.open(part, DIR_OPEN, dir_fd=fd)
                except OSError as error:
                    raise self._blocked(parts[:depth], part, fd, error) from None
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _blocked(self, prefix: tuple[str, ...], part: str, fd: int,
                 error: OSError) -> _Refusal:
        where = "/".join(prefix)
        found = _lstat(part, fd)
        if found is not None and stat.S_ISLNK(found.st_mode):
            ours = prefix in self.created
            origin = "the archive made it earlier" if ours else "it was already there"
            return _Refusal(f"{where} is a symbolic link ({origin}); refusing to write "
                            "through it", hostile=ours)
        if found is not None and not stat.S_ISDIR(found.st_mode):
            return _Refusal(f"{where} is not a directory", hostile=False)
        return _Refusal(f"cannot open {where}: {error.strerror}", hostile=False)

    def make_room(self, parts: tuple[str, ...], pfd: int, record: Record) -> bool:
        """Clear the way for the entry; False when an existing directory is simply reused."""
        name = parts[-1]
        found = _lstat(name, pfd)
        if found is None:
            return True
        ours = parts in self.created
        if record.kind is Kind.DIR and stat.S_ISDIR(found.st_mode):
            return False
        if not ours and not self.force:
            raise _Refusal("already exists (use --force to replace it)", hostile=False)
        try:
            if stat.S_ISDIR(found.st_mode):
                os.rmdir(name, dir_fd=pfd)
            else:
                os.unlink(name, dir_fd=pfd)
        except OSError as error:
            raise _Refusal(f"cannot replace the existing entry: {error.strerror}",
                           hostile=False) from None
        return True


def _link_key(record: Record) -> tuple[int, ...] | None:
    """Hard links share (device, inode, type) within one archive, as the kernel sees it."""
    if record.nlink < 2 or record.kind not in LINKABLE:
        return None
    return (record.archive, record.dev_major, record.dev_minor, record.ino,
            stat.S_IFMT(record.mode))


def _write_data(member: Member, fd: int) -> None:
    for chunk in member.chunks():
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]


def _link(tree: _Tree, source: tuple[str, ...], name: str, pfd: int) -> bool:
    """Hard-link `name` to an entry written earlier; False if that one is gone."""
    try:
        sfd = tree.open_parent(source, create=False)
    except (OSError, _Refusal):
        return False
    try:
        os.link(source[-1], name, src_dir_fd=sfd, dst_dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    finally:
        os.close(sfd)
    return True


def _write_file(tree: _Tree, member: Member, parts: tuple[str, ...], pfd: int) -> None:
    record, name = member.record, parts[-1]
    key = _link_key(record)
    source = tree.links.get(key) if key else None
    if source is not None and source != parts and _link(tree, source, name, pfd):
        flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC
        flags |= os.O_TRUNC if record.size else 0
    else:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        if key:
            tree.links[key] = parts
    fd = os.open(name, flags, 0o600, dir_fd=pfd)
    try:
        try:
            _write_data(member, fd)
        except BaseException:
            os.unlink(name, dir_fd=pfd)
            raise
        _set_metadata(tree, record, fd)
    finally:
        os.close(fd)


def _set_metadata(tree: _Tree, record: Record, fd: int) -> None:
    """Owner (only as root), permissions and mtime, on the open file: never by path."""
    if tree.privileged:
        os.fchown(fd, record.uid, record.gid)
    os.fchmod(fd, record.permissions)
    os.utime(fd, (record.mtime, record.mtime))


def _write_node(tree: _Tree, record: Record, parts: tuple[str, ...], pfd: int) -> None:
    name = parts[-1]
    if record.kind is Kind.SYMLINK:
        assert record.target is not None
        os.symlink(record.target, name, dir_fd=pfd)
    elif record.kind is Kind.FIFO:
        os.mkfifo(name, 0o600, dir_fd=pfd)
    else:  # char, block, socket
        device = os.makedev(record.rdev_major, record.rdev_minor)
        try:
            os.mknod(name, stat.S_IFMT(record.mode) | 0o600, device, dir_fd=pfd)
        except PermissionError:
            raise _Skip(f"{record.kind} device {record.rdev_major}, {record.rdev_minor} "
                        "not created: this process may not make device nodes") from None
    if tree.privileged:
        os.chown(name, record.uid, record.gid, dir_fd=pfd, follow_symlinks=False)
    if record.kind is not Kind.SYMLINK:
        # Just made by us, so not a symlink: Linux has no chmod that refuses to follow.
        os.chmod(name, record.permissions, dir_fd=pfd)
    os.utime(name, (record.mtime, record.mtime), dir_fd=pfd, follow_symlinks=False)


def _extract_one(tree: _Tree, member: Member, report: ExtractReport) -> None:
    record = member.record
    parts = entry_parts(record.name)
    if not parts:
        return  # the image root is DIR itself: its mode is the user's business
    if record.kind in DEVICES and not tree.privileged:
        raise _Skip(f"{record.kind} device {record.rdev_major}, {record.rdev_minor} not "
                    "created: making device nodes needs root")
    pfd = tree.open_parent(parts)
    try:
        fresh = tree.make_room(parts, pfd, record)
        if record.kind is Kind.DIR:
            if fresh:
                os.mkdir(parts[-1], 0o700, dir_fd=pfd)
            if fresh or parts in tree.created or tree.force:
                tree.dirs.append((parts, record))
        elif record.kind is Kind.FILE:
            _write_file(tree, member, parts, pfd)
        else:
            _write_node(tree, record, parts, pfd)
        tree.created.add(parts)
        report.written += 1
    finally:
        os.close(pfd)


def _finish_dirs(tree: _Tree) -> None:
    """Modes and mtimes of directories, deepest first, once nothing more goes inside."""
    for parts, record in sorted(tree.dirs, key=lambda item: -len(item[0])):
        try:
            pfd = tree.open_parent(parts, create=False)
        except (OSError, _Refusal):
            continue
        try:
            fd = os.open(parts[-1], DIR_OPEN, dir_fd=pfd)
        except OSError:
            continue  # replaced by a later entry
        finally:
            os.close(pfd)
        try:
            _set_metadata(tree, record, fd)
        finally:
            os.close(fd)


def extract_members(members: Iterable[Member], dest: Path, *, force: bool = False,
                    privileged: bool | None = None) -> ExtractReport:
    """Write the members under `dest` (created if missing); see the module docstring."""
    if privileged is None:
        privileged = os.geteuid() == 0
    try:
        dest.mkdir(parents=True, exist_ok=True)
        root = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileExistsError:
        raise InputError(f"cannot use {dest} as the destination: it is "
                         f"{kind_of(os.stat(dest).st_mode)}, not a directory") from None
    except NotADirectoryError as error:
        raise InputError(f"cannot use {dest} as the destination: "
                         f"{why_not_opened(dest, error).removeprefix('not found: ')}") from None
    except OSError as error:
        raise InputError(f"cannot use {dest} as the destination: {error.strerror}") from None
    report = ExtractReport()
    tree = _Tree(root, force=force, privileged=privileged)
    try:
        for member in members:
            try:
                _extract_one(tree, member, report)
            except _Skip as skip:
                report.skipped.append(Note(member.record.name, str(skip)))
            except _Refusal as refusal:
                target = report.refused if refusal.hostile else report.conflicts
                target.append(Note(member.record.name, refusal.reason))
            except OSError as error:
                if error.errno in FATAL_ERRNOS:
                    raise BuildError(f"cannot write under {dest}: {error.strerror}") from None
                report.conflicts.append(Note(member.record.name, error.strerror or str(error)))
        _finish_dirs(tree)
    finally:
        os.close(root)
    return report


def extract_file(path: Path, dest: Path, *, force: bool = False,
                 limits: Limits | None = None,
                 privileged: bool | None = None) -> tuple[Image, ExtractReport]:
    """Extract the initramfs of a boot image or a bare initramfs file."""
    with open_image(path, limits) as (image, reader):
        if image.header is not None and not image.initramfs_size:
            raise InputError(f"{path} is an s390 boot image without an initramfs "
                             "(initrd size 0 in its header)")
        return image, extract_members(reader, dest, force=force, privileged=privileged)
