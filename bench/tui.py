"""The terminal app at scale: Home's first paint on a big store, typing during a burst.

Measured on a home holding the corpus, opened as its ``typical`` owner (who follows
``spec.follows`` authors), with the node in the app's process and no network:

- ``tui.home_paint``: seconds from starting the app (modules already imported) to the first
  frame that shows Home's first page: the node opens the store, Home reads its first page
  and the compositor renders it (Textual's headless mode renders every frame; it only does
  not write it to a terminal). Anchor ``anchor.tui.empty_paint``: the same for a Textual
  app that shows one label, on this machine, in this run: what Textual itself costs.
  Target: at most 1 s. The median of :data:`PAINT_RUNS` runs after one untimed run (which
  also rebuilds an index of an older version, if any).
- ``tui.home_paint.terminal``: from launching ``p2psocial tui --no-network`` in a real
  terminal (tmux) to Home's newest message on its screen: process start, imports, opening
  the node, painting. Only where tmux is installed.
- ``tui.notifications.typical`` and ``.busiest``: one page of notifications for the
  typical owner and for the corpus' busiest author (its cost follows what the owner wrote).
- ``tui.burst.*``: :data:`BURST` new posts from followed authors arrive as from the network
  (``Node.ingest``, in batches of :data:`BURST_BATCH`, as fast as the node stores them)
  while Home is open under the composer and a key is typed every :data:`KEY_EVERY_S`
  seconds. ``stall_max`` and ``stall_p99``: how late a 5 ms asyncio ticker woke up (the
  event loop's longest freezes), beside the same ticker with no burst
  (``anchor.tui.idle_stall_max``); ``key_p50``/``key_p99``/``key_max``: from a key
  event to the composer's text holding it. Every typed character must be in the text and
  every message in the index, or the run fails.

``python -m bench.tui [--quick] [--home DIR]`` runs these alone: on ``--home`` if given (a
home already holding the corpus, kept afterwards), else on a store built from the corpus
in a temporary directory. :func:`stage` is the ``tui`` stage of ``python -m bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from p2psocial import keystore
from p2psocial.core.bodies import Post
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.core.message import Message, sign
from p2psocial.errors import NotInitializedError
from p2psocial.home import HomePaths
from p2psocial.store.queries import IndexReader
from p2psocial.store.store import Store

from ._signing import author_id, signing_key
from .config import FULL, QUICK, Config
from .corpus import CACHE_DIR, Corpus, load_corpus
from .ingest import ingest_batches
from .report import Anchor, Entry, Target, format_table
from .timing import Latency

if TYPE_CHECKING:
    from .runner import Runner

PAINT_RUNS: Final = 3
PAINT_TARGET: Final = Target("<=", 1.0, unit="s")
SIZE: Final = (120, 40)
BURST: Final = 1000
BURST_BATCH: Final = 25
KEY_EVERY_S: Final = 0.02
TICK_S: Final = 0.005
IDLE_S: Final = 2.0
STALL_TARGET: Final = Target("<=", 100, unit="ms", note="no visible freeze")
KEY_TARGET: Final = Target("<=", 100, unit="ms")
TERMINAL_TIMEOUT: Final = 60.0


# --- the home --------------------------------------------------------------------------


def owner_index(corpus: Corpus, name: str = "typical") -> int:
    """The corpus index of an owner (its key is derived from it)."""
    meta_path = CACHE_DIR / f"corpus-{corpus.spec.cache_key()}.json"
    owners: dict[str, int] = json.loads(meta_path.read_text())["owners"]
    return owners[name]


def prepare_home(home: Path, corpus: Corpus) -> AuthorId:
    """Give a home that holds the corpus the identity of its ``typical`` owner."""
    index = owner_index(corpus)
    seed = bytes(signing_key(index))
    try:
        existing = keystore.read_public_key(home)
    except NotInitializedError:
        existing = keystore.create_keystore(home, passphrase=None, seed=seed)
    if existing != bytes(signing_key(index).verify_key):
        raise RuntimeError(f"{home} has another identity than the corpus owner")
    return AuthorId(existing)


def burst_messages(home: Path, corpus: Corpus, owner: AuthorId, count: int) -> list[Message]:
    """``count`` new posts by authors ``owner`` follows, each extending its author's chain."""
    reader = IndexReader.open(HomePaths(home).index)
    try:
        followed = [info.id for info in reader.following(owner)]
        heads: dict[AuthorId, tuple[int, MessageId, int]] = {}
        for author in followed:
            rows = reader.query(
                "SELECT m.seq, m.id, m.ts FROM messages m JOIN authors a ON a.rowid = m.author"
                " WHERE a.key = ? ORDER BY m.seq DESC LIMIT 1",
                (author.raw,),
            )
            if rows:
                heads[author] = (rows[0][0], MessageId(rows[0][1]), rows[0][2])
    finally:
        reader.close()
    indices = {author_id(i): i for i in range(corpus.spec.authors)}
    authors = [a for a in followed if a in heads and a in indices][:100]
    if not authors:
        raise RuntimeError("the owner follows nobody whose key the corpus knows")
    now = int(time.time() * 1000)
    out: list[Message] = []
    for n in range(count):
        author = authors[n % len(authors)]
        seq, prev, ts = heads[author]
        ts = max(ts + 1, now + n)
        message = sign(
            signing_key(indices[author]),
            seq=seq + 1,
            prev=prev,
            ts=ts,
            body=Post(f"burst {n}: news from the people you follow"),
        )
        heads[author] = (seq + 1, message.id, ts)
        out.append(message)
    return out


# --- the app, measured ---------------------------------------------------------------------


def _app_classes() -> tuple[type[Any], type[Any]]:
    """The app with a hook on frames, and a one-label app (imported late: Textual is slow
    to import, and ``python -m bench`` imports this module for every run)."""
    from p2psocial_cli.tui.app import P2PSocialApp  # noqa: PLC0415
    from p2psocial_cli.tui.screens.feed import HomeScreen  # noqa: PLC0415
    from textual.app import App, ComposeResult  # noqa: PLC0415
    from textual.widgets import Label  # noqa: PLC0415

    class Timed(P2PSocialApp):
        """Notes when the first frame showing Home's first page is rendered."""

        painted: float | None = None

        def _display(self, screen: Any, renderable: Any) -> None:
            if (
                self.painted is None
                and renderable is not None
                and isinstance(screen, HomeScreen)
                and screen.timeline.items
            ):
                self.painted = time.perf_counter()
            super()._display(screen, renderable)

    class Empty(App[None]):
        painted: float | None = None

        def compose(self) -> ComposeResult:
            yield Label("hello")

        def _display(self, screen: Any, renderable: Any) -> None:
            if self.painted is None and renderable is not None and screen.query(Label):
                self.painted = time.perf_counter()
            super()._display(screen, renderable)

    return Timed, Empty


async def _until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the app did not get to {what} within {timeout} s")
        await asyncio.sleep(0.002)


async def _paint_once(make: Callable[[], Any]) -> float:
    started = time.perf_counter()
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: app.painted is not None, 60.0, "its first frame")
        await pilot.pause()
    return float(app.painted - started)


def paint_times(home: Path, runs: int) -> tuple[list[float], list[float]]:
    """Seconds to Home's first frame, and to an empty app's, each ``runs`` times after one
    untimed run."""
    timed, empty = _app_classes()

    def app() -> Any:
        return timed(home, network=False)

    homes = [asyncio.run(_paint_once(app)) for _ in range(runs + 1)][1:]
    empties = [asyncio.run(_paint_once(empty)) for _ in range(runs + 1)][1:]
    return homes, empties


async def _ticker(lags: list[float], stop: asyncio.Event) -> None:
    clock = time.perf_counter
    while not stop.is_set():
        before = clock()
        await asyncio.sleep(TICK_S)
        lags.append(max(0.0, clock() - before - TICK_S))


async def _burst(home: Path, messages: list[Message]) -> dict[str, Any]:
    from p2psocial_cli.tui.backend import LocalBackend  # noqa: PLC0415
    from p2psocial_cli.tui.dialogs.compose import ComposeScreen  # noqa: PLC0415
    from textual import events  # noqa: PLC0415

    timed, _ = _app_classes()
    gc.collect()  # the apps measured before this one are garbage: not this run's cost
    app = timed(home, network=False, freeze_memory=True)  # as run_app makes it
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: app.painted is not None, 60.0, "Home")
        backend = app.backend
        assert isinstance(backend, LocalBackend)
        node = backend.node
        before = (await backend.counts())["messages"]
        await pilot.press("n")
        await _until(lambda: isinstance(app.screen, ComposeScreen), 10.0, "the composer")
        compose = app.screen
        assert isinstance(compose, ComposeScreen)

        # Idle first: the ticker alone.
        idle: list[float] = []
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticker(idle, stop))
        await asyncio.sleep(IDLE_S)
        stop.set()
        await ticker

        lags: list[float] = []
        keys: list[float] = []
        typed: list[str] = []
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticker(lags, stop))

        async def ingest() -> float:
            started = time.perf_counter()
            for start in range(0, len(messages), BURST_BATCH):
                batch = messages[start : start + BURST_BATCH]
                results = await backend.call(lambda b=batch: node.ingest(b, source="network"))
                if any(r.error is not None for r in results):
                    raise RuntimeError(f"a burst message was refused: {results}")
            return time.perf_counter() - started

        async def type_keys(done: asyncio.Event) -> None:
            alphabet = "the quick brown fox jumps over the lazy dog "
            n = 0
            while not done.is_set() or n < 20:
                char = alphabet[n % len(alphabet)]
                key = "space" if char == " " else char
                expected = "".join(typed) + char
                sent = time.perf_counter()
                app.post_message(events.Key(key, char))
                typed.append(char)
                await _until(lambda e=expected: compose.text == e, 10.0, "the typed key")
                keys.append(time.perf_counter() - sent)
                n += 1
                await asyncio.sleep(KEY_EVERY_S)

        done = asyncio.Event()
        typing = asyncio.create_task(type_keys(done))
        ingest_s = await ingest()
        done.set()
        await typing
        # Let Home catch up with the burst under the dialog, still ticking.
        await asyncio.sleep(1.0)
        stop.set()
        await ticker
        after = (await backend.counts())["messages"]
        if compose.text != "".join(typed):
            raise RuntimeError("typed text was lost during the burst")
        if after - before != len(messages):
            raise RuntimeError(f"{after - before} of {len(messages)} messages reached the index")
        await pilot.press("escape")
    return {"idle": idle, "lags": lags, "keys": keys, "ingest_s": ingest_s, "typed": len(typed)}


# --- a real terminal ---------------------------------------------------------------------


def terminal_paint(home: Path, expect: str) -> float | None:
    """Seconds from launching ``p2psocial tui`` in tmux to ``expect`` on its screen; None
    without tmux."""
    tmux = shutil.which("tmux")
    script = shutil.which("p2psocial", path=str(Path(sys.executable).parent))
    if tmux is None or script is None:
        return None
    session = f"p2psocial-bench-{os.getpid()}"
    socket = Path(tempfile.mkdtemp(prefix="p2psocial-tmux-")) / "tmux.sock"
    base = [tmux, "-S", str(socket)]
    command = f"{script} --home {home} tui --no-network"
    width, height = SIZE
    started = time.perf_counter()
    subprocess.run(
        [*base, "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), command],
        check=True,
    )
    try:
        deadline = time.monotonic() + TERMINAL_TIMEOUT
        while True:
            screen = subprocess.run(
                [*base, "capture-pane", "-p", "-t", session],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            if expect in screen:
                painted = time.perf_counter() - started
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{expect!r} not on the terminal within {TERMINAL_TIMEOUT} s")
            time.sleep(0.01)
        subprocess.run([*base, "send-keys", "-t", session, "q"], check=True)
        alive = [*base, "has-session", "-t", session]
        while subprocess.run(alive, capture_output=True, check=False).returncode == 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the app did not quit")
            time.sleep(0.05)
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True, check=False)
        shutil.rmtree(socket.parent, ignore_errors=True)
    return painted


# --- the figures -------------------------------------------------------------------------


def measure(home: Path, corpus: Corpus, *, runs: int = PAINT_RUNS) -> list[Entry]:
    """Every figure of this module, on a home that holds ``corpus``."""
    owner = prepare_home(home, corpus)
    held = held_messages(home)
    homes, empties = paint_times(home, runs)
    empty = Entry(
        "anchor.tui.empty_paint",
        statistics.median(empties),
        "s",
        params={"runs": runs, "all_s": [round(x, 4) for x in empties]},
    )
    reader = IndexReader.open(HomePaths(home).index)
    try:
        first = [i for i in reader.home(owner, limit=10) if i.text and len(i.text) >= 12]
        query = Latency.of([_timed(lambda: reader.home(owner, limit=40)) for _ in range(20)])
    finally:
        reader.close()
    params: dict[str, Any] = {
        "messages": held,
        "follows": corpus.spec.follows,
        "runs": runs,
        "all_s": [round(x, 4) for x in homes],
        "max_s": round(max(homes), 4),
        "home_page_query_p50_ms": round(query.p50, 3),
        "size": list(SIZE),
    }
    entries = [
        empty,
        Entry(
            "tui.home_paint",
            statistics.median(homes),
            "s",
            anchor=empty.as_anchor(),
            target=PAINT_TARGET,
            params=params,
        ),
    ]
    if first:
        expect = (first[0].text or "")[:24].strip()
        terminal = terminal_paint(home, expect)
        if terminal is not None:
            entries.append(
                Entry(
                    "tui.home_paint.terminal",
                    terminal,
                    "s",
                    target=PAINT_TARGET,
                    params={"messages": held, "size": list(SIZE), "looked_for": expect},
                )
            )
    entries += notification_pages(home, corpus)
    messages = burst_messages(home, corpus, owner, BURST)
    burst = asyncio.run(_burst(home, messages))
    entries += _burst_entries(burst)
    return entries


def notification_pages(home: Path, corpus: Corpus) -> list[Entry]:
    """A page of notifications (40) for the typical owner and for the busiest author: the
    query reads what the owner wrote, so its cost grows with that, not with the store."""
    reader = IndexReader.open(HomePaths(home).index)
    try:
        entries = []
        for name, who in (("typical", corpus.owners["typical"]), ("busiest", corpus.busiest)):
            reader.notifications(who, limit=40)  # warm the pages it reads
            latency = Latency.of(
                [_timed(lambda w=who: reader.notifications(w, limit=40)) for _ in range(10)]
            )
            info = reader.author(who)
            entries.append(
                Entry(
                    f"tui.notifications.{name}",
                    latency.p50,
                    "ms",
                    params={
                        "their_messages": info.held if info else 0,
                        "limit": 40,
                        "max_ms": round(latency.max, 3),
                    },
                )
            )
        return entries
    finally:
        reader.close()


def held_messages(home: Path) -> int:
    """Messages the home's index holds."""
    reader = IndexReader.open(HomePaths(home).index)
    try:
        return int(reader.counts()["messages"])
    finally:
        reader.close()


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _burst_entries(burst: dict[str, Any]) -> list[Entry]:
    idle = Latency.of(burst["idle"])
    lags = Latency.of(burst["lags"])
    keys = Latency.of(burst["keys"])
    anchor = Anchor("anchor.tui.idle_stall_max", idle.max, "ms")
    params = {
        "messages": BURST,
        "batch": BURST_BATCH,
        "ingest_s": round(burst["ingest_s"], 3),
        "keys_typed": burst["typed"],
        "key_every_ms": KEY_EVERY_S * 1000,
        "tick_ms": TICK_S * 1000,
        "ticks": lags.samples,
    }
    return [
        Entry("anchor.tui.idle_stall_max", idle.max, "ms", params={"ticks": idle.samples}),
        Entry(
            "tui.burst.stall_max", lags.max, "ms", anchor=anchor, target=STALL_TARGET, params=params
        ),
        Entry("tui.burst.stall_p99", lags.p99, "ms", anchor=anchor, params=params),
        Entry("tui.burst.key_p50", keys.p50, "ms", params={"keys": keys.samples}),
        Entry(
            "tui.burst.key_p99", keys.p99, "ms", target=KEY_TARGET, params={"keys": keys.samples}
        ),
        Entry("tui.burst.key_max", keys.max, "ms", params={"keys": keys.samples}),
    ]


# --- in a run, and alone ---------------------------------------------------------------------


def stage(runner: Runner) -> list[Entry]:
    """The ``tui`` stage of ``python -m bench``: on a store of its own in the work directory."""
    corpus = runner.corpus()
    home = runner.work / "home-tui"
    runner.stage("tui.build", lambda: _build(home, corpus))
    try:
        return runner.stage("tui", lambda: measure(home, corpus))
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _build(home: Path, corpus: Corpus) -> None:
    store = Store.open(home)
    try:
        ingest_batches(store, corpus.messages, 1000)
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    """Run this module's figures alone and print them."""
    parser = argparse.ArgumentParser(prog="python -m bench.tui", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the quick corpus (20k)")
    parser.add_argument(
        "--home",
        type=Path,
        help="a home that already holds the corpus (given the owner's identity if it has none)",
    )
    parser.add_argument("--runs", type=int, default=PAINT_RUNS, help="timed paints of each app")
    args = parser.parse_args(argv)
    config: Config = QUICK if args.quick else FULL
    corpus = load_corpus(config.corpus, workers=os.cpu_count() or 1)
    work: Path | None = None
    home = args.home
    if home is None:
        work = Path(tempfile.mkdtemp(prefix="p2psocial-bench-tui-", dir="/tmp"))
        home = work / "home"
        print(f"[tui] building a store of {len(corpus.messages)} messages ...", file=sys.stderr)
        _build(home, corpus)
    try:
        entries = measure(home, corpus, runs=args.runs)
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    print(format_table([entry.to_json() for entry in entries]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
