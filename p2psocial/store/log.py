"""The append-only log: the single source of truth of a node.

The log is a directory of segment files. Each segment starts with
:data:`~p2psocial.store.framing.SEGMENT_HEADER` followed by frames (see
:mod:`p2psocial.store.framing`) and is named by the global position of its first byte: 20
decimal digits and ``.seg``. A record's *position* is the global offset of its frame, so the
first record of the log is at position 8 and positions strictly increase. Everything else a
node keeps (the index, caches) remembers the position it has reached and reads on from there
with :meth:`Log.read_from`.

One process writes (see :mod:`p2psocial.store.lock`); any number of processes may read. A
writer appends whole batches with one fsync (group commit) and rolls to a new segment when the
current one would grow past ``segment_bytes``. When a writer opens the log it checks the last
segment: a torn tail left by a crash is cut off and kept in ``torn/`` with a
:class:`RecoveryReport`; damage followed by intact records is corruption and raises
:class:`~p2psocial.errors.LogCorruptError` without changing anything.

Durability rules the code relies on:

- A segment is fsynced before the next one is created, so every segment but the last is
  complete, and the next segment's name always equals the previous one's base plus its size.
- A failed write or fsync is rolled back (truncate, unlink new segments) before the error
  propagates, so later appends never build on a partial record.
- A crash during :meth:`Log.append` may leave any prefix of that batch's records in the log,
  as whole records; the next writable open drops the partial record after them.

A :class:`Log` object is not thread-safe. Readers in other threads or processes open their
own read-only :class:`Log`.
"""

from __future__ import annotations

import bisect
import errno
import fcntl
import io
import itertools
import logging
import os
import re
import sys
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Self, TypeVar

from p2psocial.errors import LogCorruptError, StoreError
from p2psocial.store.framing import (
    FILE_HEADER_SIZE,
    FRAME_HEADER_SIZE,
    MAGIC,
    SEGMENT_HEADER,
    BadFrame,
    GoodFrame,
    IncompleteFrame,
    check_header,
    decode_frame,
    encode_frame,
    find_next_good_frame,
    split_frames,
)

__all__ = [
    "DEFAULT_SEGMENT_BYTES",
    "TORN_DIRECTORY",
    "Damage",
    "Log",
    "Record",
    "RecoveryReport",
]

logger = logging.getLogger(__name__)

DEFAULT_SEGMENT_BYTES: Final = 64 * 1024 * 1024
"""Size at which a writer rolls to a new segment."""

TORN_DIRECTORY: Final = "torn"
"""Subdirectory of the log where bytes dropped by recovery are kept."""

_SEGMENT_NAME: Final = re.compile(r"^(\d{20})\.seg$")
_CHUNK: Final = 1024 * 1024
_MIN_SEGMENT_BYTES: Final = FILE_HEADER_SIZE + FRAME_HEADER_SIZE + 1
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Record:
    """One record read back from the log.

    Attributes:
        position: The global position of the record's frame.
        payload: The record's bytes.
        next_position: The position just past this record, where reading goes on.
    """

    position: int
    payload: bytes
    next_position: int


@dataclass(frozen=True, slots=True)
class Damage:
    """A stretch of the log that is not a sequence of intact records (see :meth:`Log.scan`).

    Attributes:
        position: Global position where the damage starts.
        reason: What is wrong there, naming the segment file.
        length: How many bytes were skipped before the next intact record (or the end of
            the segment).
    """

    position: int
    reason: str
    length: int


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What a writable open cut off the end of the log after a crash.

    Attributes:
        position: Global position of the first dropped byte; the log now ends here.
        dropped_bytes: How many bytes were dropped.
        saved_to: The file under ``torn/`` holding the dropped bytes, or None if there were
            none to keep (an empty, torn segment header).
        reason: Why the bytes were not records.
    """

    position: int
    dropped_bytes: int
    saved_to: Path | None
    reason: str


@dataclass(frozen=True, slots=True)
class _Segment:
    base: int
    path: Path


@dataclass(frozen=True, slots=True)
class _Stop:
    """Where a run of good frames in one segment ended (file offset) and why."""

    offset: int
    reason: str | None
    """None at a clean end (end of file or of the requested range)."""


class Log:
    """A segmented append-only log in one directory; create it with :meth:`Log.open`."""

    def __init__(
        self,
        directory: Path,
        *,
        writable: bool,
        segment_bytes: int,
        segments: tuple[_Segment, ...],
        tail_size: int | None,
        fd: int | None,
        recovery: RecoveryReport | None,
    ) -> None:
        """Hold an opened log; use :meth:`Log.open` instead of calling this.

        Args:
            directory: The log directory.
            writable: Whether this object may append.
            segment_bytes: Roll-over size for new segments.
            segments: The segments known now, oldest first.
            tail_size: Size of the last segment up to its last committed record (writers),
                or None (readers, which read up to the end of the file).
            fd: The writer's descriptor of the last segment, or None for readers.
            recovery: What the writable open dropped from a torn tail, if anything.
        """
        self._directory = directory
        self._writable = writable
        self._segment_bytes = segment_bytes
        # Replaced as a whole, so that a reading generator always sees a consistent pair.
        self._view: tuple[tuple[_Segment, ...], int | None] = (segments, tail_size)
        self._fd = fd
        self._recovery = recovery
        self._closed = False
        self._broken: str | None = None
        self._reader_end: int | None = None

    # --- opening and closing ------------------------------------------------------------

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        writable: bool,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
    ) -> Log:
        """Open the log in ``directory``.

        A writable open creates the directory (mode 0o700) and the first segment if needed,
        then checks the last segment and cuts off a torn tail (see :attr:`recovery`). Only
        one writer may exist per directory; the caller ensures that with
        :class:`~p2psocial.store.lock.HomeLock`. A read-only open changes nothing and raises
        no error for damaged records: :meth:`read_from` and :meth:`scan` report those.

        Args:
            directory: The log directory (``home/log``).
            writable: Open for appending (True) or for reading only (False).
            segment_bytes: A writer starts a new segment when the current one would grow
                past this many bytes. A single record larger than that gets a segment of its
                own.

        Returns:
            The opened log.

        Raises:
            LogCorruptError: (writable) The log is damaged other than by a torn tail, or
                segments are missing; nothing was changed.
            StoreError: (read-only) The directory does not exist.
            ValueError: ``segment_bytes`` is too small to hold a record.
            OSError: The file system failed.
        """
        directory = Path(directory)
        if segment_bytes < _MIN_SEGMENT_BYTES:
            raise ValueError(f"segment_bytes must be at least {_MIN_SEGMENT_BYTES}")
        if writable:
            return cls._open_writer(directory, segment_bytes)
        if not directory.is_dir():
            raise StoreError(f"no log at {directory}")
        return cls(
            directory,
            writable=False,
            segment_bytes=segment_bytes,
            segments=_list_segments(directory),
            tail_size=None,
            fd=None,
            recovery=None,
        )

    @classmethod
    def _open_writer(cls, directory: Path, segment_bytes: int) -> Log:
        if not directory.is_dir():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            _fsync_dir(directory.parent)
        segments = _list_segments(directory)
        if not segments:
            first = _Segment(0, directory / _segment_name(0))
            fd = _create_segment(first.path)
            try:
                _fsync_dir(directory)
            except BaseException:
                os.close(fd)
                raise
            return cls(
                directory,
                writable=True,
                segment_bytes=segment_bytes,
                segments=(first,),
                tail_size=FILE_HEADER_SIZE,
                fd=fd,
                recovery=None,
            )
        gap = _contiguity_problem(segments)
        if gap is not None:
            raise LogCorruptError(f"{gap}; nothing was changed")
        last = segments[-1]
        fd = os.open(last.path, os.O_RDWR | os.O_CLOEXEC)
        try:
            tail_size, recovery = _recover_tail(directory, last, fd)
        except BaseException:
            os.close(fd)
            raise
        return cls(
            directory,
            writable=True,
            segment_bytes=segment_bytes,
            segments=segments,
            tail_size=tail_size,
            fd=fd,
            recovery=recovery,
        )

    def close(self) -> None:
        """Close the log; iterators already running keep reading. Closing twice is fine."""
        if self._closed:
            return
        self._closed = True
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self) -> Self:
        """Return the log itself.

        Returns:
            This log.
        """
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the log.

        Args:
            exc_type: Type of the exception leaving the block, if any.
            exc: The exception leaving the block, if any.
            tb: Its traceback, if any.
        """
        self.close()

    # --- properties ---------------------------------------------------------------------

    @property
    def directory(self) -> Path:
        """The log directory."""
        return self._directory

    @property
    def writable(self) -> bool:
        """Whether this log was opened for appending."""
        return self._writable

    @property
    def recovery(self) -> RecoveryReport | None:
        """What the writable open dropped from a torn tail, or None if nothing."""
        return self._recovery

    @property
    def end(self) -> int:
        """The position just past the last good record (0 for an empty log).

        For a writer this is exact and advances with every append. A reader finds it by
        reading the last segment the first time it is asked (up to any damage or a record
        still being written), and advances it as :meth:`read_from` reads newer records.
        """
        self._check_open()
        segments, tail_size = self._view
        if tail_size is not None:
            return _end_of(segments[-1].base, tail_size)
        if self._reader_end is None:
            self._reader_end = self._find_reader_end()
        return self._reader_end

    # --- appending ----------------------------------------------------------------------

    def append(self, payloads: Sequence[bytes]) -> list[int]:
        """Append records durably: they are on disk when this returns.

        The batch is written with one fsync (group commit), plus one per segment when it
        rolls over. If a write or fsync fails, everything this call wrote is removed again
        before the error propagates.

        Args:
            payloads: The records' payloads, in order; an empty sequence is a no-op.

        Returns:
            The position of each record, in order.

        Raises:
            ValueError: A payload is larger than
                :data:`~p2psocial.store.framing.MAX_PAYLOAD` (nothing was written), or the
                log is closed.
            io.UnsupportedOperation: The log was opened read-only.
            StoreError: An earlier failed append could not be rolled back; reopen the log.
            OSError: Writing or syncing failed (the log is as it was before the call).
        """
        self._check_open()
        if not self._writable:
            raise io.UnsupportedOperation("log opened read-only")
        if self._broken is not None:
            raise StoreError(self._broken)
        if not payloads:
            return []
        frames = [encode_frame(payload) for payload in payloads]
        fd = self._fd
        assert fd is not None
        segments, old_tail = self._view
        assert old_tail is not None
        base = segments[-1].base
        size = write_at = old_tail
        pending: list[bytes] = []
        positions: list[int] = []
        created: list[tuple[_Segment, int]] = []
        limit = self._segment_bytes
        try:
            for frame in frames:
                if size + len(frame) > limit and size > FILE_HEADER_SIZE:
                    if pending:
                        _write_all(fd, b"".join(pending), write_at)
                        _sync_file(fd)
                        pending = []
                    base += size
                    segment = _Segment(base, self._directory / _segment_name(base))
                    fd = os.open(
                        segment.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
                    )
                    created.append((segment, fd))
                    _write_all(fd, SEGMENT_HEADER, 0)
                    _sync_file(fd)
                    _fsync_dir(self._directory)
                    size = write_at = FILE_HEADER_SIZE
                positions.append(base + size)
                pending.append(frame)
                size += len(frame)
            _write_all(fd, b"".join(pending), write_at)
            _sync_file(fd)
        except BaseException as exc:
            self._roll_back(old_tail, created, exc)
            raise
        if created:
            old_fds = [self._fd] + [created_fd for _, created_fd in created[:-1]]
            self._fd = fd
            for old_fd in old_fds:
                if old_fd is not None:
                    os.close(old_fd)
            segments += tuple(segment for segment, _ in created)
        self._view = (segments, size)
        return positions

    def _roll_back(
        self, old_tail: int, created: list[tuple[_Segment, int]], exc: BaseException
    ) -> None:
        """Undo a failed append: unlink segments it created, truncate the old tail."""
        self._broken = (
            f"log {self._directory} is unusable: a failed append could not be rolled back;"
            " reopen the log to recover"
        )
        try:
            for segment, created_fd in reversed(created):
                os.close(created_fd)
                os.unlink(segment.path)
            if created:
                _fsync_dir(self._directory)
            assert self._fd is not None
            os.ftruncate(self._fd, old_tail)
            _sync_file(self._fd)
        except Exception as rollback_error:
            logger.exception(
                "log %s: rolling back a failed append (%s) failed too", self._directory, exc
            )
            exc.add_note(f"rolling back the failed append failed too: {rollback_error!r}")
            return
        self._broken = None
        logger.warning(
            "log %s: append failed (%s); rolled back to position %s",
            self._directory,
            exc,
            _end_of(self._view[0][-1].base, old_tail),
        )

    # --- reading ------------------------------------------------------------------------

    def read_at(self, position: int) -> bytes:
        """The payload of the one record at ``position`` (random access, crc-checked).

        Args:
            position: A record's position, as :meth:`append` returned it.

        Raises:
            ValueError: No record of this log starts at ``position``.
            LogCorruptError: The record there is damaged.
        """
        self._check_open()
        segments, _tail = self._view
        if not self._writable:
            segments = _list_segments(self._directory)
        index = bisect.bisect_right([segment.base for segment in segments], position) - 1
        if index < 0 or position - segments[index].base < FILE_HEADER_SIZE:
            raise ValueError(f"position {position} is not a record of this log")
        segment = segments[index]
        offset = position - segment.base
        with open(segment.path, "rb", buffering=0) as file:
            head = os.pread(file.fileno(), FRAME_HEADER_SIZE, offset)
            if len(head) < FRAME_HEADER_SIZE or head[: len(MAGIC)] != MAGIC:
                raise ValueError(f"position {position} is not a record of this log")
            length = int.from_bytes(head[4:8], "big")
            frame = head + os.pread(file.fileno(), length, offset + FRAME_HEADER_SIZE)
        match decode_frame(frame, 0):
            case GoodFrame(payload=payload):
                return payload
            case _:
                raise LogCorruptError(f"{segment.path}: damaged record at offset {offset}")

    def read_from(self, position: int = 0) -> Iterator[Record]:
        """Iterate over the records from ``position`` on, in order, each crc-checked.

        A writer yields only committed records. A reader stops quietly at an incomplete or
        bad frame at the very end of the last segment (the writer may be in the middle of an
        append), and goes on into segments the writer creates while it reads.

        A record appended by a call that then fails is rolled back; a reader in another
        process may already have seen it.

        Args:
            position: A record's position, a ``next_position``, the position of a segment
                file (its first record follows), :attr:`end`, or 0 for the beginning.

        Returns:
            An iterator of :class:`Record`.

        The check at the call is cheap: it looks for a frame's magic at ``position``, not
        at every record from the segment's start. A bogus position that lands on the magic
        bytes inside a payload passes it, and iterating then fails the crc check.

        Raises:
            ValueError: ``position`` is not one of the above (checked at the call), or the
                log is closed.
            LogCorruptError: (while iterating) A damaged record is followed by intact ones,
                a segment but the last is damaged or truncated, or segments are missing.
        """
        self._check_open()
        segments, tail_size = self._view
        if not self._writable:
            segments = _list_segments(self._directory)
        index, offset = self._locate(position, segments, tail_size)
        return self._records(index, offset, segments)

    def _locate(
        self, position: int, segments: tuple[_Segment, ...], tail_size: int | None
    ) -> tuple[int, int]:
        """Map a position to (segment index, file offset) or raise ValueError."""
        if position < 0:
            raise ValueError(f"position {position} is negative")
        if not segments:
            if position == 0:
                return 0, FILE_HEADER_SIZE
            raise ValueError(f"position {position} is beyond the end of the empty log")
        if position == 0:
            return 0, FILE_HEADER_SIZE
        index = bisect.bisect_right([segment.base for segment in segments], position) - 1
        if index < 0:
            raise ValueError(f"position {position} is before the first segment")
        segment = segments[index]
        offset = position - segment.base
        if offset == 0:
            return index, FILE_HEADER_SIZE
        if offset < FILE_HEADER_SIZE:
            raise ValueError(f"position {position} is inside the header of {segment.path.name}")
        is_last = index == len(segments) - 1
        if tail_size is not None and is_last:
            if offset > tail_size:
                raise ValueError(f"position {position} is beyond the end of the log")
            if offset == tail_size:
                return index, offset
        try:
            fd = os.open(segment.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ValueError(f"position {position}: segment {segment.path.name} is gone") from None
        try:
            if offset > os.fstat(fd).st_size:
                raise ValueError(f"position {position} is beyond the end of the log")
            found = os.pread(fd, len(MAGIC), offset)
        finally:
            os.close(fd)
        if found == MAGIC:
            return index, offset
        if is_last and tail_size is None and MAGIC.startswith(found):
            # End of the file, or a record that a writer is writing right now.
            return index, offset
        if not found and not is_last:
            raise ValueError(f"position {position} is beyond the end of {segment.path.name}")
        raise ValueError(f"position {position} is not a record boundary")

    def _records(self, index: int, offset: int, segments: tuple[_Segment, ...]) -> Iterator[Record]:
        tail_size: int | None = None
        while True:
            if self._writable:
                segments, tail_size = self._view
            elif not segments:
                segments = _list_segments(self._directory)
                if not segments:
                    return
            segment = segments[index]
            is_last = index == len(segments) - 1
            limit = tail_size if is_last else None
            stop = yield from self._segment_records(segment, offset, limit, is_last)
            if stop is None:  # the last segment vanished (a failed append rolled back)
                return
            if not is_last:
                if stop.reason is not None:
                    raise _damaged(segment, stop)
                following = segments[index + 1]
                if segment.base + stop.offset != following.base:
                    raise LogCorruptError(
                        f"{segment.path} ends at position {segment.base + stop.offset} but the"
                        f" next segment, {following.path.name}, starts at {following.base}"
                    )
                index += 1
                offset = FILE_HEADER_SIZE
                continue
            if self._writable:
                if stop.reason is not None:
                    raise _damaged(segment, stop)
                if self._view == (segments, tail_size):
                    return
                offset = stop.offset  # appended to while we read: go on from here
                continue
            newer = _list_segments(self._directory)
            if newer and newer[-1] != segment:
                # The writer rolled over while we read: this segment is complete now.
                index = bisect.bisect_left([each.base for each in newer], segment.base)
                if index == len(newer) or newer[index] != segment:
                    return
                segments, offset = newer, max(stop.offset, FILE_HEADER_SIZE)
                continue
            if stop.reason is None or not self._tail_resumes(segment, stop):
                return
            offset = max(stop.offset, FILE_HEADER_SIZE)

    def _segment_records(
        self, segment: _Segment, offset: int, limit: int | None, is_last: bool
    ) -> Generator[Record, None, _Stop | None]:
        """Yield the records of one segment from ``offset``; return where and why it ended.

        Returns None if the (last) segment no longer exists.
        """
        try:
            fd = os.open(segment.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            if is_last and not self._writable:
                return None
            raise LogCorruptError(f"segment {segment.path} is missing") from None
        try:
            if offset == FILE_HEADER_SIZE:
                header = os.pread(fd, FILE_HEADER_SIZE, 0)
                if header != SEGMENT_HEADER:
                    if is_last and not self._writable and _is_torn_header(header, len(header)):
                        return _Stop(0, f"incomplete segment header {header!r}")
                    try:
                        check_header(header, SEGMENT_HEADER)
                    except LogCorruptError as error:
                        raise LogCorruptError(f"{segment.path}: {error}") from None
            walker = _walk(fd, offset, limit)
            base = segment.base
            highest = -1
            while True:
                try:
                    shift, frames = next(walker)
                except StopIteration as done:
                    stop: _Stop = done.value
                    break
                start = base + shift
                for frame_offset, payload in frames:
                    position = start + frame_offset
                    highest = position + FRAME_HEADER_SIZE + len(payload)
                    yield Record(position, payload, highest)
                if self._reader_end is not None and highest > self._reader_end:
                    self._reader_end = highest
            return stop
        finally:
            os.close(fd)

    def _tail_resumes(self, segment: _Segment, stop: _Stop) -> bool:
        """Decide what a reader's damaged-looking tail is.

        Returns:
            True if the record at ``stop.offset`` is intact now (a writer finished it);
            False if nothing intact follows (a torn tail or a record still being written).

        Raises:
            LogCorruptError: An intact record follows a damaged one.
        """
        for attempt in range(2):
            try:
                fd = os.open(segment.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return False
            try:
                rest = _pread_to_end(fd, stop.offset)
            finally:
                os.close(fd)
            if stop.offset < FILE_HEADER_SIZE:
                if rest[:FILE_HEADER_SIZE] == SEGMENT_HEADER:
                    return True
                following = find_next_good_frame(rest, 0)
            elif isinstance(decode_frame(rest, 0), GoodFrame):
                return True
            else:
                following = find_next_good_frame(rest, 1)
            if following is None:
                return False
            if attempt == 1:
                raise _damaged(segment, stop, following=stop.offset + following)
            # A writer may have finished the record between our reads: look once more.
        return False  # pragma: no cover  (the loop returns or raises)

    def scan(self) -> Iterator[Record | Damage]:
        """Check the whole log, every segment, for ``verify``.

        Never raises for damage: each damaged stretch is reported as a :class:`Damage` and
        reading resumes at the next intact record (found by its magic and crc), so a frame
        that only looks intact may be reported inside a damaged stretch. Missing or
        overlapping segments and a torn tail of the last segment are reported too. A reader
        scans the files as they are at the call; a writer scans its committed records.

        Returns:
            An iterator of :class:`Record` and :class:`Damage`, in log order.

        Raises:
            ValueError: The log is closed.
        """
        self._check_open()
        segments, tail_size = self._view
        if not self._writable:
            segments = _list_segments(self._directory)
        return self._scan(segments, tail_size)

    def _scan(
        self, segments: tuple[_Segment, ...], tail_size: int | None
    ) -> Iterator[Record | Damage]:
        expected = 0
        for index, segment in enumerate(segments):
            is_last = index == len(segments) - 1
            name = segment.path.name
            if segment.base > expected:
                yield Damage(
                    expected,
                    f"{expected} bytes missing: segment {name} starts at position"
                    f" {segment.base}, the log before it ends at {expected}",
                    segment.base - expected,
                )
            elif segment.base < expected:
                yield Damage(
                    segment.base,
                    f"segment {name} overlaps the previous one, which ends at {expected}",
                    expected - segment.base,
                )
            try:
                fd = os.open(segment.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                yield Damage(segment.base, f"segment {name} vanished while scanning", 0)
                continue
            try:
                size = os.fstat(fd).st_size
                if is_last and tail_size is not None:
                    size = min(size, tail_size)
                header = os.pread(fd, FILE_HEADER_SIZE, 0)
                offset: int | None = FILE_HEADER_SIZE
                if header != SEGMENT_HEADER:
                    rest = _pread_range(fd, 0, size)
                    offset = find_next_good_frame(rest, 0)
                    yield Damage(
                        segment.base,
                        f"{name}: bad segment header {header!r}",
                        size if offset is None else offset,
                    )
                while offset is not None:
                    walker = _walk(fd, offset, size)
                    while True:
                        try:
                            shift, frames = next(walker)
                        except StopIteration as done:
                            stop: _Stop = done.value
                            break
                        start = segment.base + shift
                        for frame_offset, payload in frames:
                            position = start + frame_offset
                            yield Record(
                                position, payload, position + FRAME_HEADER_SIZE + len(payload)
                            )
                    if stop.reason is None:
                        break
                    rest = _pread_range(fd, stop.offset, size)
                    following = find_next_good_frame(rest, 1)
                    reason = f"{name} offset {stop.offset}: {stop.reason}"
                    if following is None and is_last:
                        reason = f"torn tail: {reason}"
                    yield Damage(
                        segment.base + stop.offset,
                        reason,
                        len(rest) if following is None else following,
                    )
                    offset = None if following is None else stop.offset + following
                expected = segment.base + size
            finally:
                os.close(fd)

    def _find_reader_end(self) -> int:
        segments = _list_segments(self._directory)
        if not segments:
            return 0
        last = segments[-1]
        try:
            fd = os.open(last.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return last.base
        try:
            if os.pread(fd, FILE_HEADER_SIZE, 0) != SEGMENT_HEADER:
                return last.base
            stop = _drain(_walk(fd, FILE_HEADER_SIZE, None))
        finally:
            os.close(fd)
        return _end_of(last.base, stop.offset)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("I/O operation on a closed log")

    def __repr__(self) -> str:
        """Describe the log for debugging.

        Returns:
            The directory and mode.
        """
        mode = "writable" if self._writable else "read-only"
        state = "closed" if self._closed else mode
        return f"<Log {str(self._directory)!r} {state}>"


# --- helpers ----------------------------------------------------------------------------


def _damaged(
    segment: _Segment, stop: _Stop, *, following: int | None = None, unchanged: bool = False
) -> LogCorruptError:
    """The error for a damaged record at ``stop`` that is not a torn tail."""
    message = (
        f"{segment.path}: damaged record at offset {stop.offset}"
        f" (position {segment.base + stop.offset}): {stop.reason}"
    )
    if following is not None:
        message += f"; an intact record follows at offset {following}"
    if unchanged:
        message += "; nothing was changed"
    return LogCorruptError(message)


def _segment_name(base: int) -> str:
    return f"{base:020d}.seg"


def _end_of(base: int, size: int) -> int:
    """The global end of a segment whose good records end at file offset ``size``."""
    return base if size <= FILE_HEADER_SIZE else base + size


def _list_segments(directory: Path) -> tuple[_Segment, ...]:
    found: list[_Segment] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            match = _SEGMENT_NAME.match(entry.name)
            if match is not None and entry.is_file(follow_symlinks=False):
                found.append(_Segment(int(match[1]), Path(entry.path)))
    found.sort(key=lambda segment: segment.base)
    return tuple(found)


def _contiguity_problem(segments: tuple[_Segment, ...]) -> str | None:
    """Say what is wrong if the segments do not tile the log from position 0."""
    if segments[0].base != 0:
        return f"log segments before {segments[0].path} are missing (it starts at its base)"
    for segment, following in itertools.pairwise(segments):
        end = segment.base + segment.path.stat().st_size
        if end != following.base:
            return (
                f"{segment.path} ends at position {end} but the next segment,"
                f" {following.path.name}, starts at {following.base}"
            )
    return None


def _walk(
    fd: int, start: int, stop: int | None
) -> Generator[tuple[int, list[tuple[int, bytes]]], None, _Stop]:
    """Read good frames from ``start`` in large chunks.

    Yields ``(shift, frames)`` batches, where a frame's file offset is ``shift + offset``.
    Returns where the run of good frames ended: at ``stop`` or the end of the file with no
    reason, or at a bad or incomplete frame with its reason.
    """
    buf = b""
    shift = start  # file offset of buf[0]
    index = 0  # offset in buf of the next frame
    want = _CHUNK
    while True:
        read_at = shift + len(buf)
        count = want if stop is None else min(want, stop - read_at)
        data = os.pread(fd, count, read_at) if count > 0 else b""
        if data:
            buf = buf[index:] + data if index < len(buf) else data
            shift += index
            index = 0
        frames, index = split_frames(buf, index)
        if frames:
            yield shift, frames
        if index == len(buf):
            if not data:
                return _Stop(shift + index, None)
            want = _CHUNK
            continue
        result = decode_frame(buf, index)
        if isinstance(result, IncompleteFrame):
            if data:
                want = max(_CHUNK, result.needed - result.available)
                continue
            return _Stop(
                shift + index,
                f"incomplete record ({result.available} of {result.needed} bytes)",
            )
        assert isinstance(result, BadFrame)
        return _Stop(shift + index, result.reason)


def _drain(generator: Generator[object, None, _T]) -> _T:
    """Run a generator to its end and return its return value."""
    while True:
        try:
            next(generator)
        except StopIteration as done:
            value: _T = done.value
            return value


def _pread_range(fd: int, start: int, end: int) -> bytes:
    """Read file bytes ``[start, end)`` (fewer if the file is shorter)."""
    parts: list[bytes] = []
    while start < end:
        data = os.pread(fd, min(end - start, 64 * _CHUNK), start)
        if not data:
            break
        parts.append(data)
        start += len(data)
    return b"".join(parts)


def _pread_to_end(fd: int, start: int) -> bytes:
    return _pread_range(fd, start, max(os.fstat(fd).st_size, start))


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        if written <= 0:
            raise OSError(errno.EIO, "write wrote nothing")
        view = view[written:]
        offset += written


def _sync_file(fd: int) -> None:
    """Make a file's data (and its size) durable."""
    if sys.platform == "darwin":  # pragma: no cover
        fcntl.fcntl(fd, fcntl.F_FULLFSYNC)
    else:
        os.fdatasync(fd)


def _fsync_dir(directory: Path) -> None:
    """Make a directory's entries (created, renamed, removed files) durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_segment(path: Path) -> int:
    """Create a segment holding only its header, synced; return its descriptor."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        _write_all(fd, SEGMENT_HEADER, 0)
        _sync_file(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    return fd


def _is_torn_header(header: bytes, size: int) -> bool:
    """Whether a segment header looks like a crash hit the segment's creation."""
    if size < FILE_HEADER_SIZE:
        return True
    return any(
        header == SEGMENT_HEADER[:kept] + bytes(FILE_HEADER_SIZE - kept)
        for kept in range(FILE_HEADER_SIZE)
    )


def _recover_tail(directory: Path, segment: _Segment, fd: int) -> tuple[int, RecoveryReport | None]:
    """Check the last segment; cut off a torn tail (keeping it in ``torn/``).

    Returns:
        The segment's size after recovery and the report, if anything was dropped.

    Raises:
        LogCorruptError: Damage followed by an intact record, or a header that is neither
            right nor torn; nothing was changed.
    """
    size = os.fstat(fd).st_size
    header = os.pread(fd, FILE_HEADER_SIZE, 0)
    if header != SEGMENT_HEADER:
        whole = _pread_range(fd, 0, size)
        if not (_is_torn_header(header, size) and find_next_good_frame(whole, 0) is None):
            try:
                check_header(header, SEGMENT_HEADER)
            except LogCorruptError as error:
                raise LogCorruptError(f"{segment.path}: {error}; nothing was changed") from None
        saved = _save_torn(directory, segment, segment.base, whole) if whole else None
        _write_all(fd, SEGMENT_HEADER, 0)
        os.ftruncate(fd, FILE_HEADER_SIZE)
        _sync_file(fd)
        _fsync_dir(directory)
        report = RecoveryReport(
            segment.base, len(whole), saved, f"torn segment header {header!r} ({size} bytes)"
        )
        _warn_recovered(directory, segment, report)
        return FILE_HEADER_SIZE, report
    stop = _drain(_walk(fd, FILE_HEADER_SIZE, None))
    if stop.reason is None:
        return stop.offset, None
    rest = _pread_range(fd, stop.offset, size)
    following = find_next_good_frame(rest, 1)
    if following is not None:
        raise _damaged(segment, stop, following=stop.offset + following, unchanged=True)
    saved = _save_torn(directory, segment, segment.base + stop.offset, rest)
    os.ftruncate(fd, stop.offset)
    _sync_file(fd)
    _fsync_dir(directory)
    report = RecoveryReport(
        segment.base + stop.offset, len(rest), saved, f"torn tail: {stop.reason}"
    )
    _warn_recovered(directory, segment, report)
    return stop.offset, report


def _warn_recovered(directory: Path, segment: _Segment, report: RecoveryReport) -> None:
    logger.warning(
        "log %s: dropped %s bytes at position %s of %s after a crash (%s); kept in %s",
        directory,
        report.dropped_bytes,
        report.position,
        segment.path.name,
        report.reason,
        report.saved_to,
    )


def _save_torn(directory: Path, segment: _Segment, position: int, data: bytes) -> Path:
    """Keep bytes that recovery drops in ``torn/<segment>.<position>.bin``, synced."""
    torn = directory / TORN_DIRECTORY
    created = not torn.is_dir()
    torn.mkdir(mode=0o700, exist_ok=True)
    stem = f"{segment.path.name}.{position}"
    path = torn / f"{stem}.bin"
    attempt = 1
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            break
        except FileExistsError:
            attempt += 1
            path = torn / f"{stem}.{attempt}.bin"
    try:
        _write_all(fd, data, 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(torn)
    if created:
        _fsync_dir(directory)
    return path
