"""Opening an input file (recipe, template, kernel, image, ld.so.conf) without being fooled by it.

Every path the CLI or a recipe names as something to read goes through `open_regular`:
a FIFO named as a recipe or kernel would block the open forever, /dev/zero would never
end a read, a directory or a socket fails with an errno the user cannot act on. The
file is opened without blocking, its type is checked on the open descriptor (so a
symlink to any of those is the same trap, and nothing can swap the file in between),
and each refusal is one sentence that completes "<what> <path> ...".
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from composer.errors import InputError

_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class UnreadableFile(InputError):
    """Why an input file was not read; the message completes "recipe ...", "template ..."."""


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words ("a directory", "a FIFO (named pipe)")."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((name for test, name in _KINDS if test(mode)), "of an unknown type")


def why_not_opened(path: Path, error: OSError) -> str:
    """The reason an open failed, as the end of a sentence about `path`."""
    if error.errno == errno.ENOENT:
        if os.path.islink(path):
            return f"is a symbolic link to {os.readlink(path)}, which does not exist"
        return "not found"
    if error.errno == errno.ENOTDIR:
        parent = next((p for p in reversed(path.parents) if p != Path(".") and p.is_file()),
                      None)
        where = f"{parent} is a file" if parent is not None else "a part of it is not a directory"
        return f"not found: {where}, not a directory"
    if error.errno == errno.ELOOP:
        return "is a symbolic link that never ends in a file (a loop)"
    if error.errno == errno.ENAMETOOLONG:
        return "cannot be read: the name is too long"
    if error.errno == errno.ENXIO:  # a socket, or a device without a driver
        try:
            kind = kind_of(os.stat(path).st_mode)
        except OSError:
            kind = "a socket or a device without a driver"
        return f"is {kind}, not a regular file; refusing to read it"
    return f"cannot be read: {error.strerror or error}"


def open_regular(path: Path) -> BinaryIO:
    """An open, blocking, binary file object for the regular file at `path`, or UnreadableFile.

    The one door for inputs: the open does not wait for a FIFO's writer, and anything
    but a regular file (directory, FIFO, socket, device) is refused by its type before
    a byte is read.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        raise UnreadableFile(why_not_opened(path, error)) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise UnreadableFile("is a directory, not a file")
        if not stat.S_ISREG(mode):
            raise UnreadableFile(f"is {kind_of(mode)}, not a regular file; refusing to read it")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_regular(path: Path) -> None:
    """Refuse `path` now, as `open_regular` would, without reading it."""
    open_regular(path).close()


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, or UnreadableFile.

    The read stops one byte past the limit, so a growing file cannot make it endless.
    """
    with open_regular(path) as f:
        try:
            data = f.read(limit + 1)
        except OSError as error:
            raise UnreadableFile(f"cannot be read: {error.strerror}") from None
    if len(data) > limit:
        raise UnreadableFile(f"is over {limit:,} bytes; refusing to read it")
    return data


def read_text_if_present(path: Path, what: str, errors: str = "replace") -> str | None:
    """The text of the regular file at `path`; None where nothing is there at all.

    For the files a sysroot or a report may or may not have (dpkg's database, a
    package's copyright file): their absence is an answer, but a FIFO or a directory in
    their place is refused through the one door, naming `what`, never waited on.
    """
    if not os.path.lexists(path):
        return None
    try:
        with open_regular(path) as f:
            return f.read().decode("utf-8", errors)
    except UnreadableFile as error:
        raise InputError(f"{what} {path} {error}") from None
    except OSError as error:
        raise InputError(f"{what} {path} cannot be read: {error.strerror or error}") from None
