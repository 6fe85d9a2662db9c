"""Anchors: what the hardware and the crypto library can do, measured in the same run.

A figure on its own says little on an unknown machine; beside its anchor it says how close
the code comes to what the machine allows:

- ``anchor.verify``: raw PyNaCl Ed25519 verification of ~200-byte messages
  (``VerifyKey.verify``, keys built beforehand), the ceiling of any ingest path that checks
  every signature;
- ``anchor.fsync_write``: sequential writes of 1 MiB blocks with an fsync after each, in the
  file system the store lives in: the ceiling of the log's bulk throughput;
- ``anchor.fsync_append``: one small (~400 byte) append and fsync at a time: the ceiling of
  ingesting messages one by one, as gossip delivers them.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Final

from nacl.signing import SigningKey, VerifyKey

from .report import Entry

MESSAGE_BYTES: Final = 200
KEYS: Final = 64
BLOCK: Final = 1024 * 1024
SMALL_RECORD: Final = 400


def verify_rate(count: int, *, repeats: int = 3) -> Entry:
    """Ed25519 verifications per second (median of ``repeats`` runs of ``count``)."""
    keys = [SigningKey(bytes([i]) * 32) for i in range(KEYS)]
    cases: list[tuple[VerifyKey, bytes, bytes]] = []
    for i in range(count):
        key = keys[i % KEYS]
        message = i.to_bytes(8, "big") * (MESSAGE_BYTES // 8)
        cases.append((key.verify_key, message, key.sign(message).signature))
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        for verify_key, message, signature in cases:
            verify_key.verify(message, signature)
        rates.append(count / (time.perf_counter() - started))
    return Entry(
        "anchor.verify",
        statistics.median(rates),
        "msgs/s",
        params={"message_bytes": MESSAGE_BYTES, "count": count, "repeats": repeats},
    )


def fsync_write_rate(directory: Path, total_mib: int) -> Entry:
    """Sequential write throughput in MB/s, 1 MiB blocks, fsync after each block."""
    path = directory / "anchor-fsync-write.bin"
    block = os.urandom(BLOCK)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        started = time.perf_counter()
        for _ in range(total_mib):
            os.write(fd, block)
            os.fsync(fd)
        elapsed = time.perf_counter() - started
    finally:
        os.close(fd)
        path.unlink()
    return Entry(
        "anchor.fsync_write",
        total_mib * BLOCK / elapsed / 1e6,
        "MB/s",
        params={"block_bytes": BLOCK, "blocks": total_mib, "directory": str(directory)},
    )


def fsync_append_rate(directory: Path, count: int) -> Entry:
    """Small appends per second with an fsync after each (the one-at-a-time ceiling)."""
    path = directory / "anchor-fsync-append.bin"
    record = os.urandom(SMALL_RECORD)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    try:
        started = time.perf_counter()
        for _ in range(count):
            os.write(fd, record)
            os.fsync(fd)
        elapsed = time.perf_counter() - started
    finally:
        os.close(fd)
        path.unlink()
    return Entry(
        "anchor.fsync_append",
        count / elapsed,
        "ops/s",
        params={"record_bytes": SMALL_RECORD, "count": count},
    )
