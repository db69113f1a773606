"""Kernel-side file copies, and when to give them up for a fallback.

copy_file_range fails between filesystems of different types (ext4 -> tmpfs), on old
kernels, and for descriptors it cannot use (an O_APPEND output, a pipe); the callers then
copy another way (sendfile, or reads and writes). Which errors mean "not here" is
decided once, here; anything else is a real error and propagates.
"""

from __future__ import annotations

import errno
import os

NO_COPY_RANGE = frozenset({errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP,
                           errno.EBADF})


def copy_range(src: int, dst: int, count: int, offset_src: int | None = None) -> int | None:
    """Up to `count` bytes copied in the kernel, at dst's position; None when
    copy_file_range cannot serve these two files and the caller must fall back."""
    try:
        return os.copy_file_range(src, dst, count, offset_src)
    except OSError as error:
        if error.errno in NO_COPY_RANGE:
            return None
        raise
