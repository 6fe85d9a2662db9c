"""Sybil floods and postage: what a flood of fresh keys reaches, and what postage costs.

The flood runs without a network, through the same code a node's gossip validator and sync
client run (:mod:`p2psocial.admission`, the store, :class:`~p2psocial.store.queries.IndexReader`),
with the default policy and budget, on a clock the benchmark drives. An owner follows 20
authors who follow 5 more each; they and 30 authors outside that graph have posted 2 000
messages over the last hour. Then 200 fresh keys post once each without postage and 200
more pay the full stranger postage (18 bits, stamped for real), all at once by gossip, and
a sync offers the whole flood again 10 s later. Figures:

- ``sybil.home``: flood messages in the owner's Home (newest 1 000). Target 0.
- ``sybil.global_share``: the flood's share of Global's newest page of 50, read by the
  owner (authors with no trust path get at most a tenth of a page). Target <= 0.1. Its
  params give the share without that limit (``global:all``), which the budget alone leaves.
- ``sybil.stored_share``: the share of the paid flood stored; params give the bound the
  strangers' budget sets (``stranger_burst + stranger_rate * t``).
- ``postage.check``: postage checks per second (read the envelope, hash the header, compare
  with what the author's distance asks), beside ``anchor.verify``: the ratio says how many
  checks cost one signature check, so an unpaid message costs a node far less than a forged
  one.
- ``postage.hash``: postage hashes per second, measured over the stamps (each stamp's nonce
  says exactly how many hashes it took), beside ``anchor.verify``.
- ``postage.stamp.<bits>``: stamps per second at 10, 14 and 18 bits (the defaults ask 10 two
  follows away and 18 of strangers), beside ``anchor.verify``; the note gives the mean
  seconds per stamp. 18 bits should stay well under a second: a person waits for it.

``python -m bench.sybil [--quick]`` runs it alone; ``make bench`` runs it as the stage
``sybil``.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from p2psocial.admission import Admission, FollowDistances, Verdict, peek
from p2psocial.config import DEFAULTS
from p2psocial.core.bodies import Follow, Post
from p2psocial.core.ids import AuthorId
from p2psocial.core.message import Message, decode_message, sign
from p2psocial.core.postage import PostagePolicy
from p2psocial.store.queries import MAX_LIMIT, UNTRUSTED_SHARE
from p2psocial.store.store import Store
from tests.factories import ChainBuilder, signing_key

from . import anchors
from .report import Anchor, Entry, Target

if TYPE_CHECKING:
    from .runner import Runner

PAGE: Final = 50
FOLLOWED: Final = 20
SECOND_EACH: Final = 5
OUTSIDERS: Final = 30
HONEST_MESSAGES: Final = 2_000
HOUR_MS: Final = 3_600_000
SYNC_AFTER: Final = 10.0
"""Seconds after the gossip flood that a sync offers it again."""
STAMP_BITS: Final = (10, 14, 18)
HOME_TARGET: Final = Target("<=", 0, unit="items")
GLOBAL_TARGET: Final = Target("<=", 1 / UNTRUSTED_SHARE, note="a tenth of a page")
CHECK_TARGET: Final = Target(">=", 5, on="ratio", note="a fifth of a signature check at most")
STAMP_TARGET: Final = Target(">=", 2, unit="stamps/s", note="18 bits under 0.5 s")


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big a run is."""

    sybils: int
    """Fresh keys in each half of the flood (unpaid, paid)."""
    checks: int
    """Postage checks timed."""
    stamps: dict[int, int]
    """Stamps timed at each number of bits (18 bits also stamps the paid flood)."""


FULL: Final = Sizes(sybils=200, checks=50_000, stamps={10: 400, 14: 40})
QUICK: Final = Sizes(sybils=50, checks=10_000, stamps={10: 100, 14: 10})


def _stamp(seed: int, bits: int, ts: int) -> tuple[bytes, float]:
    """One fresh key's post with ``bits`` of postage, and the seconds it took (in a worker
    process: stamping is pure Python work)."""
    started = time.perf_counter()
    message = sign(
        signing_key(seed), seq=1, prev=None, ts=ts, body=Post("buy now!"), postage_bits=bits
    )
    return message.to_bytes(), time.perf_counter() - started


def stamp_many(seeds: Sequence[int], bits: int, ts: int) -> list[tuple[Message, float]]:
    """Stamp one post per seed on every core; each message with its stamping time."""
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        done = list(pool.map(_stamp, seeds, [bits] * len(seeds), [ts] * len(seeds)))
    return [(decode_message(data), seconds) for data, seconds in done]


def hashes(message: Message) -> int:
    """How many hashes stamping ``message`` took: the nonces are tried from 0."""
    assert message.header.pow is not None
    return int.from_bytes(message.header.pow, "big") + 1


# --- the flood ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Flood:
    """What the flood reached."""

    home: int
    global_page: int
    global_sybil: int
    unlimited_sybil: int
    folded: int
    offered_paid: int
    stored_paid: int
    stored_unpaid: int
    bound: float
    refused: dict[str, int]


def run_flood(work: Path, paid: Sequence[Message], unpaid_count: int) -> Flood:
    """Build the honest store, then flood it (see the module docstring)."""
    home = work / "sybil-home"
    shutil.rmtree(home, ignore_errors=True)
    store = Store.open(home)
    try:
        return _flood(store, paid, unpaid_count)
    finally:
        store.close()
        shutil.rmtree(home, ignore_errors=True)


def _flood(store: Store, paid: Sequence[Message], unpaid_count: int) -> Flood:
    now_ms = time.time_ns() // 1_000_000
    start = now_ms - HOUR_MS
    me = ChainBuilder(1, start_ts=start)
    followed = [ChainBuilder(100 + i, start_ts=start) for i in range(FOLLOWED)]
    second = [ChainBuilder(1000 + i, start_ts=start) for i in range(FOLLOWED * SECOND_EACH)]
    outsiders = [ChainBuilder(5000 + i, start_ts=start) for i in range(OUTSIDERS)]
    graph = [me.sign(Follow(f.author)) for f in followed]
    for i, f in enumerate(followed):
        graph += [f.follow(s) for s in second[i * SECOND_EACH : (i + 1) * SECOND_EACH]]
    posters = followed + second + outsiders
    tick = HOUR_MS // HONEST_MESSAGES
    honest = []
    for n in range(HONEST_MESSAGES):
        author = posters[n % len(posters)]
        honest.append(author.post(f"honest {n}", ts=start + n * tick))
    store.ingest(graph + honest)

    distances = FollowDistances(me.author)
    update = distances.read(store.reader, everything=True)
    assert update is not None
    distances.apply(update)
    admission = Admission(distances.distance, PostagePolicy(), DEFAULTS.limits)

    unpaid = [
        ChainBuilder(20_000 + i, start_ts=now_ms).post("buy now!") for i in range(unpaid_count)
    ]
    flood = [m.to_bytes() for m in unpaid] + [m.to_bytes() for m in paid]
    sybils = {m.author for m in unpaid} | {m.author for m in paid}
    t0 = 1_000.0
    # By gossip, all at once (one message a millisecond): the validator's order of checks.
    for i, data in enumerate(flood):
        now = t0 + i / 1000
        envelope = peek(data)
        assert envelope is not None
        if admission.postage(envelope, now) is not Verdict.ADMIT:
            continue
        message = decode_message(data)
        if admission.gossip(message.author, now) is Verdict.ADMIT:
            store.ingest([message])
    # A sync offers all of it again a little later; the store skips what it holds.
    later = t0 + len(flood) / 1000 + SYNC_AFTER
    screened = admission.screen(flood, now=later, now_ms=time.time_ns() // 1_000_000)
    store.ingest(screened)

    reader = store.reader
    home = reader.feed("home", me.author, limit=MAX_LIMIT)
    page = reader.feed("global", me.author, limit=PAGE)
    unlimited = reader.feed("global:all", me.author, limit=PAGE)
    stats = admission.stats()
    limits = DEFAULTS.limits
    return Flood(
        home=sum(i.author in sybils for i in home),
        global_page=len(page),
        global_sybil=sum(i.author in sybils for i in page),
        unlimited_sybil=sum(i.author in sybils for i in unlimited),
        folded=sum(i.folded for i in page),
        offered_paid=len(paid),
        stored_paid=sum(reader.has(m.id) for m in paid),
        stored_unpaid=sum(reader.has(m.id) for m in unpaid),
        bound=limits.stranger_burst + limits.stranger_rate * (later - t0),
        refused={
            "postage": stats.refused_postage,
            "stranger_budget": stats.refused_stranger_budget,
        },
    )


# --- postage costs -------------------------------------------------------------------------------


def check_rate(count: int) -> tuple[float, int]:
    """Postage checks per second as gossip runs them, over ``count`` messages: read the
    envelope, hash the header, compare with what the author's distance asks."""
    messages = [ChainBuilder(40_000 + i).post(f"post {i}").to_bytes() for i in range(200)]
    near: dict[AuthorId, int] = {}
    policy = PostagePolicy()
    refused = 0
    started = time.perf_counter()
    for n in range(count):
        envelope = peek(messages[n % len(messages)])
        assert envelope is not None
        if envelope.postage < policy.required(near.get(envelope.author)):
            refused += 1
    return count / (time.perf_counter() - started), refused


def measure(work: Path, verify: Anchor, sizes: Sizes) -> list[Entry]:
    """Every figure of this module (see its docstring)."""
    now_ms = time.time_ns() // 1_000_000
    stamped: dict[int, list[tuple[Message, float]]] = {}
    for bits, count in sizes.stamps.items():
        stamped[bits] = stamp_many(range(60_000, 60_000 + count), bits, now_ms)
    stamped[18] = stamp_many(range(30_000, 30_000 + sizes.sybils), 18, now_ms)
    flood = run_flood(work, [m for m, _ in stamped[18]], sizes.sybils)

    entries = [
        Entry("sybil.home", flood.home, "items", target=HOME_TARGET, params=_flood_params(flood)),
        Entry(
            "sybil.global_share",
            flood.global_sybil / flood.global_page,
            "share",
            target=GLOBAL_TARGET,
            params=_flood_params(flood),
            note=(
                f"{flood.global_sybil}/{flood.global_page} of the page; without the trust"
                f" limit {flood.unlimited_sybil}/{PAGE}"
            ),
        ),
        Entry(
            "sybil.stored_share",
            flood.stored_paid / flood.offered_paid,
            "share",
            params=_flood_params(flood),
            note=f"{flood.stored_paid} of {flood.offered_paid} paid; bound {flood.bound:.0f}",
        ),
    ]
    rate, refused = check_rate(sizes.checks)
    entries.append(
        Entry(
            "postage.check",
            rate,
            "msgs/s",
            anchor=verify,
            target=CHECK_TARGET,
            params={"checks": sizes.checks, "refused": refused},
        )
    )
    all_stamps = [pair for pairs in stamped.values() for pair in pairs]
    total_hashes = sum(hashes(m) for m, _ in all_stamps)
    total_seconds = sum(s for _, s in all_stamps)
    entries.append(
        Entry(
            "postage.hash",
            total_hashes / total_seconds,
            "hashes/s",
            anchor=verify,
            params={"stamps": len(all_stamps), "hashes": total_hashes},
            note=f"{total_seconds / total_hashes * 1e6:.2f} µs per hash",
        )
    )
    for bits in STAMP_BITS:
        seconds = [s for _, s in stamped[bits]]
        mean = statistics.fmean(seconds)
        entries.append(
            Entry(
                f"postage.stamp.{bits}",
                1 / mean,
                "stamps/s",
                anchor=verify,
                target=STAMP_TARGET if bits == 18 else None,
                params={
                    "stamps": len(seconds),
                    "mean_s": mean,
                    "p90_s": statistics.quantiles(seconds, n=10)[-1] if len(seconds) > 1 else mean,
                    "expected_hashes": 2**bits,
                    "workers": os.cpu_count() or 1,
                },
                note=f"{mean * 1000:.1f} ms mean, {mean * verify.value:.0f} signature checks",
            )
        )
    return entries


def _flood_params(flood: Flood) -> dict[str, Any]:
    return {
        "fresh_keys": flood.offered_paid * 2,
        "paid": flood.offered_paid,
        "stored_paid": flood.stored_paid,
        "stored_unpaid": flood.stored_unpaid,
        "budget_bound": math.floor(flood.bound),
        "global_page": flood.global_page,
        "global_sybil": flood.global_sybil,
        "global_sybil_without_trust_limit": flood.unlimited_sybil,
        "folded": flood.folded,
        "refused": flood.refused,
        "policy_bits": {"followed": 0, "second": 10, "stranger": 18},
        "stranger_budget": {
            "rate": DEFAULTS.limits.stranger_rate,
            "burst": DEFAULTS.limits.stranger_burst,
        },
    }


def stage(runner: Runner) -> list[Entry]:
    """The ``sybil`` stage of ``make bench``."""
    verify = runner.anchor("anchor.verify").as_anchor()
    sizes = QUICK if runner.quick else FULL
    return runner.stage("sybil", lambda: measure(runner.work, verify, sizes))


def main(argv: list[str] | None = None) -> int:
    """Run alone: ``python -m bench.sybil [--quick]``."""
    parser = argparse.ArgumentParser(prog="python -m bench.sybil", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="50 keys a half, fewer stamps")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="p2psocial-bench-sybil-", dir="/tmp"))
    try:
        verify = anchors.verify_rate(5_000 if args.quick else 20_000)
        entries = [verify, *measure(work, verify.as_anchor(), QUICK if args.quick else FULL)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for entry in entries:
        ratio = "" if entry.ratio is None else f"  (ratio {entry.ratio:.4g})"
        met = "" if entry.met is None else ("  met" if entry.met else "  MISSED")
        print(f"{entry.name:24} {entry.value:12.4g} {entry.unit:9}{ratio}{met}  {entry.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
