"""One running agent per profile: an OS lock on ``agent.lock`` in the data dir.

The lock file holds the owner's PID for messages and ``ime-agent status``. The
OS drops the lock when the process dies, however it dies, so a stale file never
blocks a new start. POSIX uses ``flock``; Windows ``msvcrt.locking``, whose locks
are mandatory, so it locks one byte far past the PID to keep the PID readable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ime_agent.errors import AlreadyRunning, StoreError

LOCK_NAME = "agent.lock"
_WIN_LOCK_OFFSET = 1 << 20

if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class InstanceLock:
    """Held while the agent runs; use as a context manager or call :meth:`release`."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)  # an empty file reads as "not running" even before the OS lock goes
        _unlock(self._fd)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "InstanceLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def acquire(data_dir: Path) -> InstanceLock:
    """Take the profile's lock and record our PID, or raise :class:`AlreadyRunning`."""
    data_dir = Path(data_dir)
    path = data_dir / LOCK_NAME
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot use data dir {data_dir} ({exc.strerror}); "
                            "choose a directory of your own with --data-dir") from None
    if not _try_lock(fd):
        os.close(fd)
        raise AlreadyRunning(_read_pid(path), data_dir)
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, f"{os.getpid()}\n".encode())
    os.fsync(fd)
    return InstanceLock(path, fd)


def running_pid(data_dir: Path) -> int | None:
    """The PID of the agent running for this profile, or ``None`` if none is."""
    path = Path(data_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:  # no lock file (never ran), or not ours to read: no agent of ours runs
        return None
    try:
        if _try_lock(fd):  # nobody holds it: whatever PID is written there is stale
            _unlock(fd)
            return None
    finally:
        os.close(fd)
    return _read_pid(path)


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None
