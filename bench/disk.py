"""Bytes on disk per message: the log, the index, and the raw encoded message beside them.

The index is measured after a ``wal_checkpoint(TRUNCATE)``, so that its main file holds
everything and its write-ahead log is empty. ``dbstat`` breaks it down by table and index.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from p2psocial.home import HomePaths

from .report import Anchor, Entry


def disk_usage(paths: HomePaths, messages: int, raw_mean: float) -> list[Entry]:
    """Log and index bytes per message for a home holding ``messages`` messages.

    Args:
        paths: The home (its store may be open: the checkpoint runs beside it).
        messages: Messages it holds.
        raw_mean: The mean ``len(message.to_bytes())`` of those messages.

    Raises:
        RuntimeError: The checkpoint could not complete (a reader held it back).
    """
    raw = Entry("disk.raw_message", raw_mean, "B/msg", params={"messages": messages})
    anchor = Anchor(raw.name, raw.value, raw.unit)
    log_bytes = sum(f.stat().st_size for f in paths.log.glob("*.seg"))
    index_bytes, parts = _index_bytes(paths.index)
    per_part = {name: round(size / messages, 1) for name, size in parts.items()}
    return [
        raw,
        Entry(
            "disk.log",
            log_bytes / messages,
            "B/msg",
            anchor=anchor,
            params={"messages": messages, "bytes": log_bytes},
        ),
        Entry(
            "disk.index",
            index_bytes / messages,
            "B/msg",
            anchor=anchor,
            params={"messages": messages, "bytes": index_bytes, "by_object_b_per_msg": per_part},
        ),
    ]


def _index_bytes(path: Path) -> tuple[int, dict[str, Any]]:
    conn = sqlite3.connect(path)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise RuntimeError(f"could not checkpoint {path}: busy")
        rows = conn.execute(
            "SELECT name, pgsize FROM dbstat WHERE aggregate = TRUE ORDER BY pgsize DESC"
        ).fetchall()
    finally:
        conn.close()
    wal = Path(f"{path}-wal")
    size = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    return size, dict(rows)
