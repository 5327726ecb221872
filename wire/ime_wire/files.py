"""Reading a small file that a person named on a command line (a manifest, a key, a text).

Shared by the three programs because each must refuse the same things the same way: a
device such as /dev/zero or a huge file is never read whole, and a FIFO is never waited on.
The file is opened without blocking and checked on the open descriptor, so nothing can swap
it between the check and the read.
"""

from __future__ import annotations

import os
import stat
from os import PathLike


class FileRefused(ValueError):
    """The file exists but is not one to read; the message is a phrase to put after its path
    ("is not a regular file", "is over 256 KiB")."""


class FileTooLarge(FileRefused):
    """The file holds more than the caller's limit."""


def _size(limit: int) -> str:
    for unit, size in (("MiB", 2**20), ("KiB", 2**10)):
        if limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit:,} bytes"


def read_small(path: str | PathLike, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Raises ``FileNotFoundError``, :class:`FileRefused` (not a regular file),
    :class:`FileTooLarge`, or another ``OSError`` (permissions, ...)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileRefused("is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FileTooLarge(f"is over {_size(limit)}")
    return data
