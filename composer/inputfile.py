"""Reading a small input file (recipe, template, ld.so.conf) without being fooled by it.

A FIFO named as a recipe would block the read forever and /dev/zero would never end
it; a symlink to either is the same trap. The type is checked on the open descriptor
and the read is capped.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from composer.errors import InputError

_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


class UnreadableFile(InputError):
    """Why an input file was not read; the message completes "recipe ...", "template ..."."""


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, or UnreadableFile.

    The file is opened without blocking (a FIFO with no writer would wait forever) and
    its type is checked on the descriptor, so nothing can swap it in between; the read
    stops one byte past the limit, so /dev/zero or a growing file cannot make it endless.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise UnreadableFile("not found") from None
    except OSError as error:
        raise UnreadableFile(f"cannot be read: {error.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise UnreadableFile("is a directory")
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "of an unknown type")
            raise UnreadableFile(f"is {kind}, not a regular file; refusing to read it")
        try:
            data = f.read(limit + 1)
        except OSError as error:
            raise UnreadableFile(f"cannot be read: {error.strerror}") from None
    if len(data) > limit:
        raise UnreadableFile(f"is over {limit:,} bytes; refusing to read it")
    return data
