"""The benchmark corpus: a realistic, pre-signed social graph, cached between runs.

Shape of a corpus (see :class:`CorpusSpec`):

- ``authors`` crowd authors whose activity follows a log-normal law (a few post a lot,
  most post little); each starts with a profile and writes at least one more message;
- after that, each message is a post (40-280 characters, some ``#tags``, some mentions), a
  reply to a recent post or reply (with the right thread root), a reaction, a repost, a
  follow of a popular author, and now and then a profile update, an unfollow or a delete;
- two *owners*: ``typical`` follows ``follows`` crowd authors drawn at random, ``sparse``
  follows the ``follows`` least active ones. Their follows are real follow messages;
- ``tail`` more crowd messages that come after everything else (for single-message ingest).

Messages are signed in rounds of a few thousand; replies and reactions point at messages
signed in earlier rounds, whose ids are known by then. Each round is split by author over
worker processes (signing a 1M corpus takes about two minutes on two cores), and the result is
cached in :data:`CACHE_DIR` keyed by the spec, so later runs only read it back.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from p2psocial.core.ids import AuthorId

from ._planner import CORPUS_VERSION, Planner
from ._signing import Planned, Signed, author_id, sign_planned

CACHE_DIR: Final = Path("/tmp/p2psocial-bench-cache")

_FRAME: Final = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class CorpusSpec:
    """The size and shape of a corpus.

    Attributes:
        messages: Messages in the main corpus, owners' included.
        authors: Crowd authors (the two owners come on top).
        follows: How many crowd authors each owner follows.
        tail: Extra crowd messages after the main corpus.
        seed: Seeds every random choice.
    """

    messages: int
    authors: int
    follows: int
    tail: int
    seed: int = 2026

    def cache_key(self) -> str:
        """A short name for this spec and :data:`CORPUS_VERSION`."""
        text = json.dumps({**asdict(self), "version": CORPUS_VERSION}, sort_keys=True)
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Corpus:
    """Signed wire bytes, and who is who in them.

    Attributes:
        spec: What was generated.
        messages: The main corpus, oldest first.
        tail: Messages that come after the main corpus.
        owners: ``typical`` and ``sparse``: the owners whose home timelines are measured.
        busiest: The crowd author with the most messages.
        median: A crowd author with the median number of messages.
        kinds: How many messages of each kind the main corpus holds.
    """

    spec: CorpusSpec
    messages: list[bytes]
    tail: list[bytes]
    owners: dict[str, AuthorId]
    busiest: AuthorId
    median: AuthorId
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def mean_size(self) -> float:
        """The mean encoded size of the main corpus' messages (``len(to_bytes())``)."""
        return sum(map(len, self.messages)) / len(self.messages)


def load_corpus(spec: CorpusSpec, *, workers: int, cache_dir: Path = CACHE_DIR) -> Corpus:
    """The corpus for ``spec``, from the cache or freshly generated (and then cached).

    Args:
        spec: What to generate.
        workers: Signing processes to use when generating.
        cache_dir: Where cached corpora live.
    """
    base = cache_dir / f"corpus-{spec.cache_key()}"
    meta_path, data_path = base.with_suffix(".json"), base.with_suffix(".bin")
    if meta_path.exists() and data_path.exists():
        meta = json.loads(meta_path.read_text())
        wire = _read_frames(data_path.read_bytes())
        if len(wire) == spec.messages + spec.tail:
            return _assemble(spec, wire, meta)
    started = time.perf_counter()
    wire, meta = _generate(spec, workers)
    _progress(f"signed {len(wire)} messages in {time.perf_counter() - started:.1f} s")
    _write_cache(data_path, meta_path, wire, meta)
    return _assemble(spec, wire, meta)


def _assemble(spec: CorpusSpec, wire: list[bytes], meta: dict[str, Any]) -> Corpus:
    return Corpus(
        spec=spec,
        messages=wire[: spec.messages],
        tail=wire[spec.messages :],
        owners={name: author_id(index) for name, index in meta["owners"].items()},
        busiest=author_id(meta["busiest"]),
        median=author_id(meta["median"]),
        kinds=meta["kinds"],
    )


# --- cache files ---------------------------------------------------------------------------


def _write_cache(data_path: Path, meta_path: Path, wire: list[bytes], meta: dict[str, Any]) -> None:
    data_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = data_path.with_suffix(".bin.tmp")
    with tmp.open("wb") as out:
        for payload in wire:
            out.write(_FRAME.pack(len(payload)))
            out.write(payload)
    os.replace(tmp, data_path)
    tmp = meta_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, meta_path)


def _read_frames(data: bytes) -> list[bytes]:
    out: list[bytes] = []
    offset, end, unpack = 0, len(data), _FRAME.unpack_from
    while offset < end:
        (length,) = unpack(data, offset)
        offset += _FRAME.size
        out.append(data[offset : offset + length])
        offset += length
    return out


# --- generation ------------------------------------------------------------------------


def _generate(spec: CorpusSpec, workers: int) -> tuple[list[bytes], dict[str, Any]]:
    planner = Planner(spec)
    total = spec.messages + spec.tail
    wire: list[bytes] = [b""] * total
    round_size = max(2_000, total // 100)
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        for start in range(0, total, round_size):
            entries = planner.plan(start, min(start + round_size, total))
            signed = _sign(pool, entries, workers)
            planner.record(entries, signed)
            for index, payload, _ in signed:
                wire[index] = payload
            if (start // round_size) % 10 == 9:
                _progress(f"signed {start + len(entries)}/{total} corpus messages")
    finally:
        if pool is not None:
            pool.shutdown()
    return wire, planner.meta()


def _sign(pool: ProcessPoolExecutor | None, entries: list[Planned], workers: int) -> list[Signed]:
    if pool is None:
        return sign_planned(entries)
    parts = [[e for e in entries if e.author % workers == w] for w in range(workers)]
    return [item for part in pool.map(sign_planned, parts) for item in part]


def _progress(text: str) -> None:
    print(f"  [corpus] {text}", file=sys.stderr, flush=True)


def iter_batches(items: Sequence[bytes], size: int) -> Iterator[Sequence[bytes]]:
    """``items`` in consecutive slices of ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
