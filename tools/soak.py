"""Crash soak: a real node killed with SIGKILL at random moments, again and again.

One ``p2psocial node`` daemon (the *victim*) runs on a temporary home under continuous
writes through every path that stores something:

- its own posts, replies and reactions, through its control socket;
- imports of export files signed by three other authors, through its control socket;
- gossip and sync from a second real daemon (the *feeder*) on 127.0.0.1, which the victim
  follows and which posts on its own control socket all along.

At a random moment (after a random number of write requests have been sent, so that the
kill lands while writes are in flight; sometimes while the daemon is still starting and
recovering) the victim gets SIGKILL. Sometimes the soak then appends a torn frame to the
log's last segment, as a crash in the middle of a write on a machine that lost power
would leave it. Then the victim is restarted, and before any new write:

- ``p2psocial verify`` (the real command) passes;
- every acknowledged message is in the log and in the index. A message is acknowledged
  when the control socket answered the write that carried it with success; the soak keeps
  those ids outside the node (in memory and in ``acked.jsonl``);
- the index matches the log exactly: every record before the position the index says it
  has reached is indexed at its position (as a message or as fork evidence) and nothing
  else is, and every author's head and count agree with the log;
- nothing the index ever showed has disappeared, and the victim catches up with every
  post the feeder acknowledged (sync on reconnect);
- a torn tail, injected or left by the kill, was cut off (counted from ``log/torn/``).

Every wait is on a condition with a deadline. Randomness comes from one seed, printed at
the start: the kill moments, torn frames and workload choices it draws are the same for
the same seed, while what is in flight at a kill depends on timing.

Usage::

    python -m tools.soak                 # 100 kills (make soak)
    python -m tools.soak --kills 5       # the short form tests/soak runs in make test
    python -m tools.soak --seed 42 --keep --json summary.json

Exit status 0 when every check held after every restart, 1 when one failed (the home and
the daemons' stderr are kept and their path printed), 2 for bad arguments. Linux only (it
watches ``/proc`` to kill a daemon in the middle of its start).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import random
import select
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from nacl.signing import SigningKey

from p2psocial.config import CONFIG_FILENAME, DEFAULTS
from p2psocial.control import ControlClient, NoAnswerError
from p2psocial.core.bodies import Body, Follow, Post, Reaction, Reply
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.core.message import Message, decode_message, sign
from p2psocial.errors import P2PSocialError
from p2psocial.store.exchange import write_export
from p2psocial.store.framing import encode_frame
from p2psocial.store.log import TORN_DIRECTORY, Log

LOOPBACK: Final = "/ip4/127.0.0.1/tcp/0"
START_DEADLINE: Final = 60.0
"""Seconds a daemon may take to print its listen address."""
STOP_DEADLINE: Final = 20.0
WORKLOAD_DEADLINE: Final = 120.0
"""Seconds the workload may take to send the writes a kill waits for."""
CATCH_UP_DEADLINE: Final = 90.0
"""Seconds the victim may take to hold every post the feeder acknowledged."""
CALL_TIMEOUT: Final = 30.0
POLL: Final = 0.01
"""Seconds between two looks at a condition (each wait also has a deadline)."""
OTHER_AUTHORS: Final = 3
FEEDER_EVERY: Final = 10
"""The feeder posts once per this many writes acknowledged by the victim."""
SOAK_CONFIG: Final[dict[str, dict[str, Any]]] = {
    "postage": {"stamp": 0},  # own messages: no proof of work (it would dominate the run)
    "sync": {"interval": 5.0},  # the periodic sync repairs what gossip dropped, soon
    "limits": {"author_rate": 1000.0, "author_burst": 10000},  # not what this run tests
}
"""Settings written to both homes, each only if this version of p2psocial has it."""


class SoakFailure(Exception):
    """A check failed: something acknowledged was lost, or the node misbehaved."""


@dataclass(frozen=True, slots=True)
class SoakConfig:
    """One soak run."""

    kills: int = 100
    seed: int = 0
    workdir: Path | None = None
    """Where homes and logs go; a new temporary directory if None."""
    keep: bool = False
    """Keep the work directory after a clean run (it is always kept after a failure)."""
    max_writes: int = 40
    """A kill comes after 1 to this many write requests since the daemon became ready."""
    startup_kill_rate: float = 0.1
    """Share of kills aimed at a daemon that is still starting (opening, recovering)."""
    tear_rate: float = 0.25
    """Share of kills after which a torn frame is appended to the log's last segment."""
    max_import: int = 100
    """Messages in one import file: 1 to this many."""
    feeder: bool = True
    """Run the second daemon that gossips and syncs its posts to the victim."""
    verbose: bool = False


DEFAULT: Final = SoakConfig()


@dataclass
class Summary:
    """What a soak run did and found."""

    seed: int
    kills: int = 0
    kills_during_start: int = 0
    restarts_checked: int = 0
    acked_own: int = 0
    acked_imported: int = 0
    acked_feeder: int = 0
    in_doubt: int = 0
    """Writes sent whose answer never came (the kill cut them off): not checked either way."""
    lost: int = 0
    torn_tails_recovered: int = 0
    torn_tails_injected: int = 0
    torn_tails_from_kills: int = 0
    log_records: int = 0
    restart_seconds: list[float] = field(default_factory=list)
    catch_up_seconds: list[float] = field(default_factory=list)
    check_seconds: list[float] = field(default_factory=list)
    total_seconds: float = 0.0

    @property
    def acked(self) -> int:
        """Messages acknowledged by the victim (own and imported)."""
        return self.acked_own + self.acked_imported

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON, with the restart times summarised."""
        data = dataclasses.asdict(self)
        data["acked"] = self.acked
        for name in ("restart_seconds", "catch_up_seconds", "check_seconds"):
            data[name] = _spread(getattr(self, name))
        return data

    def lines(self) -> list[str]:
        """The summary as a person reads it."""
        restart = _spread(self.restart_seconds)
        return [
            f"seed                      {self.seed}",
            f"kills (SIGKILL)           {self.kills} ({self.kills_during_start} while starting)",
            f"restarts checked          {self.restarts_checked}",
            f"acknowledged messages     {self.acked} ({self.acked_own} own, "
            f"{self.acked_imported} imported); {self.acked_feeder} from the feeder",
            f"writes in doubt at a kill {self.in_doubt} (not acknowledged, so not counted)",
            f"lost                      {self.lost}",
            f"torn tails recovered      {self.torn_tails_recovered} ({self.torn_tails_injected}"
            f" injected, {self.torn_tails_from_kills} left by a kill)",
            f"log records at the end    {self.log_records}",
            f"time per restart          mean {restart['mean']:.2f} s, p50 {restart['p50']:.2f} s,"
            f" p95 {restart['p95']:.2f} s, max {restart['max']:.2f} s (start to ready)",
            f"catch-up after restart    mean {_spread(self.catch_up_seconds)['mean']:.2f} s",
            f"checks per restart        mean {_spread(self.check_seconds)['mean']:.2f} s"
            " (verify, log and index)",
            f"total                     {self.total_seconds:.0f} s",
        ]


def _spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "p50": 0.0, "p95": 0.0, "max": 0.0}
    ordered = sorted(values)
    return {
        "mean": statistics.fmean(ordered),
        "p50": ordered[len(ordered) // 2],
        "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "max": ordered[-1],
    }


# --- waiting ------------------------------------------------------------------------------


def wait_until(condition: Callable[[], bool], deadline: float, what: str) -> None:
    """Return once ``condition()`` holds; fail with ``what`` at ``deadline`` (monotonic)."""
    wake = threading.Event()
    while not condition():
        if time.monotonic() >= deadline:
            raise SoakFailure(f"timed out waiting for {what}")
        wake.wait(POLL)


# --- the daemons --------------------------------------------------------------------------


def executable() -> str:
    """The ``p2psocial`` console script of this interpreter's environment."""
    found = shutil.which("p2psocial", path=str(Path(sys.executable).parent))
    if found is None:
        raise SoakFailure("the p2psocial command is not installed next to this Python")
    return found


def environment(home: Path) -> dict[str, str]:
    """The environment of a command on ``home`` (its own HOME, no inherited settings)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home.parent),
        "LC_ALL": "C.UTF-8",
        "P2PSOCIAL_HOME": str(home),
    }


def cli(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one ``p2psocial`` command on ``home``."""
    result = subprocess.run(
        [executable(), *args],
        env=environment(home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check and result.returncode != 0:
        raise SoakFailure(f"p2psocial {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def write_config(home: Path) -> None:
    """Write :data:`SOAK_CONFIG`, keeping only what this version's config knows."""
    lines: list[str] = []
    for section, values in SOAK_CONFIG.items():
        current = getattr(DEFAULTS, section, None)
        if current is None:
            continue
        known = {f.name for f in dataclasses.fields(current)}
        kept = {k: v for k, v in values.items() if k in known}
        if kept:
            lines.append(f"[{section}]")
            lines.extend(f"{k} = {json.dumps(v)}" for k, v in kept.items())
    (home / CONFIG_FILENAME).write_text("\n".join(lines) + "\n", encoding="utf-8")


class Daemon:
    """One ``p2psocial node`` process on a home."""

    def __init__(self, home: Path, stderr_path: Path, peers: list[str]) -> None:
        args = [executable(), "node", "--listen", LOOPBACK, "--no-mdns"]
        for peer in peers:
            args += ["--peer", peer]
        self.home = home
        self.stderr_path = stderr_path
        self._stderr: IO[bytes] = open(stderr_path, "wb")  # noqa: SIM115 (closed in reap)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            args,
            env=environment(home),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self.addr: str | None = None

    def wait_ready(self, deadline: float) -> str:
        """The first listen address it prints, once it does (network and socket are up)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SoakFailure(f"the daemon did not start in time\n{self.stderr()}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 1)
                if not chunk:
                    raise SoakFailure(
                        f"the daemon exited ({self.proc.wait()}) while starting\n{self.stderr()}"
                    )
                line += chunk
        self.addr = line.decode().strip()
        return self.addr

    def has_opened_its_log(self) -> bool:
        """Whether the process holds a file of its log open (it is opening the store)."""
        log_dir = str(self.home / "log")
        with suppress(OSError):
            for fd in os.listdir(f"/proc/{self.proc.pid}/fd"):
                with suppress(OSError):
                    if os.readlink(f"/proc/{self.proc.pid}/fd/{fd}").startswith(log_dir):
                        return True
        return False

    def kill(self) -> None:
        """SIGKILL, and wait until it is gone."""
        self.proc.send_signal(signal.SIGKILL)
        self.reap(STOP_DEADLINE)

    def stop(self) -> int:
        """SIGTERM, a clean stop; the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.reap(STOP_DEADLINE)

    def reap(self, seconds: float) -> int:
        try:
            status = self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            status = self.proc.wait(timeout=seconds)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()
        return status

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")[-3000:]


# --- the workload -------------------------------------------------------------------------


@dataclass
class Acked:
    """Acknowledged messages, recorded outside the node (memory and a journal file)."""

    journal: Path
    own: dict[bytes, str] = field(default_factory=dict)
    """Id -> kind, for the victim's own messages."""
    imported: dict[bytes, str] = field(default_factory=dict)
    feeder: dict[bytes, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, source: str, ids: list[tuple[bytes, str]]) -> None:
        with self.lock:
            target = getattr(self, source)
            with open(self.journal, "a", encoding="utf-8") as out:
                for raw, kind in ids:
                    target[raw] = kind
                    out.write(json.dumps({"source": source, "id": raw.hex(), "kind": kind}) + "\n")

    def pick(self, source: str, kind: str, rng: random.Random) -> bytes | None:
        with self.lock:
            ids = [i for i, k in getattr(self, source).items() if k == kind]
        return rng.choice(ids) if ids else None


class OtherAuthors:
    """Authors whose chains reach the victim in export files (deterministic from the seed)."""

    def __init__(self, seed: int, count: int, feeder: AuthorId | None) -> None:
        self.keys = [
            SigningKey(hashlib.blake2b(f"soak/{seed}/{i}".encode(), digest_size=32).digest())
            for i in range(count)
        ]
        self.heads: list[tuple[int, MessageId | None, int]] = [(0, None, 0)] * count
        self.posts: list[MessageId] = []
        self.feeder = feeder

    def next_file(self, path: Path, rng: random.Random, size: int) -> list[Message]:
        """Sign the next ``size`` messages of a random author and write them to ``path``."""
        which = rng.randrange(len(self.keys))
        seq, prev, last_ts = self.heads[which]
        made: list[Message] = []
        for _ in range(size):
            body = self._body(rng, which, seq)
            ts = max(time.time_ns() // 1_000_000, last_ts + 1)
            message = sign(self.keys[which], seq=seq + 1, prev=prev, ts=ts, body=body)
            made.append(message)
            seq, prev, last_ts = message.seq, message.id, ts
            if isinstance(body, Post):
                self.posts.append(message.id)
        self.heads[which] = (seq, prev, last_ts)
        write_export(path, [m.to_bytes() for m in made])
        return made

    def _body(self, rng: random.Random, which: int, seq: int) -> Body:
        roll = rng.random()
        if seq == 0 and self.feeder is not None:
            return Follow(self.feeder)
        if roll < 0.15 and self.posts:
            parent = rng.choice(self.posts)
            return Reply(f"a reply from author {which} #soak", parent, parent)
        if roll < 0.25 and self.posts:
            return Reaction(rng.choice(self.posts), "\N{THUMBS UP SIGN}")
        return Post(f"author {which} says {rng.getrandbits(40):x} #soak")


class Workload:
    """Threads that write to the victim (and the feeder) while the gate is open."""

    def __init__(
        self,
        *,
        config: SoakConfig,
        victim_home: Path,
        feeder_home: Path | None,
        acked: Acked,
        others: OtherAuthors,
        workdir: Path,
        summary: Summary,
    ) -> None:
        self._config = config
        self._victim = victim_home
        self._feeder = feeder_home
        self._acked = acked
        self._others = others
        self._imports = workdir / "imports"
        self._imports.mkdir()
        self._summary = summary
        self.gate = threading.Event()
        self._stop = threading.Event()
        self._progress = threading.Condition()
        self.sent = 0
        self.victim_acks = 0
        self._errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._guard, args=(fn, seed), name=name, daemon=True)
            for name, fn, seed in (
                ("own", self._own_writes, 1),
                ("imports", self._import_writes, 2),
                ("feeder", self._feeder_posts, 3),
            )
            if name != "feeder" or feeder_home is not None
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self.gate.clear()
        self._stop.set()
        for thread in self._threads:
            thread.join(CALL_TIMEOUT + 5)
        self.check()

    def check(self) -> None:
        """Raise what a workload thread failed with (a write the node refused)."""
        if self._errors:
            raise SoakFailure(f"a writer failed: {self._errors[0]!r}") from self._errors[0]

    def wait_sent(self, count: int, deadline: float) -> None:
        """Return once ``count`` write requests have been sent to the victim in all."""
        with self._progress:
            while self.sent < count:
                self.check()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SoakFailure(f"the workload sent {self.sent} of {count} writes in time")
                self._progress.wait(min(remaining, 1.0))

    def _guard(self, fn: Callable[[random.Random], None], offset: int) -> None:
        try:
            fn(random.Random(self._config.seed * 10 + offset))
        except BaseException as exc:
            self._errors.append(exc)
            self.gate.clear()
            with self._progress:
                self._progress.notify_all()

    def _connected(self, home: Path) -> Iterator[ControlClient]:
        """Yield a client each time the gate is open and the daemon answers, until stop."""
        while not self._stop.is_set():
            if not self.gate.wait(0.2):
                continue
            try:
                client = ControlClient.connect(home, timeout=5.0)
            except NoAnswerError:
                client = None
            if client is None:
                self._stop.wait(POLL)  # the daemon is going down or not up yet
                continue
            with client:
                yield client

    def _send(self, client: ControlClient, method: str, params: dict[str, Any]) -> Any:
        """One write to the victim; None if the daemon died before answering."""
        with self._progress:
            self.sent += 1
            self._progress.notify_all()
        try:
            result = client.call(method, params, timeout=CALL_TIMEOUT)
        except (NoAnswerError, ConnectionError):
            with self._acked.lock:
                self._summary.in_doubt += 1
            return None
        with self._progress:
            self.victim_acks += 1
            self._progress.notify_all()
        return result

    def _own_writes(self, rng: random.Random) -> None:
        number = 0
        for client in self._connected(self._victim):
            while self.gate.is_set():
                number += 1
                roll = rng.random()
                parent = self._acked.pick("own", "post", rng)
                target = self._acked.pick("imported", "post", rng)
                if roll < 0.1 and parent is not None:
                    method, kind = "reply", "reply"
                    params = {"parent": str(MessageId(parent)), "text": f"reply {number}"}
                elif roll < 0.2 and target is not None:
                    method, kind = "react", "reaction"
                    params = {"target": str(MessageId(target)), "emoji": "\N{FIRE}"}
                else:
                    method, kind = "post", "post"
                    params = {"text": f"soak {self._config.seed} own {number} #soak"}
                result = self._send(client, method, params)
                if result is None:
                    break
                self._acked.add("own", [(MessageId.parse(result["id"]).raw, kind)])

    def _import_writes(self, rng: random.Random) -> None:
        pending: tuple[Path, list[Message]] | None = None
        number = 0
        for client in self._connected(self._victim):
            while self.gate.is_set():
                if pending is None:
                    number += 1
                    path = self._imports / f"{number:05}.export"
                    size = rng.randint(1, self._config.max_import)
                    pending = (path, self._others.next_file(path, rng, size))
                path, made = pending
                result = self._send(client, "import", {"path": str(path)})
                if result is None:
                    break  # the same file again after the restart: it may be partly in
                if result["read"] != len(made):
                    raise SoakFailure(f"import of {path} read {result['read']} of {len(made)}")
                self._acked.add("imported", [(m.id.raw, m.kind.value) for m in made])
                pending = None

    def _feeder_posts(self, rng: random.Random) -> None:
        assert self._feeder is not None
        number = 0
        while not self._stop.is_set():
            with self._progress:
                mark = self.victim_acks + FEEDER_EVERY
                while self.victim_acks < mark and not self._stop.is_set():
                    self._progress.wait(0.2)
            if self._stop.is_set():
                return
            client = ControlClient.connect(self._feeder, timeout=5.0)
            if client is None:
                raise SoakFailure("the feeder daemon is gone")
            with client:
                number += 1
                text = f"feeder {self._config.seed} {number} {rng.getrandbits(32):x} #soak"
                result = client.call("post", {"text": text}, timeout=CALL_TIMEOUT)
            self._acked.add("feeder", [(MessageId.parse(result["id"]).raw, "post")])


# --- the checks ---------------------------------------------------------------------------


@contextmanager
def index_snapshot(home: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the index, inside one read transaction."""
    uri = f"file:{home / 'index.sqlite3'}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
    try:
        conn.execute("BEGIN")
        yield conn
        conn.execute("COMMIT")
    finally:
        conn.close()


@dataclass(frozen=True, slots=True)
class IndexState:
    position: int
    messages: dict[bytes, int]
    """Id -> log position."""
    forks: dict[bytes, int]
    authors: dict[bytes, tuple[int, int]]
    """Author key -> (head_seq, held)."""


def read_index(home: Path) -> IndexState:
    with index_snapshot(home) as conn:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        messages = dict(conn.execute("SELECT id, pos FROM messages").fetchall())
        forks = dict(conn.execute("SELECT id, pos FROM forks").fetchall())
        authors = {
            key: (head, held)
            for key, head, held in conn.execute("SELECT key, head_seq, held FROM authors")
            if held > 0
        }
    return IndexState(int(meta.get("position", 0)), messages, forks, authors)


def read_log(home: Path, up_to: int | None = None) -> dict[bytes, tuple[int, Message]]:
    """Every record of the log (before ``up_to``): id -> (position, message)."""
    records: dict[bytes, tuple[int, Message]] = {}
    with Log.open(home / "log", writable=False) as log:
        for record in log.read_from(0):
            if up_to is not None and record.position >= up_to:
                break
            message = decode_message(record.payload, check_signature=False)
            if message.id.raw in records:
                raise SoakFailure(f"message {message.id.short} is in the log twice")
            records[message.id.raw] = (record.position, message)
    return records


def torn_files(home: Path) -> int:
    torn = home / "log" / TORN_DIRECTORY
    return len(list(torn.iterdir())) if torn.is_dir() else 0


def verify(home: Path) -> int:
    """``p2psocial verify --json``; the number of records checked."""
    result = cli(home, "verify", "--json", check=False)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        raise SoakFailure(f"verify printed no JSON: {result.stderr.strip()}") from None
    if result.returncode != 0 or not report["ok"]:
        raise SoakFailure(f"p2psocial verify failed: {report['problems']}")
    return int(report["records"])


def check_store(home: Path, acked: Acked, seen: set[bytes], summary: Summary) -> set[bytes]:
    """Every check of the victim's store but verify; returns every id the index holds."""
    index = read_index(home)
    log = read_log(home, up_to=index.position)
    in_log = {i: pos for i, (pos, _) in log.items()}
    in_index = index.messages | index.forks
    if in_log != in_index:
        missing = len(set(in_log) - set(in_index))
        extra = len(set(in_index) - set(in_log))
        moved = sum(1 for i in set(in_log) & set(in_index) if in_log[i] != in_index[i])
        raise SoakFailure(
            f"the index does not match the log before position {index.position}: "
            f"{missing} records not indexed, {extra} rows not in the log, {moved} at another "
            "position"
        )
    heads: dict[bytes, set[int]] = {}
    for raw, (_, message) in log.items():
        if raw in index.messages:
            heads.setdefault(message.author.raw, set()).add(message.seq)
    expected = {author: (max(seqs), len(seqs)) for author, seqs in heads.items()}
    if expected != index.authors:
        wrong = [AuthorId(a).short for a in set(expected) ^ set(index.authors)] or [
            AuthorId(a).short for a in expected if expected[a] != index.authors.get(a)
        ]
        raise SoakFailure(f"author heads or counts in the index differ from the log: {wrong}")
    with acked.lock:
        wanted = {**acked.own, **acked.imported}
    lost = [MessageId(i) for i in wanted if i not in index.messages]
    gone = [MessageId(i) for i in seen if i not in in_index]
    summary.lost = len(lost) + len(gone)
    if lost:
        raise SoakFailure(f"{len(lost)} acknowledged messages are lost, first {lost[0].short}")
    if gone:
        raise SoakFailure(f"{len(gone)} messages the index showed before are gone: {gone[0]}")
    summary.log_records = len(log)
    return set(in_index)


def holds(home: Path, ids: set[bytes]) -> bool:
    if not ids:
        return True
    with index_snapshot(home) as conn:
        held = {row[0] for row in conn.execute("SELECT id FROM messages")}
    return ids <= held


# --- the run ------------------------------------------------------------------------------


def tear(home: Path, rng: random.Random) -> None:
    """Append a cut-off frame to the log's last segment, as a write cut by a crash."""
    last = max((home / "log").glob("*.seg"))
    frame = encode_frame(rng.randbytes(rng.randint(1, 600)))
    with open(last, "ab") as out:
        out.write(frame[: rng.randint(1, len(frame) - 1)])
        out.flush()
        os.fsync(out.fileno())


class Soak:
    """One run: homes, daemons, workload, kills and checks."""

    def __init__(self, config: SoakConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.rng = random.Random(config.seed)
        self.summary = Summary(seed=config.seed)
        self.victim_home = workdir / "victim"
        self.feeder_home = workdir / "feeder" if config.feeder else None
        self.acked = Acked(workdir / "acked.jsonl")
        self.victim: Daemon | None = None
        self.feeder: Daemon | None = None
        self.runs = 0
        self.seen: set[bytes] = set()

    def say(self, text: str) -> None:
        if self.config.verbose:
            print(f"[soak {time.strftime('%H:%M:%S')}] {text}", flush=True)

    def setup(self) -> None:
        cli(self.victim_home, "init", "--no-passphrase")
        write_config(self.victim_home)
        feeder_id: AuthorId | None = None
        if self.feeder_home is not None:
            cli(self.feeder_home, "init", "--no-passphrase")
            write_config(self.feeder_home)
            whoami = json.loads(cli(self.feeder_home, "whoami", "--json").stdout)
            feeder_id = AuthorId.parse(whoami["id"])
            cli(self.victim_home, "follow", str(feeder_id))  # offline: the CLI opens the node
            self.feeder = Daemon(self.feeder_home, self.workdir / "feeder.stderr", [])
            self.feeder.wait_ready(time.monotonic() + START_DEADLINE)
        self.others = OtherAuthors(self.config.seed, OTHER_AUTHORS, feeder_id)

    def start_victim(self) -> Daemon:
        self.runs += 1
        peers = [self.feeder.addr] if self.feeder is not None and self.feeder.addr else []
        stderr = self.workdir / f"victim-{self.runs:04}.stderr"
        return Daemon(self.victim_home, stderr, peers)

    def restart(self) -> None:
        """Start the victim (killing some starts halfway) and check it before any write."""
        while self.rng.random() < self.config.startup_kill_rate and self.summary.kills < (
            self.config.kills
        ):
            daemon = self.start_victim()

            def opening(daemon: Daemon = daemon) -> bool:
                return daemon.proc.poll() is not None or daemon.has_opened_its_log()

            wait_until(opening, time.monotonic() + START_DEADLINE, "the daemon to open its log")
            daemon.kill()
            self.summary.kills += 1
            self.summary.kills_during_start += 1
            self.say(f"kill {self.summary.kills}: while starting")
        self.victim = self.start_victim()
        self.victim.wait_ready(time.monotonic() + START_DEADLINE)
        self.summary.restart_seconds.append(time.monotonic() - self.victim.started)
        self.check()

    def check(self) -> None:
        began = time.monotonic()
        if self.feeder_home is not None:
            with self.acked.lock:
                wanted = set(self.acked.feeder)
            wait_until(
                lambda: holds(self.victim_home, wanted),
                began + CATCH_UP_DEADLINE,
                f"the victim to hold the feeder's {len(wanted)} acknowledged posts",
            )
            self.summary.catch_up_seconds.append(time.monotonic() - began)
        checks_began = time.monotonic()
        verify(self.victim_home)
        self.seen = check_store(self.victim_home, self.acked, self.seen, self.summary)
        self.summary.check_seconds.append(time.monotonic() - checks_began)
        self.say(
            f"checked: {len(self.seen)} messages held,"
            f" {len(self.acked.own) + len(self.acked.imported)} acknowledged"
        )

    def kill_in_flight(self, workload: Workload) -> None:
        """Open the gate, wait for a random number of writes, SIGKILL the victim."""
        assert self.victim is not None
        writes = self.rng.randint(1, self.config.max_writes)
        target = workload.sent + writes  # the gate is closed: nothing is being sent
        workload.gate.set()
        workload.wait_sent(target, time.monotonic() + WORKLOAD_DEADLINE)
        workload.gate.clear()
        self.victim.kill()
        self.summary.kills += 1
        self.say(f"kill {self.summary.kills}: {writes} writes after the restart")

    def run(self) -> Summary:
        began = time.monotonic()
        self.setup()
        workload = Workload(
            config=self.config,
            victim_home=self.victim_home,
            feeder_home=self.feeder_home,
            acked=self.acked,
            others=self.others,
            workdir=self.workdir,
            summary=self.summary,
        )
        workload.start()
        try:
            self.restart()
            while self.summary.kills < self.config.kills:
                self.kill_in_flight(workload)
                torn_before = torn_files(self.victim_home)
                tore = self.rng.random() < self.config.tear_rate
                if tore:
                    tear(self.victim_home, self.rng)
                    self.summary.torn_tails_injected += 1
                self.restart()
                self.summary.restarts_checked += 1
                self._count_torn(tore, torn_before)
            workload.stop()
            self.finish()
        finally:
            workload.gate.clear()
            self.summary.total_seconds = time.monotonic() - began
            with self.acked.lock:
                self.summary.acked_own = len(self.acked.own)
                self.summary.acked_imported = len(self.acked.imported)
                self.summary.acked_feeder = len(self.acked.feeder)
            for daemon in (self.victim, self.feeder):
                if daemon is not None and daemon.proc.poll() is None:
                    daemon.kill()
        return self.summary

    def _count_torn(self, injected: bool, torn_before: int) -> None:
        """A restart found a torn tail if recovery kept cut-off bytes under log/torn/."""
        recovered = torn_files(self.victim_home) > torn_before
        if injected and not recovered:
            raise SoakFailure("a torn tail was injected but the restart did not cut it off")
        if recovered:
            self.summary.torn_tails_recovered += 1
            if not injected:
                self.summary.torn_tails_from_kills += 1
        self.say(f"torn tail: {'cut off' if recovered else 'none'}{' (injected)' * injected}")

    def finish(self) -> None:
        """Stop both daemons cleanly and check both homes once more, at rest."""
        assert self.victim is not None
        self.check()
        for daemon in (self.victim, self.feeder):
            if daemon is not None:
                status = daemon.stop()
                if status != 0:
                    raise SoakFailure(f"a daemon exited {status} on SIGTERM\n{daemon.stderr()}")
        self.seen = check_store(self.victim_home, self.acked, self.seen, self.summary)
        verify(self.victim_home)
        if self.feeder_home is not None:
            verify(self.feeder_home)


def run(config: SoakConfig) -> Summary:
    """Run a soak; raises SoakFailure (with the work directory kept) if a check fails."""
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="p2psocial-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    soak = Soak(config, workdir)
    try:
        summary = soak.run()
    except (SoakFailure, P2PSocialError, OSError) as exc:
        raise SoakFailure(f"{exc}\n(work directory kept: {workdir})") from exc
    if not config.keep and config.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--kills", type=int, default=100, help="SIGKILLs in all (default 100)")
    parser.add_argument("--seed", type=int, help="default: random, printed")
    parser.add_argument("--workdir", type=Path, help="default: a new temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--tear-rate", type=float, default=DEFAULT.tear_rate)
    parser.add_argument("--startup-kill-rate", type=float, default=DEFAULT.startup_kill_rate)
    parser.add_argument("--max-writes", type=int, default=DEFAULT.max_writes)
    parser.add_argument("--no-feeder", action="store_true", help="no second daemon")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("-v", "--verbose", action="store_true", help="say what happens")
    args = parser.parse_args(argv)
    if args.kills < 1 or args.max_writes < 1:
        parser.error("--kills and --max-writes must be at least 1")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"crash soak: {args.kills} kills, seed {seed}", flush=True)
    config = SoakConfig(
        kills=args.kills,
        seed=seed,
        workdir=args.workdir,
        keep=args.keep,
        max_writes=args.max_writes,
        startup_kill_rate=args.startup_kill_rate,
        tear_rate=args.tear_rate,
        feeder=not args.no_feeder,
        verbose=args.verbose,
    )
    try:
        summary = run(config)
    except SoakFailure as exc:
        print(f"FAILED (seed {seed}): {exc}", file=sys.stderr)
        return 1
    print("\n".join(summary.lines()))
    if args.json is not None:
        args.json.write_text(json.dumps(summary.to_json(), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
