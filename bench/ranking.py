"""Feed ranking: a page of Home ranked by each built-in algorithm, and trust on a big graph.

Figures (docs/algorithms.md has the algorithms):

- ``ranking.<algorithm>.page1.p50`` / ``.p99``: one page of 50 of the ``typical`` owner's
  Home (500 follows among 10k authors in the full corpus) through
  :func:`p2psocial.feeds.rank_feed`, in steady state: the social graph is cached, as it
  is for a running node between follows. Each includes gathering its candidates (the
  algorithm's window, 200 newest per source for the built-ins), ranking them, paging
  and decorating the 50 shown. Anchor: ``anchor.home_page``, the p99 of the plain
  newest-first Home page of 50 (``IndexReader.home``) measured just before; the ratio
  is what ranking costs on top of reading the same feed.
- ``ranking.graph.seconds``: the first page's extra cost, building the owner's social
  graph from the index (every follow edge in one query, personalised PageRank, hop
  distances), which happens once per change of the follow graph.
- ``trust.seconds``: personalised PageRank alone (:mod:`p2psocial.core.ranking.trust`)
  over a generated graph of 10k authors and 100k follows whose popularity is skewed
  (a few authors are followed by many). Anchor: ``anchor.edge_pass``, the best of five
  plain Python passes that read one float per edge (the floor of any per-edge algorithm
  in Python); the ratio is how many such passes the PageRank costs.

Run alone (``python -m bench.ranking [--quick]``) it builds a store of the benchmark
corpus (writing the log directly, then the bulk index rebuild), kept in
``/tmp/p2psocial-bench-cache/ranking-home-*`` for later runs; ``make bench`` runs it
on the store the other benchmarks built.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, Final

from p2psocial.core.ids import AuthorId
from p2psocial.core.ranking import BUILTINS, personalised_pagerank
from p2psocial.feeds import Registry, gather, rank_feed, social_graph
from p2psocial.home import HomePaths
from p2psocial.store.log import Log
from p2psocial.store.queries import IndexReader
from p2psocial.store.store import Store

from .config import FULL, QUICK
from .corpus import CACHE_DIR, Corpus, iter_batches, load_corpus
from .report import Entry, Target
from .timeline import Sampling
from .timing import sample_latency

PAGE: Final = 50
P99_TARGET: Final = Target("<=", 50, unit="ms", note="page of 50 over 1M messages")
TRUST_TARGET: Final = Target("<=", 2, unit="s", note="10k authors, 100k follows")
TRUST_AUTHORS: Final = 10_000
TRUST_EDGES: Final = 100_000
TRUST_SEED: Final = 2026


def measure(index: Path, owner: AuthorId, sampling: Sampling) -> list[Entry]:
    """The ranking figures on the index at ``index``, for ``owner``'s Home."""
    reader = IndexReader.open(index)
    try:
        return _measure(reader, owner, sampling)
    finally:
        reader.close()


def _measure(reader: IndexReader, owner: AuthorId, sampling: Sampling) -> list[Entry]:
    registry = Registry(plugins=[])  # the built-ins only, whatever is installed
    started = time.perf_counter()
    graph = social_graph(reader, owner)
    built = time.perf_counter() - started
    edges = sum(len(v) for v in graph.follows.values())
    entries = [
        Entry(
            "ranking.graph.seconds",
            built,
            "s",
            params={
                "authors": len({*graph.follows, *(a for v in graph.follows.values() for a in v)}),
                "follows": edges,
                "owner_follows": len(graph.following),
                "pagerank_iterations": graph.trust.iterations,
            },
        )
    ]
    plain = sample_latency(
        partial(reader.home, owner, limit=PAGE),
        samples=sampling.samples,
        warmup=sampling.warmup,
        budget_s=sampling.budget_s,
    )
    anchor = Entry(
        "anchor.home_page",
        plain.p99,
        "ms",
        params={"what": "p99 of IndexReader.home, newest first", "limit": PAGE},
    )
    entries.append(anchor)
    upto = reader.newest_rowid()
    for name, algorithm in BUILTINS.items():
        page = rank_feed(reader, owner, name, limit=PAGE, registry=registry)
        candidates = gather(reader, graph, algorithm.sources, upto)
        collections = _full_collections()
        latency = sample_latency(
            partial(rank_feed, reader, owner, name, limit=PAGE, registry=registry),
            samples=sampling.samples,
            warmup=sampling.warmup,
            budget_s=sampling.budget_s,
        )
        params = {
            "full_gc_collections": _full_collections() - collections,
            "limit": PAGE,
            "candidates": len(candidates),
            "ranked": page.total,
            "items": len(page.items),
            "samples": latency.samples,
            "mean_ms": round(latency.mean, 3),
            "max_ms": round(latency.max, 3),
        }
        base = f"ranking.{name}.page1"
        entries.append(Entry(f"{base}.p50", latency.p50, "ms", params=params))
        entries.append(
            Entry(
                f"{base}.p99",
                latency.p99,
                "ms",
                anchor=anchor.as_anchor(),
                target=P99_TARGET,
                params=params,
            )
        )
    return entries


def _full_collections() -> int:
    """Full (generation 2) garbage collections so far: one that lands inside a call
    adds its pause (tens of ms with a big heap) to that call, which is what p99 shows."""
    return int(gc.get_stats()[2]["collections"])


# --- trust alone -----------------------------------------------------------------------------


def trust_graph(
    authors: int = TRUST_AUTHORS, edges: int = TRUST_EDGES, seed: int = TRUST_SEED
) -> tuple[AuthorId, dict[AuthorId, set[AuthorId]]]:
    """A follow graph with ``edges`` follows among ``authors``, and an owner in it.

    Who follows is uniform; whom is skewed (weight ``1 / rank``, so a few authors are
    followed by many); the owner is a typical follower.
    """
    rng = random.Random(seed)
    people = [AuthorId(rng.randbytes(32)) for _ in range(authors)]
    weights = [1 / (rank + 1) for rank in range(authors)]
    follows: dict[AuthorId, set[AuthorId]] = {}
    made = 0
    while made < edges:
        batch = min(edges - made, 10_000)
        followers = rng.choices(people, k=batch)
        followees = rng.choices(people, weights=weights, k=batch)
        for a, b in zip(followers, followees, strict=True):
            if a != b and b not in follows.setdefault(a, set()):
                follows[a].add(b)
                made += 1
    owner = max(people[: authors // 2], key=lambda a: (len(follows.get(a, ())), a.raw))
    return owner, follows


def edge_pass(follows: dict[AuthorId, set[AuthorId]], repeats: int = 5) -> Entry:
    """The anchor: the best time of a plain Python pass reading one float per edge."""
    index = {a: i for i, a in enumerate({*follows, *(b for v in follows.values() for b in v)})}
    incoming = [[index[a] for a in v] for v in follows.values()]
    values = [1.0] * len(index)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        get = values.__getitem__
        total = 0.0
        for sources in incoming:
            total += sum(map(get, sources))
        best = min(best, time.perf_counter() - started)
    edges = sum(len(v) for v in incoming)
    return Entry("anchor.edge_pass", best, "s", params={"edges": edges, "repeats": repeats})


def trust() -> list[Entry]:
    """Personalised PageRank over the generated graph, beside its anchor."""
    owner, follows = trust_graph()
    anchor = edge_pass(follows)
    timings = []
    result = None
    for _ in range(3):
        started = time.perf_counter()
        result = personalised_pagerank(owner, follows)
        timings.append(time.perf_counter() - started)
    assert result is not None
    seconds = sorted(timings)[1]
    return [
        anchor,
        Entry(
            "trust.seconds",
            seconds,
            "s",
            anchor=anchor.as_anchor(),
            target=TRUST_TARGET,
            params={
                "authors": TRUST_AUTHORS,
                "follows": sum(len(v) for v in follows.values()),
                "owner_follows": len(follows.get(owner, ())),
                "reached": len(result.scores),
                "iterations": result.iterations,
                "runs": len(timings),
                "timings_s": [round(t, 4) for t in timings],
            },
        ),
    ]


# --- running it alone ------------------------------------------------------------------------


def cached_home(corpus: Corpus) -> Path:
    """A home holding ``corpus``, built once and kept in the benchmark cache."""
    home = CACHE_DIR / f"ranking-home-{corpus.spec.cache_key()}"
    done = home / "complete"
    if not done.exists():
        shutil.rmtree(home, ignore_errors=True)  # an interrupted build
        paths = HomePaths(home)
        paths.ensure()
        with Log.open(paths.log, writable=True) as log:
            for batch in iter_batches(corpus.messages, 20_000):
                log.append(list(batch))
        Store.open(home).close()  # the bulk index build
        done.write_text(f"{len(corpus.messages)}\n")
    return home


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.ranking [--quick] [--output FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m bench.ranking", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the quick corpus (20k messages)")
    parser.add_argument("--output", type=Path, help="also write the entries here as JSON")
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    started = time.perf_counter()
    corpus = load_corpus(config.corpus, workers=os.cpu_count() or 1)
    print(f"[corpus] {time.perf_counter() - started:.1f} s", file=sys.stderr)
    home = cached_home(corpus)
    print(f"[store] {time.perf_counter() - started:.1f} s: {home}", file=sys.stderr)
    owner = corpus.owners["typical"]
    del corpus  # a node does not hold a million messages in memory; a garbage collector
    gc.collect()  # walking them would add its pauses to the figures
    entries = measure(HomePaths(home).index, owner, config.sampling)
    entries += trust()
    records = [e.to_json() for e in entries]
    for record in records:
        print(_line(record))
    if args.output is not None:
        document: dict[str, Any] = {"mode": config.mode, "results": records}
        args.output.write_text(json.dumps(document, indent=1) + "\n")
    return 0


def _line(record: dict[str, Any]) -> str:
    anchor = record["anchor"]
    beside = f"  anchor {anchor['name']} {anchor['value']:.4g} {anchor['unit']}" if anchor else ""
    ratio = f"  ratio {record['ratio']:.3f}" if record["ratio"] is not None else ""
    target = f"  target {record['target']}" if record["target"] else ""
    return f"{record['name']:<38} {record['value']:>10.4g} {record['unit']}{beside}{ratio}{target}"


if __name__ == "__main__":
    sys.exit(main())
