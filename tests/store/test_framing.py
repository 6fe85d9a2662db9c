"""Tests for p2psocial.store.framing: frames, damage detection, file headers."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from p2psocial.errors import ImportFileError, LogCorruptError
from p2psocial.store.framing import (
    EXPORT_HEADER,
    FILE_HEADER_SIZE,
    FRAME_HEADER_SIZE,
    MAGIC,
    MAX_PAYLOAD,
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


def test_frame_layout_is_magic_length_crc_payload() -> None:
    payload = b"hello, log"
    frame = encode_frame(payload)
    length = struct.pack(">I", len(payload))
    crc = zlib.crc32(length + payload)
    assert frame == MAGIC + length + struct.pack(">I", crc) + payload
    assert len(frame) == FRAME_HEADER_SIZE + len(payload)


@pytest.mark.parametrize("payload", [b"", b"x", bytes(range(256)) * 3, b"\x00" * MAX_PAYLOAD])
def test_round_trip(payload: bytes) -> None:
    frame = encode_frame(payload)
    assert decode_frame(frame, 0) == GoodFrame(0, payload, len(frame))


def test_decode_at_an_offset_and_from_a_memoryview() -> None:
    first, second = encode_frame(b"one"), encode_frame(b"two")
    buf = memoryview(b"junk" + first + second)
    result = decode_frame(buf, 4)
    assert result == GoodFrame(4, b"one", 4 + len(first))
    assert isinstance(result.payload, bytes)
    assert decode_frame(buf, result.next_offset) == GoodFrame(result.next_offset, b"two", len(buf))


def test_encode_rejects_an_oversize_payload() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        encode_frame(b"\x00" * (MAX_PAYLOAD + 1))


def test_bad_magic() -> None:
    frame = b"XXXX" + encode_frame(b"payload")[4:]
    result = decode_frame(frame, 0)
    assert isinstance(result, BadFrame)
    assert "magic" in result.reason


def test_bad_magic_in_a_short_buffer() -> None:
    result = decode_frame(b"P2X", 0)
    assert isinstance(result, BadFrame)
    assert "magic" in result.reason


def test_length_over_the_limit_is_bad_even_when_the_buffer_is_short() -> None:
    head = MAGIC + struct.pack(">I", MAX_PAYLOAD + 1)
    for buf in (head, head + b"\x00" * 4, head + b"\x00" * 100):
        result = decode_frame(buf, 0)
        assert isinstance(result, BadFrame)
        assert "length" in result.reason


def test_crc_mismatch_in_payload() -> None:
    frame = bytearray(encode_frame(b"payload"))
    frame[-1] ^= 0x01
    result = decode_frame(bytes(frame), 0)
    assert isinstance(result, BadFrame)
    assert "crc" in result.reason


def test_crc_covers_the_length_field() -> None:
    # Shorten the length by one and keep the old crc: the frame is complete but its crc
    # no longer matches, because the crc covers the length bytes too.
    payload = b"abcdef"
    frame = bytearray(encode_frame(payload))
    frame[4:8] = struct.pack(">I", len(payload) - 1)
    result = decode_frame(bytes(frame), 0)
    assert isinstance(result, BadFrame)
    assert "crc" in result.reason


def test_every_proper_prefix_of_a_frame_is_incomplete() -> None:
    frame = encode_frame(b"a payload of some length")
    for cut in range(len(frame)):
        result = decode_frame(frame[:cut], 0)
        assert isinstance(result, IncompleteFrame), cut
        assert result.available == cut
        expected_need = len(frame) if cut >= 8 else FRAME_HEADER_SIZE
        assert result.needed == expected_need


def test_decode_rejects_offsets_outside_the_buffer() -> None:
    with pytest.raises(ValueError, match="outside"):
        decode_frame(b"abc", 4)
    with pytest.raises(ValueError, match="outside"):
        decode_frame(b"abc", -1)


def test_split_frames_stops_at_the_first_non_good_frame() -> None:
    frames = [encode_frame(bytes([n]) * n) for n in range(5)]
    good = b"".join(frames)
    found, stop = split_frames(good + frames[0][:5])
    assert [payload for _, payload in found] == [bytes([n]) * n for n in range(5)]
    assert [offset for offset, _ in found] == [sum(len(f) for f in frames[:n]) for n in range(5)]
    assert stop == len(good)
    assert isinstance(decode_frame(good + frames[0][:5], stop), IncompleteFrame)

    damaged = bytearray(good)
    damaged[len(frames[0]) + len(frames[1]) + FRAME_HEADER_SIZE] ^= 0xFF
    found, stop = split_frames(bytes(damaged), 0)
    assert len(found) == 2
    assert stop == len(frames[0]) + len(frames[1])


def test_split_frames_from_an_offset_in_a_memoryview() -> None:
    frame = encode_frame(b"x")
    found, stop = split_frames(memoryview(b"??" + frame * 3), 2)
    assert found == [(2, b"x"), (2 + len(frame), b"x"), (2 + 2 * len(frame), b"x")]
    assert stop == 2 + 3 * len(frame)


def test_find_next_good_frame_skips_garbage_and_false_magic() -> None:
    frame = encode_frame(b"real")
    fake = MAGIC + b"\x00\x00\x00\x04" + b"\xde\xad\xbe\xef" + b"fake"  # wrong crc
    buf = b"garbage" + fake + b"more" + frame
    assert find_next_good_frame(buf, 0) == len(buf) - len(frame)
    assert find_next_good_frame(memoryview(buf), 3) == len(buf) - len(frame)
    assert find_next_good_frame(buf, len(buf) - len(frame)) == len(buf) - len(frame)
    assert find_next_good_frame(buf, len(buf) - len(frame) + 1) is None


def test_find_next_good_frame_ignores_an_incomplete_frame() -> None:
    frame = encode_frame(b"cut short")
    assert find_next_good_frame(b"\x00" * 10 + frame[:-1], 0) is None
    assert find_next_good_frame(b"", 0) is None


def test_check_header_accepts_the_right_header() -> None:
    check_header(SEGMENT_HEADER + b"rest", SEGMENT_HEADER)
    check_header(memoryview(EXPORT_HEADER), EXPORT_HEADER)
    assert len(SEGMENT_HEADER) == len(EXPORT_HEADER) == FILE_HEADER_SIZE


def test_check_header_errors_name_the_kind_of_file() -> None:
    with pytest.raises(LogCorruptError, match="not a p2psocial log segment"):
        check_header(EXPORT_HEADER, SEGMENT_HEADER)
    with pytest.raises(ImportFileError, match="not a p2psocial export file"):
        check_header(SEGMENT_HEADER, EXPORT_HEADER)
    with pytest.raises(ImportFileError, match="shorter than its header"):
        check_header(b"p2s", EXPORT_HEADER)
    with pytest.raises(LogCorruptError, match="unsupported version"):
        check_header(b"p2slog\x00\x02", SEGMENT_HEADER)
    with pytest.raises(ValueError, match="unknown file header"):
        check_header(b"whatever", b"whatever")


@given(st.binary(max_size=2048))
def test_property_round_trip(payload: bytes) -> None:
    frame = encode_frame(payload)
    assert decode_frame(frame, 0) == GoodFrame(0, payload, len(frame))
    assert split_frames(frame) == ([(0, payload)], len(frame))


@given(
    payload=st.binary(max_size=300),
    index=st.integers(min_value=0),
    delta=st.integers(min_value=1, max_value=255),
    trailer=st.sampled_from([b"", encode_frame(b"next record")]),
)
@example(payload=b"abc", index=4, delta=0x01, trailer=b"")  # length grows by 2**24
@example(payload=b"abc", index=7, delta=0x01, trailer=b"")  # length grows by one
@example(payload=b"abc", index=7, delta=0xFF, trailer=b"")  # length shrinks by one
def test_property_any_single_byte_change_is_detected(
    payload: bytes, index: int, delta: int, trailer: bytes
) -> None:
    frame = bytearray(encode_frame(payload))
    index %= len(frame)
    frame[index] = (frame[index] + delta) % 256
    buf = bytes(frame) + trailer
    result = decode_frame(buf, 0)
    assert isinstance(result, BadFrame | IncompleteFrame), (index, result)
    found, stop = split_frames(buf)
    assert found == []
    assert stop == 0
