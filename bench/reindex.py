"""Reindex: rebuild the SQLite index from the log (``Store.reindex``).

This is what a node does when the index version changes or the index is lost: read every
log record, decode it (signatures were checked when it was stored), and apply it to a fresh
index in batches.
"""

from __future__ import annotations

import time
from typing import Final

from p2psocial.store.store import Store

from .report import Entry, Target

FULL_SIZE: Final = 1_000_000
SECONDS_TARGET: Final = Target("<=", 60, unit="s", note="1M messages")
RATE_TARGET: Final = Target(">=", FULL_SIZE / 60, unit="msgs/s", note="60 s per 1M")


def reindex(store: Store, messages: int) -> list[Entry]:
    """Time a full rebuild of the store's index.

    Args:
        store: A store holding ``messages`` records.
        messages: How many records it holds (the seconds target applies at 1M and up).

    Raises:
        RuntimeError: The rebuild indexed a different number of records.
    """
    started = time.perf_counter()
    count = store.reindex()
    elapsed = time.perf_counter() - started
    if count != messages:
        raise RuntimeError(f"reindex applied {count} records, expected {messages}")
    params = {"messages": count}
    return [
        Entry(
            "reindex.seconds",
            elapsed,
            "s",
            target=SECONDS_TARGET if messages >= FULL_SIZE else None,
            params=params,
        ),
        Entry("reindex.rate", count / elapsed, "msgs/s", target=RATE_TARGET, params=params),
    ]
