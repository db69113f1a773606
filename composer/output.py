"""Outputs appear whole or not at all.

An output is written to an anonymous file (O_TMPFILE) in the destination directory and
linked into place only when complete, so a crash — even SIGKILL — leaves neither a
partial image nor a stray temporary file, and the previous good image stays until the
rename replaces it. Giving the anonymous file a name goes through /proc/self/fd/N, so
where that is missing (a chroot or container without /proc, as on an s390 host's rescue
shell) and on filesystems without O_TMPFILE, the output is a named temporary file in the
same directory instead: renamed into place on success, removed on any error we live to
see. An output path that is a symlink is written through to its target; one that is a
device node, FIFO or socket is refused.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from composer.errors import BuildError, ComposerError, InputError

TEMP_PREFIX = ".compose-"
PROC_FDS = "/proc/self/fd"  # how an O_TMPFILE file gets its name (linkat through /proc)


def describe_os_error(error: OSError, path: Path) -> ComposerError:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return BuildError(f"no space left writing {path}; nothing was replaced",
                          hint="free some space or write elsewhere with -o")
    if error.errno == errno.EFBIG:
        return BuildError(f"{path} grew past the file size limit (ulimit -f or filesystem "
                          "maximum); nothing was replaced")
    if error.errno == errno.EROFS:
        return BuildError(f"cannot write {path}: {error.strerror}",
                          hint=f"{path.parent} is on a read-only mount; write elsewhere with -o")
    if error.errno in (errno.EACCES, errno.EPERM):  # EPERM for root: an immutable directory
        return BuildError(f"cannot write {path}: {error.strerror}",
                          hint=f"check the permissions of {path.parent}, and its attributes "
                               "with lsattr -d")
    if error.errno == errno.ENOENT and path.parent.is_dir():  # procfs: no new names at all
        return BuildError(f"cannot write {path}: the filesystem of {path.parent} does not "
                          "accept new files", hint="write the image somewhere else")
    if error.errno == errno.ENOENT:
        return BuildError(f"cannot write {path}: directory {path.parent} does not exist")
    if error.errno == errno.EISDIR:
        return BuildError(f"cannot write {path}: it is a directory")
    if error.errno == errno.ENOTDIR:  # the user's path runs through a file
        return InputError(f"cannot write {path}: {_file_on_the_way(path)} is a file, "
                          "not a directory")
    return BuildError(f"cannot write {path}: {error.strerror or error}")


def _file_on_the_way(path: Path) -> Path:
    """The first component of `path` that exists and is not a directory."""
    for parent in reversed(path.parents):
        if parent != Path(".") and parent.exists() and not parent.is_dir():
            return parent
    return path.parent


def make_output_dir(directory: Path) -> list[Path]:
    """Create -O's directory (and its parents), or say in one sentence why it cannot be;
    the directories made, deepest first (for remove_empty_dirs after a failed build)."""
    missing = [d for d in (directory, *directory.parents) if not os.path.lexists(d)]
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"-O {directory}: not a directory (-O names a directory for the "
                         "images; -o names one image)") from None
    except NotADirectoryError:
        raise InputError(f"-O {directory}: {_file_on_the_way(directory)} is a file, not a "
                         "directory") from None
    except OSError as error:
        raise InputError(f"-O {directory}: cannot create the directory: "
                         f"{error.strerror or error}") from None
    return missing


def remove_empty_dirs(directories: list[Path]) -> None:
    """Remove the directories given, deepest first, as long as they are empty."""
    for directory in directories:
        try:
            directory.rmdir()
        except OSError:
            return


_SPECIAL = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
            (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


def output_target(path: Path) -> Path:
    """The file an output replaces. A symlink is written through: its target is
    replaced (atomically, in the target's directory) and the link stays, as `cp` or
    `dd of=` would. A device node, FIFO or socket is refused: renaming over it would
    silently turn it into a regular file, and writing into it is not atomic."""
    named = path
    if path.is_symlink():
        try:
            path = path.resolve()
        except (RuntimeError, OSError):  # 3.11 raises RuntimeError for a loop
            raise InputError(f"output {path} is a symbolic link that never ends in a file "
                             "(a loop)") from None
    shown = named if path == named else f"{named} (a link to {path})"
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return path  # a new file
    if stat.S_ISDIR(mode):
        raise InputError(f"cannot write {shown}: it is a directory",
                         hint="-o and --initramfs name a file; -O names a directory")
    kind = next((name for test, name in _SPECIAL if test(mode)), None)
    if kind is not None:
        raise InputError(f"output {shown} is {kind}; refusing to replace it with a regular "
                         "file", hint="choose a regular file as the output")
    return path


class AtomicOutput:
    """`with AtomicOutput(path) as f:` — the file appears at `path` only if the block ends well."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: BinaryIO | None = None
        self._named: Path | None = None

    def __enter__(self) -> BinaryIO:
        self.path = output_target(self.path)
        directory = self.path.parent
        if not os.path.isdir(PROC_FDS):
            self.file = os.fdopen(self._open_named(directory), "w+b", buffering=0)
            return self.file
        try:
            fd = os.open(directory, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o666)
        except OSError as error:
            if error.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise describe_os_error(error, self.path) from None
            fd = self._open_named(directory)
        self.file = os.fdopen(fd, "w+b", buffering=0)
        return self.file

    def _open_named(self, directory: Path) -> int:
        self._named = directory / f"{TEMP_PREFIX}{self.path.name}.{os.urandom(4).hex()}.tmp"
        try:
            return os.open(self._named, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_CLOEXEC, 0o666)
        except OSError as error:
            raise describe_os_error(error, self.path) from None

    def _commit(self) -> None:
        assert self.file is not None
        fd = self.file.fileno()
        os.fsync(fd)
        if self._named is None:
            self._named = self.path.parent / (
                f"{TEMP_PREFIX}{self.path.name}.{os.urandom(4).hex()}.tmp")
            # linkat(AT_SYMLINK_FOLLOW) on the /proc link gives the anonymous file a name;
            # os.link only uses linkat (and so follows) when a dir fd is passed.
            dir_fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.link(f"{PROC_FDS}/{fd}", self._named.name, src_dir_fd=dir_fd,
                        dst_dir_fd=dir_fd, follow_symlinks=True)
            finally:
                os.close(dir_fd)
        os.rename(self._named, self.path)
        self._named = None

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if kind is None:
                try:
                    self._commit()
                except OSError as error:
                    raise describe_os_error(error, self.path) from None
        finally:
            if self.file is not None:
                self.file.close()
            if self._named is not None:
                self._named.unlink(missing_ok=True)
