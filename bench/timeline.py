"""Timeline latency: the newest page and the next one, through ``IndexReader``.

Measured feeds, each as page 1 (newest 50) and page 2 (``before=`` page 1's last cursor):

- ``home.typical``: an owner following authors drawn at random;
- ``home.sparse``: an owner following the least active authors, the hard case for a scan
  in timestamp order (most rows it meets belong to someone else);
- ``global``: every author;
- ``author.busiest`` and ``author.median``: one author's posts.

Each entry records the query plan SQLite chose for the timeline query (``EXPLAIN QUERY
PLAN``) and, for home feeds, what share of the timeline the followed authors wrote.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

from p2psocial.core.ids import AuthorId
from p2psocial.store.index import connect
from p2psocial.store.queries import Cursor, IndexReader, Item

from .report import Entry, Target
from .timing import sample_latency

PAGE: Final = 50
P99_TARGET: Final = Target("<=", 20, unit="ms")

Fetch = Callable[[IndexReader, Cursor | None], list[Item]]


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed to measure: a name and how to read one page of it."""

    name: str
    fetch: Fetch
    owner: AuthorId | None = None
    """For home feeds, whose home it is."""


@dataclass(frozen=True, slots=True)
class Sampling:
    """How many latency samples to take per case."""

    samples: int
    warmup: int
    budget_s: float


def home(owner: AuthorId) -> Fetch:
    """Page of ``owner``'s home feed."""
    return lambda reader, before: reader.home(owner, limit=PAGE, before=before)


def global_feed() -> Fetch:
    """Page of the global feed."""
    return lambda reader, before: reader.global_feed(limit=PAGE, before=before)


def author_feed(author: AuthorId) -> Fetch:
    """Page of one author's feed."""
    return lambda reader, before: reader.author_feed(author, limit=PAGE, before=before)


def measure(index: Path, feeds: list[Feed], sampling: Sampling) -> list[Entry]:
    """p50 and p99 of page 1 and page 2 of every feed, on the index at ``index``."""
    reader = IndexReader.open(index)
    try:
        entries: list[Entry] = []
        for feed in feeds:
            entries += _measure_feed(index, reader, feed, sampling)
        return entries
    finally:
        reader.close()


def _measure_feed(index: Path, reader: IndexReader, feed: Feed, sampling: Sampling) -> list[Entry]:
    first = feed.fetch(reader, None)
    if not first:
        raise RuntimeError(f"feed {feed.name} is empty")
    context: dict[str, Any] = {}
    if feed.owner is not None:
        context.update(_home_share(index, feed.owner))
    entries = []
    pages: list[tuple[int, Cursor | None]] = [(1, None)]
    if len(first) == PAGE:
        pages.append((2, first[-1].cursor))
    for page, before in pages:
        items = feed.fetch(reader, before)
        latency = sample_latency(
            partial(feed.fetch, reader, before),
            samples=sampling.samples,
            warmup=sampling.warmup,
            budget_s=sampling.budget_s,
        )
        params = {
            **context,
            "limit": PAGE,
            "items": len(items),
            "samples": latency.samples,
            "mean_ms": round(latency.mean, 3),
            "max_ms": round(latency.max, 3),
            "plan": _plan(index, feed, before),
        }
        name = f"timeline.{feed.name}.page{page}"
        entries.append(Entry(f"{name}.p50", latency.p50, "ms", params=params))
        entries.append(Entry(f"{name}.p99", latency.p99, "ms", target=P99_TARGET, params=params))
    return entries


def _plan(index: Path, feed: Feed, before: Cursor | None) -> list[str]:
    """EXPLAIN QUERY PLAN of the timeline statement the reader runs for this page."""
    statements: list[str] = []
    conn = connect(index, readonly=True)
    try:
        conn.set_trace_callback(statements.append)
        feed.fetch(IndexReader(conn), before)
        conn.set_trace_callback(None)
        timeline = next((s for s in statements if "ORDER BY m.ts DESC" in s), None)
        if timeline is None:
            return []
        rows = conn.execute(f"EXPLAIN QUERY PLAN {timeline}").fetchall()
        return [str(row[3]) for row in rows]
    finally:
        conn.close()


def _home_share(index: Path, owner: AuthorId) -> dict[str, Any]:
    """How many authors ``owner`` follows and what share of the timeline they wrote."""
    conn = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        follows, mine, total = conn.execute(
            "WITH me AS (SELECT rowid FROM authors WHERE key = ?),"
            " f AS (SELECT followee FROM follows WHERE follower = (SELECT rowid FROM me)"
            " AND active = 1)"
            " SELECT (SELECT count(*) FROM f),"
            " (SELECT count(*) FROM messages WHERE kind IN (1, 2, 3)"
            "  AND author IN (SELECT followee FROM f)),"
            " (SELECT count(*) FROM messages WHERE kind IN (1, 2, 3))",
            (owner.raw,),
        ).fetchone()
    finally:
        conn.close()
    return {
        "follows": follows,
        "followed_timeline_messages": mine,
        "timeline_messages": total,
        "followed_share": round(mine / total, 5) if total else 0.0,
    }
