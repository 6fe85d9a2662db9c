"""Tests for p2psocial.store.lock: one writer per home, released when the holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2psocial.errors import HomeLockedError
from p2psocial.store.lock import HomeLock

_REPO = Path(__file__).resolve().parents[2]

_HOLDER = """
import sys
from pathlib import Path
from p2psocial.store.lock import HomeLock

lock = HomeLock.acquire(Path(sys.argv[1]))
print("locked", flush=True)
sys.stdin.read()  # hold the lock until killed or stdin closes
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A child process that holds the lock on tmp_path/lock until it is killed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO), env.get("PYTHONPATH")]))
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path / "lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "locked\n"  # waits for the child, no sleep
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()


def test_acquire_writes_the_pid_and_creates_the_file_private(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with HomeLock.acquire(path) as lock:
        assert lock.held
        assert lock.path == path
        assert path.read_text() == f"{os.getpid()}\n"
        assert path.stat().st_mode & 0o777 == 0o600
    assert not lock.held
    assert path.exists()  # never deleted: deleting flock files races with acquirers
    assert path.read_text() == ""


def test_a_second_acquire_in_the_same_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with HomeLock.acquire(path):
        with pytest.raises(HomeLockedError, match=rf"pid {os.getpid()}\)") as info:
            HomeLock.acquire(path)
        assert str(path) in str(info.value)
        assert "in use by another p2psocial process" in str(info.value)
    # Released: it can be taken again.
    HomeLock.acquire(path).release()


def test_release_is_idempotent_and_frees_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    lock = HomeLock.acquire(path)
    lock.release()
    lock.release()
    with HomeLock.acquire(path) as again:
        assert again.held


def test_a_stale_longer_pid_is_replaced_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.write_text("123456789012\n")  # left by a killed process with a long pid
    with HomeLock.acquire(path):
        assert path.read_text() == f"{os.getpid()}\n"


def test_the_holders_pid_is_unknown_when_the_file_says_nothing_useful(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with HomeLock.acquire(path):
        path.write_text("not a pid")
        with pytest.raises(HomeLockedError, match=r"pid unknown"):
            HomeLock.acquire(path)


def test_another_process_holding_the_lock_is_named_and_killing_it_frees_the_lock(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    path = tmp_path / "lock"
    with pytest.raises(HomeLockedError, match=rf"pid {holder.pid}\)"):
        HomeLock.acquire(path)
    holder.send_signal(signal.SIGKILL)
    assert holder.wait(timeout=30) == -signal.SIGKILL
    # The kernel released the flock with the process; its pid is still in the file.
    assert path.read_text() == f"{holder.pid}\n"
    with HomeLock.acquire(path) as lock:
        assert lock.held
        assert path.read_text() == f"{os.getpid()}\n"
