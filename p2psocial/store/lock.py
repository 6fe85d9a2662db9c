"""The one-writer lock on a home directory.

One process at a time owns a home's log. It proves that by holding an exclusive
``flock(2)`` on a lock file in the home. The kernel drops the lock when the process exits,
however it exits, so a crash never leaves a stale lock behind. The holder writes its pid into
the file so that a refused process can say who holds it; the pid is informational only, the
lock itself is the flock.

``flock`` locks belong to an open file description: a second :meth:`HomeLock.acquire` in the
same process conflicts with the first, as it should, while a child made with ``fork()`` (not
``exec``) shares the parent's lock. The descriptor is close-on-exec.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from p2psocial.errors import HomeLockedError

__all__ = ["HomeLock"]


class HomeLock:
    """An exclusive lock on a home directory, held until :meth:`release` or process exit."""

    def __init__(self, path: Path, fd: int) -> None:
        """Wrap a locked descriptor; use :meth:`HomeLock.acquire` instead of calling this.

        Args:
            path: The lock file.
            fd: An open descriptor of it on which this process holds the flock.
        """
        self._path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, path: Path) -> HomeLock:
        """Take the lock without waiting.

        Args:
            path: The lock file; it is created (mode 0o600) if absent and never deleted.

        Returns:
            The held lock.

        Raises:
            HomeLockedError: Another process, or another :class:`HomeLock` in this process,
                holds it.
            OSError: The lock file cannot be opened or written.
        """
        path = Path(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_pid(fd)
                pid = "unknown" if holder is None else str(holder)
                raise HomeLockedError(
                    f"{path} is in use by another p2psocial process (pid {pid})"
                ) from None
            data = f"{os.getpid()}\n".encode()
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    @property
    def path(self) -> Path:
        """The lock file."""
        return self._path

    @property
    def held(self) -> bool:
        """Whether this object still holds the lock."""
        return self._fd is not None

    def release(self) -> None:
        """Release the lock; releasing twice is fine.

        The pid is cleared from the file first, so that it never names a process that no
        longer holds the lock (unless that process was killed).
        """
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the last descriptor releases the flock

    def __enter__(self) -> Self:
        """Return the held lock.

        Returns:
            This lock.
        """
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Release the lock.

        Args:
            exc_type: Type of the exception leaving the block, if any.
            exc: The exception leaving the block, if any.
            tb: Its traceback, if any.
        """
        self.release()

    def __repr__(self) -> str:
        """Describe the lock for debugging.

        Returns:
            The lock file and whether it is held.
        """
        state = "held" if self.held else "released"
        return f"<HomeLock {str(self._path)!r} {state}>"


def _read_pid(fd: int) -> int | None:
    """The pid written in the lock file, or None if it is missing or unreadable."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii")
    except (OSError, UnicodeDecodeError):
        return None
    first_line = text.split("\n", 1)[0].strip()
    return int(first_line) if first_line.isdigit() else None
