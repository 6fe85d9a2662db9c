"""Tests for p2psocial.store.log: appending, reading, crash recovery, corruption, readers."""

from __future__ import annotations

import errno
import io
import itertools
import logging
import os
import random
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psocial.errors import LogCorruptError, StoreError
from p2psocial.store.framing import (
    FILE_HEADER_SIZE,
    FRAME_HEADER_SIZE,
    MAGIC,
    MAX_PAYLOAD,
    SEGMENT_HEADER,
    encode_frame,
)
from p2psocial.store.log import Damage, Log, Record, RecoveryReport

FIRST = "00000000000000000000.seg"


# --- helpers ----------------------------------------------------------------------------


def make_payloads(count: int, *, seed: int = 0, low: int = 0, high: int = 200) -> list[bytes]:
    rnd = random.Random(seed)
    return [rnd.randbytes(rnd.randint(low, high)) for _ in range(count)]


def write_log(directory: Path, batches: list[list[bytes]], **options: int) -> list[int]:
    positions: list[int] = []
    with Log.open(directory, writable=True, **options) as log:
        for batch in batches:
            positions += log.append(batch)
    return positions


def payloads_of(log: Log, position: int = 0) -> list[bytes]:
    return [record.payload for record in log.read_from(position)]


def read_all(directory: Path) -> list[Record]:
    with Log.open(directory, writable=False) as log:
        return list(log.read_from())


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` with its bytes (and every directory, as b"<dir>")."""
    found: dict[str, bytes] = {}
    for path in sorted(directory.rglob("*")):
        key = str(path.relative_to(directory))
        found[key] = b"<dir>" if path.is_dir() else path.read_bytes()
    return found


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


class Pristine:
    """A log of N records written once, copied afresh for each damage scenario."""

    def __init__(self, root: Path, payloads: list[bytes]) -> None:
        self.root = root
        self.source = root / "pristine"
        self.payloads = payloads
        self.positions = write_log(self.source, [payloads[:-1], payloads[-1:]])
        self.size = (self.source / FIRST).stat().st_size
        self.copies = 0

    @property
    def last(self) -> int:
        return self.positions[-1]

    def copy(self) -> Path:
        self.copies += 1
        target = self.root / f"copy{self.copies}"
        shutil.copytree(self.source, target)
        return target


@pytest.fixture
def pristine(tmp_path: Path) -> Pristine:
    payloads = make_payloads(12, seed=7)
    payloads[-1] = random.Random(1).randbytes(150)  # a last record with many cut points
    return Pristine(tmp_path, payloads)


# --- basics -----------------------------------------------------------------------------


def test_new_log_layout_and_permissions(tmp_path: Path) -> None:
    directory = tmp_path / "home" / "log"
    with Log.open(directory, writable=True) as log:
        assert log.writable
        assert log.recovery is None
        assert log.end == 0
        assert list(log.read_from()) == []
        assert log.append([b"first", b"second"]) == [8, 8 + FRAME_HEADER_SIZE + 5]
        assert log.end == 8 + 2 * FRAME_HEADER_SIZE + 11
    assert directory.stat().st_mode & 0o777 == 0o700
    assert [path.name for path in segments(directory)] == [FIRST]
    assert (directory / FIRST).stat().st_mode & 0o777 == 0o600
    assert (directory / FIRST).read_bytes() == (
        SEGMENT_HEADER + encode_frame(b"first") + encode_frame(b"second")
    )


def test_records_round_trip_with_positions(tmp_path: Path) -> None:
    payloads = make_payloads(50)
    positions = write_log(tmp_path / "log", [payloads[:20], payloads[20:], []])
    records = read_all(tmp_path / "log")
    assert [record.payload for record in records] == payloads
    assert [record.position for record in records] == positions
    for record, following in itertools.pairwise(records):
        assert record.next_position == following.position
        assert record.next_position == record.position + FRAME_HEADER_SIZE + len(record.payload)


def test_empty_append_is_a_no_op(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Log.open(tmp_path / "log", writable=True) as log:
        calls = count_calls(monkeypatch, "fdatasync")
        assert log.append([]) == []
        assert calls == []
        assert (tmp_path / "log" / FIRST).stat().st_size == FILE_HEADER_SIZE


def test_oversize_payload_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with Log.open(tmp_path / "log", writable=True) as log:
        log.append([b"kept"])
        before = snapshot(tmp_path / "log")
        with pytest.raises(ValueError, match="exceeds"):
            log.append([b"fine", b"\x00" * (MAX_PAYLOAD + 1)])
        assert snapshot(tmp_path / "log") == before
        assert payloads_of(log) == [b"kept"]
        log.append([b"\x00" * MAX_PAYLOAD])  # exactly the limit is fine
        assert payloads_of(log) == [b"kept", b"\x00" * MAX_PAYLOAD]


def count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Record the descriptors passed to os.<name> from now on (still calling it)."""
    calls: list[int] = []
    real: Callable[[int], None] = getattr(os, name)

    def spy(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, name, spy)
    return calls


def test_a_batch_is_one_group_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payloads = make_payloads(1000, low=350, high=450)
    with Log.open(tmp_path / "log", writable=True) as log:
        data_syncs = count_calls(monkeypatch, "fdatasync")
        full_syncs = count_calls(monkeypatch, "fsync")
        positions = log.append(payloads)
        assert len(data_syncs) == 1
        assert full_syncs == []
        assert payloads_of(log) == payloads
        assert [record.position for record in log.read_from()] == positions


def test_closed_and_read_only_logs_refuse_work(tmp_path: Path) -> None:
    log = Log.open(tmp_path / "log", writable=True)
    log.close()
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.append([b"x"])
    with pytest.raises(ValueError, match="closed"):
        log.read_from()
    with Log.open(tmp_path / "log", writable=False) as reader:
        assert not reader.writable
        with pytest.raises(io.UnsupportedOperation):
            reader.append([b"x"])


def test_read_only_open_of_a_missing_log(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no log"):
        Log.open(tmp_path / "nowhere", writable=False)
    assert not (tmp_path / "nowhere").exists()


def test_too_small_segment_bytes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="segment_bytes"):
        Log.open(tmp_path / "log", writable=True, segment_bytes=FILE_HEADER_SIZE)


def test_reopen_continues_where_the_log_ended(tmp_path: Path) -> None:
    first = write_log(tmp_path / "log", [[b"a", b"b"]])
    with Log.open(tmp_path / "log", writable=True) as log:
        assert log.recovery is None
        assert log.end == first[-1] + FRAME_HEADER_SIZE + 1
        [third] = log.append([b"c"])
        assert third == first[-1] + FRAME_HEADER_SIZE + 1
    assert [record.payload for record in read_all(tmp_path / "log")] == [b"a", b"b", b"c"]


# --- positions and segments -------------------------------------------------------------


@pytest.fixture
def rolled(tmp_path: Path) -> tuple[Path, list[bytes], list[int]]:
    """A log spread over many small segments, written in batches that cross segments."""
    payloads = make_payloads(120, seed=3, low=10, high=90)
    payloads[50] = b"B" * 700  # bigger than a segment: it gets one of its own
    batches = [payloads[:1], payloads[1:40], payloads[40:41], payloads[41:110], payloads[110:]]
    positions = write_log(tmp_path / "log", batches, segment_bytes=300)
    return tmp_path / "log", payloads, positions


def test_segments_roll_over_and_are_named_by_position(
    rolled: tuple[Path, list[bytes], list[int]],
) -> None:
    directory, payloads, positions = rolled
    files = segments(directory)
    assert len(files) > 20
    expected_base = 0
    for path in files:
        assert path.name == f"{expected_base:020d}.seg"
        data = path.read_bytes()
        assert data.startswith(SEGMENT_HEADER)
        frames = len(data) - FILE_HEADER_SIZE
        assert len(data) <= 300 or frames == FRAME_HEADER_SIZE + 700
        expected_base += len(data)
    alone = directory / f"{positions[50] - FILE_HEADER_SIZE:020d}.seg"
    assert alone.read_bytes() == SEGMENT_HEADER + encode_frame(payloads[50])
    records = read_all(directory)
    assert [record.payload for record in records] == payloads
    assert [record.position for record in records] == positions
    with Log.open(directory, writable=False) as reader:
        assert reader.end == records[-1].next_position


def test_read_from_every_record_position(rolled: tuple[Path, list[bytes], list[int]]) -> None:
    directory, payloads, positions = rolled
    for writable in (False, True):
        with Log.open(directory, writable=writable, segment_bytes=300) as log:
            for index, position in enumerate(positions):
                assert payloads_of(log, position) == payloads[index:], (writable, index)
            assert payloads_of(log, 0) == payloads
            assert payloads_of(log, log.end) == []


def test_read_from_next_positions_and_segment_starts(
    rolled: tuple[Path, list[bytes], list[int]],
) -> None:
    directory, payloads, _ = rolled
    with Log.open(directory, writable=False) as log:
        records = list(log.read_from())
        for index, record in enumerate(records):
            assert payloads_of(log, record.next_position) == payloads[index + 1 :]
        for path in segments(directory):
            base = int(path.name[:20])
            first = next(log.read_from(base))
            assert first.position == base + FILE_HEADER_SIZE


def test_read_from_refuses_positions_that_are_not_boundaries(
    rolled: tuple[Path, list[bytes], list[int]],
) -> None:
    directory, _, positions = rolled
    boundaries = set(positions) | {0}
    with Log.open(directory, writable=True, segment_bytes=300) as writer:
        end = writer.end
        boundaries.add(end)
        boundaries.update(int(path.name[:20]) for path in segments(directory))
        with Log.open(directory, writable=False) as reader:
            for position in [*range(0, 2000), end + 1, end + 1000, -1]:
                if position in boundaries:
                    continue
                for log in (writer, reader):
                    with pytest.raises(ValueError, match="position"):
                        log.read_from(position)


def test_append_after_reopen_with_rollover(rolled: tuple[Path, list[bytes], list[int]]) -> None:
    directory, payloads, _ = rolled
    more = make_payloads(30, seed=11, low=50, high=120)
    with Log.open(directory, writable=True, segment_bytes=300) as log:
        end = log.end
        positions = log.append(more)
        assert positions[0] >= end
        assert payloads_of(log, end) == more
        assert payloads_of(log) == payloads + more
    assert [record.payload for record in read_all(directory)] == payloads + more


@settings(max_examples=40, deadline=None)
@given(
    batches=st.lists(st.lists(st.binary(max_size=120), max_size=12), max_size=8),
    segment_bytes=st.integers(min_value=21, max_value=600),
)
def test_property_positions_and_reads_agree(batches: list[list[bytes]], segment_bytes: int) -> None:
    payloads = [payload for batch in batches for payload in batch]
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp) / "log"
        positions = write_log(directory, batches, segment_bytes=segment_bytes)
        assert positions == sorted(set(positions))
        with Log.open(directory, writable=True, segment_bytes=segment_bytes) as log:
            assert log.recovery is None
            records = list(log.read_from())
            assert [record.payload for record in records] == payloads
            assert [record.position for record in records] == positions
            for index, position in enumerate(positions):
                assert payloads_of(log, position) == payloads[index:]
            assert all(isinstance(item, Record) for item in log.scan())


# --- crash recovery ---------------------------------------------------------------------


def check_recovered(
    directory: Path,
    pristine: Pristine,
    *,
    kept: int,
    dropped: bytes,
    reason: str,
) -> None:
    """Open writable, check the report and the records, append, and read back."""
    end = pristine.positions[kept] if kept < len(pristine.positions) else pristine.size
    with Log.open(directory, writable=True) as log:
        report = log.recovery
        assert report is not None
        saved = directory / "torn" / f"{FIRST}.{end}.bin"
        assert report == RecoveryReport(end, len(dropped), saved, report.reason)
        assert report.reason.startswith(reason)
        assert saved.read_bytes() == dropped
        assert saved.stat().st_mode & 0o777 == 0o600
        assert (directory / FIRST).stat().st_size == end
        assert log.end == end
        assert payloads_of(log) == pristine.payloads[:kept]
        assert log.append([b"after recovery"]) == [end]
    with Log.open(directory, writable=True) as log:
        assert log.recovery is None
        assert payloads_of(log) == [*pristine.payloads[:kept], b"after recovery"]


def test_torn_last_record_at_every_cut_point(pristine: Pristine) -> None:
    frame = encode_frame(pristine.payloads[-1])
    assert pristine.size == pristine.last + len(frame)
    for cut in range(pristine.last + 1, pristine.size):
        directory = pristine.copy()
        os.truncate(directory / FIRST, cut)
        check_recovered(
            directory,
            pristine,
            kept=len(pristine.payloads) - 1,
            dropped=frame[: cut - pristine.last],
            reason="torn tail",
        )
        shutil.rmtree(directory)


def test_a_whole_missing_last_record_needs_no_recovery(pristine: Pristine) -> None:
    directory = pristine.copy()
    os.truncate(directory / FIRST, pristine.last)
    with Log.open(directory, writable=True) as log:
        assert log.recovery is None
        assert payloads_of(log) == pristine.payloads[:-1]
    assert not (directory / "torn").exists()


def tails() -> Iterator[tuple[str, bytes]]:
    rnd = random.Random(99)
    for length in [1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 40, 511, 4096, 70000]:
        yield f"random-{length}", rnd.randbytes(length)
        yield f"zeros-{length}", bytes(length)
        yield f"magic-then-random-{length}", (MAGIC + rnd.randbytes(length))
        yield f"magic-then-zeros-{length}", (MAGIC + bytes(length))


def test_garbage_after_the_last_record_is_a_torn_tail(pristine: Pristine) -> None:
    for _, tail in tails():
        directory = pristine.copy()
        with (directory / FIRST).open("ab") as segment:
            segment.write(tail)
        check_recovered(
            directory, pristine, kept=len(pristine.payloads), dropped=tail, reason="torn tail"
        )
        shutil.rmtree(directory)


def test_partial_record_followed_by_zeros_is_a_torn_tail(pristine: Pristine) -> None:
    # What some file systems leave after a crash: the size grew, the data did not all land.
    frame = encode_frame(pristine.payloads[-1])
    for written in [0, 3, 4, 11, 12, 13, 100, len(frame) - 1]:
        directory = pristine.copy()
        data = (directory / FIRST).read_bytes()[: pristine.last]
        torn = frame[:written] + bytes(len(frame) - written)
        (directory / FIRST).write_bytes(data + torn)
        check_recovered(
            directory, pristine, kept=len(pristine.payloads) - 1, dropped=torn, reason="torn"
        )
        shutil.rmtree(directory)


def test_recovery_logs_a_warning(pristine: Pristine, caplog: pytest.LogCaptureFixture) -> None:
    directory = pristine.copy()
    os.truncate(directory / FIRST, pristine.size - 1)
    with caplog.at_level(logging.WARNING, logger="p2psocial.store.log"):
        Log.open(directory, writable=True).close()
    [entry] = [r for r in caplog.records if r.name == "p2psocial.store.log"]
    assert entry.levelno == logging.WARNING
    assert str(pristine.last) in entry.getMessage()
    assert "torn" in entry.getMessage()


def test_a_second_tear_at_the_same_position_keeps_both_copies(pristine: Pristine) -> None:
    directory = pristine.copy()
    for tail in (b"first garbage", b"second garbage"):
        with (directory / FIRST).open("ab") as segment:
            segment.write(tail)
        with Log.open(directory, writable=True) as log:
            assert log.recovery is not None
            assert log.recovery.saved_to is not None
            assert log.recovery.saved_to.read_bytes() == tail
    assert len(list((directory / "torn").iterdir())) == 2


def test_read_only_open_changes_nothing_at_a_torn_tail(pristine: Pristine) -> None:
    directory = pristine.copy()
    os.truncate(directory / FIRST, pristine.size - 5)
    before = snapshot(directory)
    with Log.open(directory, writable=False) as reader:
        assert reader.recovery is None
        assert payloads_of(reader) == pristine.payloads[:-1]
        assert reader.end == pristine.last
        assert payloads_of(reader, pristine.last) == []
    assert snapshot(directory) == before


def test_scan_reports_a_torn_tail_without_changing_it(pristine: Pristine) -> None:
    directory = pristine.copy()
    os.truncate(directory / FIRST, pristine.size - 1)
    before = snapshot(directory)
    with Log.open(directory, writable=False) as reader:
        items = list(reader.scan())
    assert [item.payload for item in items if isinstance(item, Record)] == pristine.payloads[:-1]
    assert items[-1] == Damage(pristine.last, items[-1].reason, pristine.size - 1 - pristine.last)
    assert isinstance(items[-1], Damage)
    assert items[-1].reason.startswith("torn tail")
    assert snapshot(directory) == before


@pytest.mark.parametrize(
    "content",
    [b"", b"p", b"p2slo", b"p2slog\x00", b"p2s\x00\x00\x00\x00\x00", bytes(8), bytes(100)],
)
def test_torn_header_of_the_last_segment_is_rewritten(tmp_path: Path, content: bytes) -> None:
    directory = tmp_path / "log"
    directory.mkdir()
    (directory / FIRST).write_bytes(content)
    with Log.open(directory, writable=True) as log:
        report = log.recovery
        assert report is not None
        assert report.position == 0
        assert report.dropped_bytes == len(content)
        assert "header" in report.reason
        if content:
            assert report.saved_to == directory / "torn" / f"{FIRST}.0.bin"
            assert report.saved_to.read_bytes() == content
        else:
            assert report.saved_to is None
        assert (directory / FIRST).read_bytes() == SEGMENT_HEADER
        assert log.append([b"x"]) == [FILE_HEADER_SIZE]
    assert [record.payload for record in read_all(directory)] == [b"x"]


def test_torn_header_of_a_new_segment_after_rollover(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    payloads = make_payloads(10, low=40, high=60)
    write_log(directory, [payloads], segment_bytes=200)
    files = segments(directory)
    end = int(files[-1].name[:20]) + files[-1].stat().st_size
    (directory / f"{end:020d}.seg").write_bytes(SEGMENT_HEADER[:5])  # crash while creating
    with Log.open(directory, writable=True, segment_bytes=200) as log:
        assert log.recovery is not None
        assert log.recovery.position == end
        assert log.end == end
        assert payloads_of(log) == payloads
        assert log.append([b"next"]) == [end + FILE_HEADER_SIZE]
        assert payloads_of(log) == [*payloads, b"next"]


def test_a_foreign_header_is_corruption_not_a_tear(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    write_log(directory, [[b"a", b"b"]])
    data = (directory / FIRST).read_bytes()
    (directory / FIRST).write_bytes(b"NOTALOG!" + data[FILE_HEADER_SIZE:])
    before = snapshot(directory)
    with pytest.raises(LogCorruptError, match=FIRST):
        Log.open(directory, writable=True)
    assert snapshot(directory) == before


# --- corruption -------------------------------------------------------------------------


def test_any_damaged_byte_in_a_middle_record_refuses_a_writable_open(
    pristine: Pristine,
) -> None:
    middle = len(pristine.positions) // 2
    start, stop = pristine.positions[middle], pristine.positions[middle + 1]
    for offset in range(start, stop):
        directory = pristine.copy()
        flip_byte(directory / FIRST, offset)
        before = snapshot(directory)
        with pytest.raises(LogCorruptError, match=rf"{FIRST}: damaged record at offset {start}"):
            Log.open(directory, writable=True)
        assert snapshot(directory) == before, offset
        shutil.rmtree(directory)


def test_a_damaged_middle_record_seen_by_readers_and_scan(pristine: Pristine) -> None:
    middle = len(pristine.positions) // 2
    directory = pristine.copy()
    flip_byte(directory / FIRST, pristine.positions[middle] + FRAME_HEADER_SIZE)
    before = snapshot(directory)
    with Log.open(directory, writable=False) as reader:
        seen: list[bytes] = []
        with pytest.raises(LogCorruptError, match="crc mismatch"):
            seen.extend(record.payload for record in reader.read_from())
        assert seen == pristine.payloads[:middle]
        assert (
            payloads_of(reader, pristine.positions[middle + 1]) == pristine.payloads[middle + 1 :]
        )
        items = list(reader.scan())
    damage = [item for item in items if isinstance(item, Damage)]
    assert damage == [
        Damage(
            pristine.positions[middle],
            damage[0].reason,
            pristine.positions[middle + 1] - pristine.positions[middle],
        )
    ]
    assert FIRST in damage[0].reason
    assert [item.payload for item in items if isinstance(item, Record)] == [
        payload for index, payload in enumerate(pristine.payloads) if index != middle
    ]
    assert snapshot(directory) == before


def test_scan_reports_damage_in_an_earlier_segment_and_goes_on(
    rolled: tuple[Path, list[bytes], list[int]],
) -> None:
    directory, payloads, positions = rolled
    files = segments(directory)
    victim = files[3]
    base = int(victim.name[:20])
    in_victim = [index for index, position in enumerate(positions) if base < position < base + 300]
    damaged_index = in_victim[1]
    flip_byte(victim, positions[damaged_index] - base + FRAME_HEADER_SIZE)
    flip_byte(files[6], 2)  # and a damaged segment header further on
    base6 = int(files[6].name[:20])

    # Earlier segments are not rescanned on a writable open; scan() finds the damage.
    with Log.open(directory, writable=True, segment_bytes=300) as log:
        assert log.recovery is None
        items = list(log.scan())
        damage = [item for item in items if isinstance(item, Damage)]
        assert [item.position for item in damage] == [positions[damaged_index], base6]
        assert victim.name in damage[0].reason
        assert "header" in damage[1].reason
        assert damage[1].length == FILE_HEADER_SIZE
        assert [item.payload for item in items if isinstance(item, Record)] == [
            payload for index, payload in enumerate(payloads) if index != damaged_index
        ]
        seen: list[bytes] = []
        with pytest.raises(LogCorruptError, match=victim.name):
            seen.extend(record.payload for record in log.read_from())
        assert seen == payloads[:damaged_index]
        with pytest.raises(LogCorruptError, match="header"):
            payloads_of(log, positions[damaged_index + 1])


def test_a_missing_segment_refuses_a_writable_open_and_scan_reports_the_gap(
    rolled: tuple[Path, list[bytes], list[int]],
) -> None:
    directory, _, _ = rolled
    files = segments(directory)
    gone_base = int(files[2].name[:20])
    gone_size = files[2].stat().st_size
    files[2].unlink()
    before = snapshot(directory)
    with pytest.raises(LogCorruptError, match="starts at"):
        Log.open(directory, writable=True, segment_bytes=300)
    assert snapshot(directory) == before
    with Log.open(directory, writable=False) as reader:
        damage = [item for item in reader.scan() if isinstance(item, Damage)]
        assert damage == [Damage(gone_base, damage[0].reason, gone_size)]
        with pytest.raises(LogCorruptError, match="starts at"):
            list(reader.read_from())


def test_a_truncated_earlier_segment_is_corruption(
    rolled: tuple[Path, list[bytes], list[int]],
) -> None:
    directory, _, _ = rolled
    files = segments(directory)
    os.truncate(files[1], files[1].stat().st_size - 3)
    with pytest.raises(LogCorruptError, match=files[1].name):
        Log.open(directory, writable=True, segment_bytes=300)
    with Log.open(directory, writable=False) as reader, pytest.raises(LogCorruptError):
        list(reader.read_from())


# --- failures while appending -----------------------------------------------------------


def test_a_failed_partial_write_is_rolled_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "log"
    with Log.open(directory, writable=True) as log:
        log.append([b"before"])
        before = snapshot(directory)
        real_pwrite = os.pwrite
        failures: list[int] = []

        def disk_full(fd: int, data: bytes, offset: int) -> int:
            if not failures:
                failures.append(fd)
                real_pwrite(fd, bytes(data)[: len(data) // 2], offset)  # half lands on disk
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_pwrite(fd, data, offset)

        monkeypatch.setattr(os, "pwrite", disk_full)
        with caplog.at_level(logging.WARNING), pytest.raises(OSError, match="No space"):
            log.append([b"lost one", b"lost two" * 50])
        assert failures
        assert snapshot(directory) == before
        assert log.end == (directory / FIRST).stat().st_size
        assert log.append([b"after"]) == [before_end(before)]
        assert payloads_of(log) == [b"before", b"after"]
    assert "rolled back" in caplog.text
    with Log.open(directory, writable=True) as log:
        assert log.recovery is None
        assert payloads_of(log) == [b"before", b"after"]


def before_end(files: dict[str, bytes]) -> int:
    return len(files[FIRST])


def test_a_failed_fsync_is_rolled_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "log"
    with Log.open(directory, writable=True) as log:
        log.append([b"before"])
        before = snapshot(directory)
        real = os.fdatasync
        failed: list[int] = []

        def failing_once(fd: int) -> None:
            if not failed:
                failed.append(fd)
                raise OSError(errno.EIO, "Input/output error")
            real(fd)

        monkeypatch.setattr(os, "fdatasync", failing_once)
        with pytest.raises(OSError, match="Input/output"):
            log.append([b"not durable"])
        assert snapshot(directory) == before
        log.append([b"after"])
        assert payloads_of(log) == [b"before", b"after"]


@pytest.mark.parametrize("failing_call", [1, 2, 3, 4])
def test_a_failure_in_a_batch_that_rolls_over_removes_all_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_call: int
) -> None:
    directory = tmp_path / "log"
    payloads = [bytes([n]) * 80 for n in range(6)]  # two 92-byte frames fill a segment
    with Log.open(directory, writable=True, segment_bytes=200) as log:
        log.append(payloads[:2])
        before = snapshot(directory)
        real = os.fdatasync
        calls: list[int] = []

        def failing(fd: int) -> None:
            calls.append(fd)
            if len(calls) == failing_call:
                raise OSError(errno.EIO, "Input/output error")
            real(fd)

        monkeypatch.setattr(os, "fdatasync", failing)
        # Crosses two segment boundaries: sync header, sync data, sync header, sync data.
        with pytest.raises(OSError, match="Input/output"):
            log.append(payloads[2:])
        monkeypatch.setattr(os, "fdatasync", real)
        assert snapshot(directory) == before
        assert payloads_of(log) == payloads[:2]
        log.append(payloads[2:])
        assert payloads_of(log) == payloads
    assert [record.payload for record in read_all(directory)] == payloads


def test_a_failed_roll_back_makes_the_writer_refuse_until_reopened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "log"
    log = Log.open(directory, writable=True)
    log.append([b"before"])
    real = os.fdatasync

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken)
    with caplog.at_level(logging.ERROR), pytest.raises(OSError, match="Input/output") as info:
        log.append([b"x" * 100])
    assert any("rolling back" in note for note in info.value.__notes__)
    assert "rolling back" in caplog.text
    monkeypatch.setattr(os, "fdatasync", real)
    with pytest.raises(StoreError, match="reopen"):
        log.append([b"y"])
    log.close()
    with Log.open(directory, writable=True) as reopened:
        # The unsynced record may or may not have survived; the log is clean either way.
        assert payloads_of(reopened)[0] == b"before"
        reopened.append([b"after"])
        assert payloads_of(reopened)[-1] == b"after"


# --- readers alongside a writer ---------------------------------------------------------


def test_reader_sees_appends_and_stops_quietly_at_a_record_being_written(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "log"
    writer = Log.open(directory, writable=True)
    writer.append([b"one", b"two"])
    reader = Log.open(directory, writable=False)
    assert reader.end == writer.end
    writer.append([b"three"])
    assert payloads_of(reader) == [b"one", b"two", b"three"]
    assert reader.end == writer.end

    # A writer in the middle of an append: part of a frame is in the file.
    frame = encode_frame(b"four, being written")
    segment = directory / FIRST
    for cut in range(1, len(frame)):
        with segment.open("r+b") as handle:
            handle.seek(writer.end)
            handle.write(frame[:cut])
        assert payloads_of(reader) == [b"one", b"two", b"three"], cut
        assert payloads_of(reader, writer.end) == []
    with segment.open("r+b") as handle:
        handle.seek(writer.end)
        handle.write(frame)
    assert payloads_of(reader)[-1] == b"four, being written"
    writer.close()
    reader.close()


def test_reader_raises_when_an_intact_record_follows_a_damaged_tail(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    write_log(directory, [[b"one"]])
    with (directory / FIRST).open("ab") as segment:
        segment.write(b"garbage" + encode_frame(b"intact"))
    with Log.open(directory, writable=False) as reader, pytest.raises(LogCorruptError):
        list(reader.read_from())


def test_reader_follows_the_writer_into_new_segments(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    writer = Log.open(directory, writable=True, segment_bytes=120)
    reader = Log.open(directory, writable=False)
    expected: list[bytes] = []
    position = 0
    for round_ in range(30):
        batch = make_payloads(3, seed=round_, low=20, high=60)
        writer.append(batch)
        expected += batch
        records = list(reader.read_from(position))
        position = records[-1].next_position
        assert [record.payload for record in records] == batch
    assert payloads_of(reader) == expected
    assert len(segments(directory)) > 10
    writer.close()
    reader.close()


def test_readers_running_alongside_a_writer_thread_see_a_prefix(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    expected = make_payloads(3000, seed=5, low=0, high=300)
    batches = [expected[start : start + 37] for start in range(0, len(expected), 37)]
    writer = Log.open(directory, writable=True, segment_bytes=4096)
    done = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for batch in batches:
                writer.append(batch)
        except BaseException as error:  # handed to the test thread
            errors.append(error)
        finally:
            done.set()

    thread = threading.Thread(target=write)
    thread.start()
    incremental: list[bytes] = []
    follower = Log.open(directory, writable=False)
    position = 0
    rounds = 0
    try:
        while True:
            finished = done.is_set()
            with Log.open(directory, writable=False) as reader:
                seen = payloads_of(reader)
            assert seen == expected[: len(seen)]
            for record in follower.read_from(position):
                incremental.append(record.payload)
                position = record.next_position
            assert incremental == expected[: len(incremental)]
            rounds += 1
            if finished:
                break
    finally:
        thread.join()
        follower.close()
        writer.close()
    assert not errors
    assert incremental == expected
    assert seen == expected
    assert rounds >= 1


def test_iterators_pick_up_appends_and_rollovers_made_after_they_were_created(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "log"
    writer = Log.open(directory, writable=True, segment_bytes=150)
    reader = Log.open(directory, writable=False)
    writer.append([b"a" * 40])
    from_writer = writer.read_from()
    from_reader = reader.read_from()
    assert next(from_writer).payload == b"a" * 40
    assert next(from_reader).payload == b"a" * 40
    later = [bytes([n]) * 40 for n in range(10)]  # rolls over several times
    writer.append(later)
    assert [record.payload for record in from_writer] == later
    assert [record.payload for record in from_reader] == later
    assert len(segments(directory)) > 3
    writer.close()
    reader.close()


def test_a_writer_reads_only_committed_records(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    with Log.open(directory, writable=True) as writer:
        writer.append([b"committed"])
        end = writer.end
        # Bytes past the writer's end, as while another thread's append is under way.
        with (directory / FIRST).open("ab") as segment:
            segment.write(encode_frame(b"not yet committed") + encode_frame(b"partial")[:9])
        assert payloads_of(writer) == [b"committed"]
        assert [item for item in writer.scan() if isinstance(item, Damage)] == []
        assert payloads_of(writer, end) == []
        with pytest.raises(ValueError, match="beyond the end"):
            writer.read_from(end + FRAME_HEADER_SIZE + 17)


def test_a_reader_takes_a_record_finished_after_it_saw_the_end_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The writer finishes record four and appends five just after the reader read up to
    # the end of the file and found four incomplete: that is not corruption.
    directory = tmp_path / "log"
    write_log(directory, [[b"one", b"two", b"three"]])
    four, five = encode_frame(b"four"), encode_frame(b"five")
    segment = directory / FIRST
    with segment.open("ab") as handle:
        handle.write(four[:7])
    real_pread = os.pread
    finished: list[bool] = []

    def pread(fd: int, count: int, offset: int) -> bytes:
        data = real_pread(fd, count, offset)
        if not data and not finished:
            finished.append(True)
            with segment.open("ab") as handle:
                handle.write(four[7:] + five)
        return data

    with Log.open(directory, writable=False) as reader:
        monkeypatch.setattr(os, "pread", pread)
        assert payloads_of(reader) == [b"one", b"two", b"three", b"four", b"five"]
    assert finished
