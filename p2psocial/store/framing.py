"""Record framing for the log and for export files: pure functions, no I/O.

A frame is::

    MAGIC (4 bytes, b"P2SR") | length (u32 BE) | crc (u32 BE) | payload (length bytes)

``crc`` is ``zlib.crc32`` over the four length bytes followed by the payload, so a damaged
length is caught as surely as a damaged payload. A frame never claims more than
:data:`MAX_PAYLOAD` bytes of payload.

Files that hold frames begin with an 8-byte header naming what they are:
:data:`SEGMENT_HEADER` for log segments, :data:`EXPORT_HEADER` for export files.

Decoding never raises on damaged input. :func:`decode_frame` says what it found at one
offset (:class:`GoodFrame`, :class:`IncompleteFrame` or :class:`BadFrame`);
:func:`split_frames` decodes a run of good frames quickly; :func:`find_next_good_frame`
looks past damage for the next intact frame, which is how the log tells a torn tail (nothing
intact after the damage) from corruption in the middle (intact records after it).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Final, TypeAlias

from p2psocial.errors import ImportFileError, LogCorruptError, StoreError

__all__ = [
    "EXPORT_HEADER",
    "FILE_HEADER_SIZE",
    "FRAME_HEADER_SIZE",
    "MAGIC",
    "MAX_PAYLOAD",
    "SEGMENT_HEADER",
    "BadFrame",
    "Buffer",
    "FrameResult",
    "GoodFrame",
    "IncompleteFrame",
    "check_header",
    "decode_frame",
    "encode_frame",
    "find_next_good_frame",
    "split_frames",
]

MAGIC: Final = b"P2SR"
"""The four bytes every frame starts with."""

MAX_PAYLOAD: Final = 1024 * 1024
"""The largest payload a frame may carry (1 MiB); a frame claiming more is bad."""

FRAME_HEADER_SIZE: Final = 12
"""Bytes before the payload: magic, length, crc."""

SEGMENT_HEADER: Final = b"p2slog\x00\x01"
"""The first 8 bytes of every log segment file (format version 1)."""

EXPORT_HEADER: Final = b"p2sexp\x00\x01"
"""The first 8 bytes of every export file (format version 1)."""

FILE_HEADER_SIZE: Final = 8
"""Length of :data:`SEGMENT_HEADER` and :data:`EXPORT_HEADER`."""

Buffer: TypeAlias = bytes | bytearray | memoryview
"""What the decoding functions accept."""

_HEAD = struct.Struct(">III")
_LENGTH = struct.Struct(">I")
_MAGIC_INT: Final = int.from_bytes(MAGIC, "big")
_crc32 = zlib.crc32

_HEADER_NAMES: Final = {
    SEGMENT_HEADER: "a p2psocial log segment",
    EXPORT_HEADER: "a p2psocial export file",
}


@dataclass(frozen=True, slots=True)
class GoodFrame:
    """A complete frame whose crc matches.

    Attributes:
        offset: Where the frame starts in the buffer.
        payload: The payload bytes (a copy; it does not keep the buffer alive).
        next_offset: Where the next frame would start (just past this one).
    """

    offset: int
    payload: bytes
    next_offset: int


@dataclass(frozen=True, slots=True)
class IncompleteFrame:
    """The buffer ends inside what may be a frame (a torn tail candidate).

    Everything present is consistent with a frame: a prefix of the magic, or the magic and
    an acceptable length, but not all of the bytes that length calls for.

    Attributes:
        offset: Where the frame starts in the buffer.
        available: How many bytes of it the buffer holds.
        needed: How many bytes the whole frame needs, as far as is known (the full frame
            once the length field is present, else :data:`FRAME_HEADER_SIZE`).
    """

    offset: int
    available: int
    needed: int


@dataclass(frozen=True, slots=True)
class BadFrame:
    """Bytes that cannot be a frame: wrong magic, impossible length or crc mismatch.

    Attributes:
        offset: Where the would-be frame starts in the buffer.
        reason: A short human-readable explanation.
    """

    offset: int
    reason: str


FrameResult: TypeAlias = GoodFrame | IncompleteFrame | BadFrame
"""What :func:`decode_frame` finds at one offset."""


def encode_frame(payload: bytes) -> bytes:
    """Frame one payload.

    Args:
        payload: The record's bytes, at most :data:`MAX_PAYLOAD` long.

    Returns:
        The frame: magic, length, crc and payload.

    Raises:
        ValueError: The payload is longer than :data:`MAX_PAYLOAD`.
    """
    length = len(payload)
    if length > MAX_PAYLOAD:
        raise ValueError(f"payload of {length} bytes exceeds the {MAX_PAYLOAD}-byte frame limit")
    length_bytes = _LENGTH.pack(length)
    crc = _crc32(payload, _crc32(length_bytes))
    return b"".join((MAGIC, length_bytes, _LENGTH.pack(crc), payload))


def decode_frame(buf: Buffer, offset: int) -> FrameResult:
    """Decode the frame that starts at ``offset``.

    Args:
        buf: Bytes holding frames.
        offset: Where the frame should start; ``len(buf)`` is allowed and gives an
            :class:`IncompleteFrame` with nothing available.

    Returns:
        A :class:`GoodFrame`, an :class:`IncompleteFrame` when the buffer ends before the
        frame does, or a :class:`BadFrame` with the reason.

    Raises:
        ValueError: ``offset`` is negative or beyond the end of ``buf``.
    """
    size = len(buf)
    if not 0 <= offset <= size:
        raise ValueError(f"offset {offset} is outside a buffer of {size} bytes")
    available = size - offset
    if available < FRAME_HEADER_SIZE:
        head = bytes(buf[offset : offset + min(available, len(MAGIC))])
        if not MAGIC.startswith(head):
            return BadFrame(offset, f"bad magic {head!r}")
        if available >= 8:
            length = _LENGTH.unpack_from(buf, offset + 4)[0]
            if length > MAX_PAYLOAD:
                return BadFrame(offset, f"length {length} exceeds MAX_PAYLOAD")
            return IncompleteFrame(offset, available, FRAME_HEADER_SIZE + length)
        return IncompleteFrame(offset, available, FRAME_HEADER_SIZE)
    magic, length, crc = _HEAD.unpack_from(buf, offset)
    if magic != _MAGIC_INT:
        return BadFrame(offset, f"bad magic {bytes(buf[offset : offset + 4])!r}")
    if length > MAX_PAYLOAD:
        return BadFrame(offset, f"length {length} exceeds MAX_PAYLOAD")
    end = offset + FRAME_HEADER_SIZE + length
    if end > size:
        return IncompleteFrame(offset, available, FRAME_HEADER_SIZE + length)
    payload = bytes(buf[offset + FRAME_HEADER_SIZE : end])
    actual = _crc32(payload, _crc32(buf[offset + 4 : offset + 8]))
    if actual != crc:
        return BadFrame(offset, f"crc mismatch (stored {crc:08x}, computed {actual:08x})")
    return GoodFrame(offset, payload, end)


def split_frames(buf: Buffer, offset: int = 0) -> tuple[list[tuple[int, bytes]], int]:
    """Decode the run of good frames that starts at ``offset``; the fast path for readers.

    Args:
        buf: Bytes holding frames.
        offset: Where the first frame should start.

    Returns:
        ``(frames, stop)``: each good frame as ``(offset, payload)``, in order, and the
        offset where the run ended. When ``stop < len(buf)``, ``decode_frame(buf, stop)``
        tells what is there (an incomplete or a bad frame).

    Raises:
        ValueError: ``offset`` is negative or beyond the end of ``buf``.
    """
    size = len(buf)
    if not 0 <= offset <= size:
        raise ValueError(f"offset {offset} is outside a buffer of {size} bytes")
    frames: list[tuple[int, bytes]] = []
    add = frames.append
    unpack = _HEAD.unpack_from
    crc32 = _crc32
    last_header = size - FRAME_HEADER_SIZE
    while offset <= last_header:
        magic, length, crc = unpack(buf, offset)
        end = offset + FRAME_HEADER_SIZE + length
        if magic != _MAGIC_INT or length > MAX_PAYLOAD or end > size:
            break
        payload = bytes(buf[offset + FRAME_HEADER_SIZE : end])
        if crc32(payload, crc32(buf[offset + 4 : offset + 8])) != crc:
            break
        add((offset, payload))
        offset = end
    return frames, offset


def find_next_good_frame(buf: Buffer, start: int) -> int | None:
    """Find the first offset ``>= start`` where a complete, crc-valid frame begins.

    Args:
        buf: Bytes holding frames.
        start: Where to begin looking.

    Returns:
        The offset of that frame, or None if there is none (an incomplete frame at the end
        does not count).
    """
    start = max(start, 0)
    if isinstance(buf, bytes | bytearray):
        data, shift = buf, 0
    else:
        data, shift = bytes(buf[start:]), start
    position = start - shift
    while True:
        position = data.find(MAGIC, position)
        if position < 0:
            return None
        if isinstance(decode_frame(data, position), GoodFrame):
            return position + shift
        position += 1


def check_header(buf: Buffer, expected: bytes) -> None:
    """Check that ``buf`` begins with the file header ``expected``.

    Args:
        buf: The first bytes of a file (at least :data:`FILE_HEADER_SIZE` of them, if the
            file has that many).
        expected: :data:`SEGMENT_HEADER` or :data:`EXPORT_HEADER`.

    Raises:
        LogCorruptError: ``expected`` is :data:`SEGMENT_HEADER` and the header differs.
        ImportFileError: ``expected`` is :data:`EXPORT_HEADER` and the header differs.
        ValueError: ``expected`` is not one of the two known headers.
    """
    what = _HEADER_NAMES.get(bytes(expected))
    if what is None:
        raise ValueError(f"unknown file header {expected!r}")
    found = bytes(buf[: len(expected)])
    if found == expected:
        return
    error: type[StoreError] = LogCorruptError if expected == SEGMENT_HEADER else ImportFileError
    if len(found) < len(expected):
        raise error(f"not {what}: file is only {len(found)} bytes long, shorter than its header")
    if found[:6] == expected[:6]:
        raise error(f"unsupported version of {what}: header {found!r}, expected {expected!r}")
    raise error(f"not {what}: header {found!r}, expected {expected!r}")
