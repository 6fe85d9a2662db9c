"""The hostile-network simulation on real daemons: a few ``p2psocial node`` processes.

Smaller than the in-process run, and hostile in the ways only separate processes allow:

- each daemon runs as it would on a person's machine (``HOME/config.toml`` with listen
  address, bootstrap peers in a ring, mDNS off, a shorter background sync);
- posts go through the control socket (what ``p2psocial post`` does while a daemon runs);
  a post counts as acknowledged when the daemon answered with its id;
- **crashes**: a daemon is killed with SIGKILL at a random moment and started again on the
  same home (same port) after a pause; nothing acknowledged may be lost;
- **stalls**: a daemon is frozen with SIGSTOP for a few seconds and resumed with SIGCONT:
  its connections stay open but nothing answers (a laptop lid closed, a long GC pause);
- **a byzantine node** in this process (tests/net/hostile.py) connected to two daemons,
  with the same attacks as in the in-process run.

The result is compared as in the in-process run, reading each home's index read-only.
CPU per daemon is read from ``/proc/<pid>/stat`` (user + system) before it is stopped.
Bytes are not measured here (the counter of the in-process run needs the host object).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import trio
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID

from p2psocial.config import CONFIG_FILENAME, DEFAULTS
from p2psocial.control import ControlClient
from p2psocial.core.ids import MessageId
from p2psocial.node import init_home
from tests.net.hostile import running_hostile

from .byzantine import Byzantine
from .cluster import HELD_SQL, Row, agreement
from .plan import ATTACKS
from .settings import sim_toml

START_TIMEOUT: Final = 30.0
CHECK_EVERY: Final = 0.5
TICKS: Final = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class ProcessScenario:
    """The multi-process run.

    Attributes:
        nodes: Daemons.
        seed: Seeds the plan.
        seconds: Length of the hostile phase.
        posts: Posts through the control sockets during it.
        kills: SIGKILL crashes (each daemon restarted after ``down_seconds``).
        down_seconds: How long a killed daemon stays down.
        stalls: SIGSTOP freezes, each ``stall_seconds`` long.
        stall_seconds: See ``stalls``.
        byzantine: Whether a byzantine node attacks.
        sync_interval: The daemons' ``sync.interval``.
        converge_timeout: How long the run waits for convergence after the phase.
    """

    nodes: int = 4
    seed: int = 3
    seconds: float = 15.0
    posts: int = 40
    kills: int = 2
    down_seconds: float = 1.5
    stalls: int = 2
    stall_seconds: float = 3.0
    byzantine: bool = True
    sync_interval: float = 2.0
    converge_timeout: float = 60.0


@dataclass
class ProcessResult:
    """The outcome of a multi-process run."""

    scenario: ProcessScenario
    converged: bool
    converge_s: float | None
    acked: int
    lost: int
    forged_held: int
    agreed: int
    cpu_s: list[float]
    kills: int
    stalls: int
    post_failures: int
    wall_s: float
    trace: list[tuple[float, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        out = asdict(self)
        out["scenario"] = asdict(self.scenario)
        out["cpu_s"] = [round(c, 3) for c in self.cpu_s]
        out["trace"] = [[round(t, 2), m] for t, m in self.trace]
        return out


def _exe() -> str:
    exe = Path(sys.executable).parent / "p2psocial"
    if not exe.exists():
        raise RuntimeError("the p2psocial console script is not installed in this venv")
    return str(exe)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Daemon:
    """One daemon: its home, its fixed address, its process across crashes."""

    def __init__(self, home: Path, index: int, scenario: ProcessScenario) -> None:
        self.home = home
        self.index = index
        self.port = _free_port()
        init_home(home, passphrase=None)
        seed = os.urandom(32)
        key = home / "transport.key"
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, seed)
        finally:
            os.close(fd)
        self.peer_id = ID.from_pubkey(create_new_key_pair(seed).public_key).to_string()
        self.addr = f"/ip4/127.0.0.1/tcp/{self.port}/p2p/{self.peer_id}"
        self.scenario = scenario
        self.process: subprocess.Popen[bytes] | None = None
        self.cpu = 0.0
        self.stderr = (home.parent / f"{home.name}.stderr").open("ab")

    def configure(self, peers: list[str]) -> None:
        network = {"listen": [f"/ip4/127.0.0.1/tcp/{self.port}"], "peers": peers, "mdns": False}
        (self.home / CONFIG_FILENAME).write_text(
            sim_toml(sync_interval=self.scenario.sync_interval, network=network)
        )

    def start(self) -> None:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home.parent),
            "LC_ALL": "C.UTF-8",
            "P2PSOCIAL_HOME": str(self.home),
        }
        self.process = subprocess.Popen(
            [_exe(), "node", "--no-mdns"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode().strip()
        if not line.startswith("/ip4/127.0.0.1/"):
            raise RuntimeError(f"daemon {self.index} did not start (printed {line!r})")

    def _charge_cpu(self) -> None:
        if self.process is None:
            return
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            self.cpu += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
        except (OSError, IndexError, ValueError):
            pass

    def kill(self) -> None:
        """SIGKILL: a crash."""
        if self.process is None:
            return
        self._charge_cpu()
        self.process.kill()
        self.process.wait()
        self._close_pipe()
        self.process = None

    def stop(self) -> None:
        """SIGTERM, as a person stops it; SIGKILL after 15 s."""
        if self.process is None:
            return
        self._charge_cpu()
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._close_pipe()
        self.process = None

    def _close_pipe(self) -> None:
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def signal(self, signum: int) -> None:
        if self.process is not None:
            self.process.send_signal(signum)

    def post(self, text: str) -> bytes | None:
        """Post through the control socket; the new id, or None if the daemon did not answer."""
        try:
            client = ControlClient.connect(self.home, timeout=5.0)
            if client is None:
                return None
            with client:
                result = client.call("post", {"text": text}, timeout=10.0)
        except Exception:
            return None
        return MessageId.parse(result["id"]).raw

    def rows(self) -> list[Row]:
        index = self.home / "index.sqlite3"
        conn = sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=5)
        try:
            return [(bytes(a), bytes(b), int(c)) for a, b, c in conn.execute(HELD_SQL)]
        finally:
            conn.close()


@dataclass(frozen=True, slots=True)
class _Event:
    at: float
    kind: str
    node: int
    detail: str = ""


def _plan(s: ProcessScenario) -> list[_Event]:
    rng = random.Random(s.seed)
    busy: list[tuple[int, float, float]] = []
    events = []
    for kind, count, length in (
        ("kill", s.kills, s.down_seconds),
        ("stall", s.stalls, s.stall_seconds),
    ):
        for _ in range(count):
            node = rng.randrange(s.nodes)
            at = rng.uniform(0, max(0.0, s.seconds - length))
            busy.append((node, at - 0.5, at + length + 1.0))
            events.append(_Event(at, kind, node))
    for i in range(s.posts):
        at = rng.uniform(0, s.seconds)
        free = [
            n for n in range(s.nodes) if not any(b[0] == n and b[1] <= at <= b[2] for b in busy)
        ]
        if free:
            events.append(_Event(at, "post", rng.choice(free), f"process post {i}"))
    if s.byzantine:
        events += [_Event(rng.uniform(0, s.seconds), "attack", 0, kind) for kind in ATTACKS]
    return sorted(events, key=lambda e: e.at)


def run_processes(work: Path, scenario: ProcessScenario) -> ProcessResult:
    """Run the multi-process simulation with homes under ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    return trio.run(_run, work, scenario)


async def _run(work: Path, s: ProcessScenario) -> ProcessResult:
    started = time.perf_counter()
    daemons = [_Daemon(work / f"daemon{i}", i, s) for i in range(s.nodes)]
    for i, daemon in enumerate(daemons):
        daemon.configure([daemons[(i - 1) % s.nodes].addr] if s.nodes > 1 else [])
    acked: set[bytes] = set()
    trace: list[tuple[float, int]] = []
    failures = 0
    try:
        for daemon in daemons:
            await trio.to_thread.run_sync(daemon.start)
        async with trio.open_nursery() as nursery:
            byzantine = None
            if s.byzantine:
                peer = await nursery.start(_hostile_task, nursery)
                byzantine = Byzantine(0, peer, s.seed)
                byzantine.lie_in_sync()
                with trio.fail_after(START_TIMEOUT):
                    for daemon in daemons[:2]:
                        victim = await peer.connect(daemon.addr)
                        await peer.wait_for_gossip(victim)
                        byzantine.victims.append(victim)
            t0 = time.perf_counter()
            async with trio.open_nursery() as background:
                for event in _plan(s):
                    delay = t0 + event.at - time.perf_counter()
                    if delay > 0:
                        await trio.sleep(delay)
                    daemon = daemons[event.node]
                    if event.kind == "post":
                        mid = await trio.to_thread.run_sync(daemon.post, event.detail)
                        if mid is None:
                            failures += 1
                        else:
                            acked.add(mid)
                    elif event.kind == "kill":
                        background.start_soon(_crash, daemon, s.down_seconds)
                    elif event.kind == "stall":
                        background.start_soon(_stall, daemon, s.stall_seconds)
                    elif byzantine is not None:
                        background.start_soon(
                            byzantine.attack, event.detail, DEFAULTS.limits.author_burst
                        )
            ended = time.perf_counter()
            converged = False
            with trio.move_on_after(s.converge_timeout):
                while True:
                    rows = await trio.to_thread.run_sync(lambda: [d.rows() for d in daemons])
                    core, _ = agreement(rows)
                    union = set().union(*core) | acked
                    missing = sum(len(union - c) for c in core)
                    trace.append((time.perf_counter() - ended, missing))
                    if missing == 0:
                        converged = True
                        break
                    await trio.sleep(CHECK_EVERY)
            converge_s = time.perf_counter() - ended if converged else None
            rows = [d.rows() for d in daemons]
            core, _ = agreement(rows)
            held = [{r[0] for r in node} for node in rows]
            forged = byzantine.forged if byzantine is not None else set()
            nursery.cancel_scope.cancel()
    finally:
        for daemon in daemons:
            daemon.stop()
            daemon.stderr.close()
    return ProcessResult(
        scenario=s,
        converged=converged,
        converge_s=converge_s,
        acked=len(acked),
        lost=sum(len(acked - h) for h in held),
        forged_held=sum(len(forged & h) for h in held),
        agreed=max((len(c) for c in core), default=0),
        cpu_s=[d.cpu for d in daemons],
        kills=s.kills,
        stalls=s.stalls,
        post_failures=failures,
        wall_s=time.perf_counter() - started,
        trace=trace,
    )


async def _hostile_task(nursery: trio.Nursery, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    async with running_hostile(nursery) as peer:
        task_status.started(peer)
        await trio.sleep_forever()


async def _crash(daemon: _Daemon, down: float) -> None:
    if daemon.process is None:
        return  # already down (two crashes planned close together)
    await trio.to_thread.run_sync(daemon.kill)
    await trio.sleep(down)
    await trio.to_thread.run_sync(daemon.start)


async def _stall(daemon: _Daemon, seconds: float) -> None:
    daemon.signal(signal.SIGSTOP)
    try:
        await trio.sleep(seconds)
    finally:
        daemon.signal(signal.SIGCONT)
