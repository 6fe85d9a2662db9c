"""Export files: signed messages in a file, for carrying between nodes offline.

An export file is :data:`~p2psocial.store.framing.EXPORT_HEADER` followed by records
framed exactly as in the log, each holding one message. Reading one checks every frame;
the store then validates every message before storing any (see ``Node.import_file``).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from ..errors import ImportFileError
from .framing import (
    EXPORT_HEADER,
    FILE_HEADER_SIZE,
    BadFrame,
    GoodFrame,
    IncompleteFrame,
    check_header,
    decode_frame,
    encode_frame,
)

MAX_IMPORT_BYTES: Final = 4 * 1024**3


def write_export(path: Path, payloads: Iterable[bytes]) -> int:
    """Write an export file atomically (a temporary file renamed into place).

    Args:
        path: Where to write; an existing file is replaced only once the new one is
            complete and on disk.
        payloads: Encoded messages.

    Returns:
        How many messages were written.

    Raises:
        OSError: The file cannot be written (EINVAL for a name holding a NUL).
    """
    if "\x00" in str(path):  # the OS layer raises ValueError for it, not OSError
        raise OSError(errno.EINVAL, "a file name cannot hold a NUL character", str(path))
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    count = 0
    try:
        with open(tmp, "wb") as out:
            out.write(EXPORT_HEADER)
            for payload in payloads:
                out.write(encode_frame(payload))
                count += 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


def read_export(path: Path) -> list[bytes]:
    """Read every message of an export file, checking every frame.

    Raises:
        ImportFileError: The file is missing, not an export file, truncated or damaged
            (the error names the byte offset).
    """
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise ImportFileError(f"{path}: {size} bytes is larger than an import may be")
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL in the path
        raise ImportFileError(f"cannot read {path!r}: {exc}") from None
    check_header(data, EXPORT_HEADER)
    payloads: list[bytes] = []
    offset = FILE_HEADER_SIZE
    while offset < len(data):
        frame = decode_frame(data, offset)
        match frame:
            case GoodFrame(payload=payload, next_offset=next_offset):
                payloads.append(payload)
                offset = next_offset
            case IncompleteFrame():
                raise ImportFileError(
                    f"{path}: truncated: record {len(payloads) + 1} at byte {offset} is cut off"
                )
            case BadFrame(reason=reason):
                raise ImportFileError(
                    f"{path}: damaged record {len(payloads) + 1} at byte {offset}: {reason}"
                )
    return payloads
