"""``p2psocial demo`` (``make demo``): a small living network on this machine, in one command.

It starts a few ``p2psocial node`` daemons in temporary homes, each a generated person
with a name, a bio, follows and a history of posts, replies and reactions, all on
127.0.0.1 with mDNS off (nothing leaves the machine). Then it creates *your* identity in
another temporary home, already following them, and opens the terminal app on it: your node
dials theirs, syncs what they wrote, and from then on they keep talking (a post every few
seconds, replies, likes). Post something and they answer you: that shows up in
Notifications. Everything stops and is deleted when you quit the app (``--keep`` keeps the
homes to look at).

The daemons are real processes and every message goes through the real network code; the
only puppeteering is :class:`Conductor`, which asks the daemons to write through their
control sockets, as ``p2psocial post`` would.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeGuard

import trio

from p2psocial.control import ControlClient, MessageStored
from p2psocial.core.ids import AuthorId
from p2psocial.errors import NotFoundError, P2PSocialError
from p2psocial.node import init_home, open_node

log = logging.getLogger(__name__)

LOOPBACK: Final = "/ip4/127.0.0.1/tcp/0"
START_TIMEOUT: Final = 60.0
STOP_TIMEOUT: Final = 10.0
HELD_TIMEOUT: Final = 20.0
"""Seconds a bot waits for another's message to reach it before answering it anyway later."""


@dataclass(frozen=True, slots=True)
class Persona:
    """A generated person: name, bio, and what they talk about."""

    name: str
    bio: str
    posts: tuple[str, ...]
    replies: tuple[str, ...]
    reactions: tuple[str, ...]


PERSONAS: Final = (
    Persona(
        "alice",
        "Runs a node on a Raspberry Pi under the stairs. #selfhosting",
        (
            "Moved my node to a Pi 4 today: 80 MB of RAM and it keeps up fine. #selfhosting",
            "Nobody can take your posts down when they live in your own log. #p2p",
            "Tip: `p2psocial status` tells you which peers hold your latest message.",
            "Reading about gossipsub meshes tonight. Degree 6 is a nice number. #p2p",
            "The garden is mostly tomatoes this year. #garden",
        ),
        ("Same here!", "Good point.", "Thanks for sharing this.", "Welcome aboard!"),
        ("👍", "🎉", "❤️"),
    ),
    Persona(
        "bob",
        "Writes music, breaks things, fixes some of them.",
        (
            "New track is almost done. The bass line took three weeks. #music",
            "Is anyone else syncing over a flaky wifi? Sync fills the gaps every time. #p2p",
            "Coffee, then a long walk, then more coffee.",
            "Just followed a few new people: say hi! #introductions",
        ),
        ("Ha, exactly.", "Tell me more?", "I had the same problem last week.", "Hi there!"),
        ("👍", "😂", "🎵"),
    ),
    Persona(
        "carol",
        "Librarian. Into archives, logs and anything append-only.",
        (
            "An append-only log is just a library that never lends a book twice. #p2p",
            "Signed messages mean I can quote you and anyone can check it was you.",
            "Archiving old forum threads this week. So many broken links. #archives",
            "Recommendations for a good book about networks? #books",
        ),
        ("Lovely.", "Agreed, mostly.", "Noted for the archive.", "Welcome!"),
        ("👍", "📚", "🎉"),
    ),
    Persona(
        "dave",
        "Cyclist, baker, occasional poet.",
        (
            "Sourdough attempt number seven. It rose! #baking",
            "Rode 60 km along the river this morning. #cycling",
            "Short poem: packets cross the night / each one signed / the log remembers.",
        ),
        ("Nice!", "Beautiful.", "Ha!", "Hello and welcome."),
        ("👍", "🚲", "🍞"),
    ),
)


def _command() -> list[str]:
    """How to run ``p2psocial`` from here: the console script next to this Python."""
    script = shutil.which("p2psocial", path=str(Path(sys.executable).parent))
    if script is not None:
        return [script]
    return [
        sys.executable,
        "-c",
        "import sys; from p2psocial_cli.main import main; sys.exit(main())",
    ]


@dataclass
class Bot:
    """One generated person's node: a ``p2psocial node`` process."""

    persona: Persona
    home: Path
    proc: subprocess.Popen[bytes] | None = None
    addr: str = ""
    author: AuthorId | None = None
    said: list[str] = field(default_factory=list)
    """Ids of this bot's own posts and replies."""

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One control request to this bot's daemon.

        Raises:
            P2PSocialError: The daemon refused, or is not running.
        """
        client = ControlClient.connect(self.home)
        if client is None:
            raise P2PSocialError(f"{self.persona.name}'s node is not running")
        with client:
            return client.call(method, params or {})


class Demo:
    """The bots, your home, and the conductor; a context manager that cleans up.

    Args:
        root: Where the homes are created (a temporary directory by default).
        people: How many bots (at most ``len(PERSONAS)``).
        keep: Leave the homes on disk when done.
        seed: Makes the conversation reproducible.
    """

    def __init__(
        self,
        root: Path | None = None,
        *,
        people: int = 3,
        keep: bool = False,
        seed: int = 7,
        say: bool = True,
    ) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="p2psocial-demo-"))
        self.keep = keep
        self.say = say
        self.rng = random.Random(seed)
        self.bots = [Bot(p, self.root / p.name) for p in PERSONAS[:people]]
        self.you = self.root / "you"
        self.me: AuthorId | None = None
        self.conductor: Conductor | None = None

    def __enter__(self) -> Demo:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- starting ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the bots' nodes, give them a history, and prepare your home."""
        self._say(f"Starting {len(self.bots)} nodes on 127.0.0.1 in {self.root} ...")
        previous: list[str] = []
        for bot in self.bots:
            bot.author = init_home(bot.home, passphrase=None)
            self._launch(bot, previous)
            previous.append(bot.addr)
        for bot in self.bots:
            _wait_for_socket(bot)
        self._say("Writing their profiles, follows and a few conversations ...")
        self._history()
        self.me = init_home(self.you, passphrase=None)
        (self.you / "config.toml").write_text(
            "# Written by p2psocial demo: loopback only, no mDNS, the demo's nodes as peers.\n"
            "[network]\n"
            f'listen = ["{LOOPBACK}"]\n'
            f"peers = {json.dumps([b.addr for b in self.bots])}\n"
            "mdns = false\n",
            encoding="utf-8",
        )
        trio.run(self._prepare_you)
        for bot in self.bots:  # they follow you back: your posts are news to them
            bot.call("follow", {"author": str(self.me)})
        self.conductor = Conductor(self)
        self.conductor.start()

    def _launch(self, bot: Bot, peers: Sequence[str]) -> None:
        argv = [*_command(), "--home", str(bot.home), "node", "--no-mdns", "--listen", LOOPBACK]
        for addr in peers:
            argv += ["--peer", addr]
        log_path = bot.home / "demo-stderr.log"
        with log_path.open("wb") as stderr:
            bot.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr
            )
        assert bot.proc.stdout is not None
        line = _read_line(bot.proc, START_TIMEOUT)
        if not line:
            raise P2PSocialError(
                f"{bot.persona.name}'s node did not start: "
                + log_path.read_text(encoding="utf-8", errors="replace")[-500:]
            )
        bot.addr = line

    def _history(self) -> None:
        """Profiles, everyone following everyone, and a few posts, replies and likes."""
        for bot in self.bots:
            bot.call("profile", {"name": bot.persona.name, "bio": bot.persona.bio})
        for bot in self.bots:
            for other in self.bots:
                if other is not bot:
                    bot.call("follow", {"author": str(other.author)})
        for bot in self.bots:
            for text in bot.persona.posts[:2]:
                bot.said.append(bot.call("post", {"text": text})["id"])
        # Conversations: each bot answers someone else's first post, and likes another.
        for n, bot in enumerate(self.bots):
            other = self.bots[(n + 1) % len(self.bots)]
            reply = self._when_held(
                bot,
                "reply",
                {"parent": other.said[0], "text": self.rng.choice(bot.persona.replies)},
            )
            if reply is not None:
                bot.said.append(reply["id"])
            liked = self.bots[(n + 2) % len(self.bots)]
            self._when_held(
                bot, "react", {"target": liked.said[-1], "emoji": bot.persona.reactions[0]}
            )

    def _when_held(self, bot: Bot, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """Answer a message once it has reached ``bot``'s node (gossip takes a moment)."""
        deadline = time.monotonic() + HELD_TIMEOUT
        while True:
            try:
                result: dict[str, Any] = bot.call(method, params)
            except NotFoundError:
                if time.monotonic() > deadline:
                    log.warning("%s never received %s", bot.persona.name, params)
                    return None
                time.sleep(0.2)
                continue
            return result

    async def _prepare_you(self) -> None:
        async with open_node(self.you) as node:
            await node.set_profile(name="you", bio="Trying p2psocial with the demo.")
            for bot in self.bots:
                assert bot.author is not None
                await node.follow(bot.author)

    # --- stopping ----------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the conductor and every node, then delete the homes (unless kept)."""
        if self.conductor is not None:
            self.conductor.stop()
        for bot in self.bots:
            proc = bot.proc
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
        for bot in self.bots:
            proc = bot.proc
            if proc is None:
                continue
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
            if proc.stdout is not None:
                proc.stdout.close()
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def _say(self, text: str) -> None:
        if self.say:
            print(text, flush=True)


class Conductor:
    """Keeps the bots talking: a post, reply or like every few seconds, and an answer to
    each of your posts (it follows one bot's ``subscribe`` stream to see them)."""

    def __init__(self, demo: Demo, *, every: tuple[float, float] = (4.0, 9.0)) -> None:
        self.demo = demo
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="p2psocial-demo", daemon=True)
        self.answered: list[str] = []
        """Ids of your messages the bots have answered."""

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=STOP_TIMEOUT)

    def _run(self) -> None:
        demo, rng = self.demo, self.demo.rng
        listener = demo.bots[0]
        client: ControlClient | None = None
        next_move = time.monotonic() + rng.uniform(*self.every)
        while not self._stop.is_set():
            try:
                if client is None:
                    client = ControlClient.connect(listener.home)
                    if client is None:
                        return
                    client.subscribe()
                for event in client.receive_events(0.5):
                    mine = isinstance(event, MessageStored) and event.author == demo.me
                    if (
                        mine
                        and isinstance(event, MessageStored)
                        and event.kind in ("post", "reply")
                    ):
                        self._answer(str(event.id))
                if time.monotonic() >= next_move:
                    self._move()
                    next_move = time.monotonic() + rng.uniform(*self.every)
            except (P2PSocialError, OSError) as exc:
                log.info("demo conductor: %s", exc)
                if client is not None:
                    client.close()
                client = None
                self._stop.wait(1.0)
        if client is not None:
            client.close()

    def _answer(self, message: str) -> None:
        """Two bots answer one of your messages: a reply and a like."""
        demo, rng = self.demo, self.demo.rng
        first, second = rng.sample(demo.bots, 2) if len(demo.bots) > 1 else demo.bots * 2
        text = rng.choice(first.persona.replies)
        if demo._when_held(first, "reply", {"parent": message, "text": text}) is not None:
            self.answered.append(message)
        demo._when_held(second, "react", {"target": message, "emoji": second.persona.reactions[0]})

    def _move(self) -> None:
        demo, rng = self.demo, self.demo.rng
        bot = rng.choice(demo.bots)
        others = [b for b in demo.bots if b is not bot and b.said]
        roll = rng.random()
        if roll < 0.5 or not others:
            text = rng.choice(bot.persona.posts)
            bot.said.append(bot.call("post", {"text": text})["id"])
        elif roll < 0.8:
            other = rng.choice(others)
            text = rng.choice(bot.persona.replies)
            result = demo._when_held(bot, "reply", {"parent": other.said[-1], "text": text})
            if result is not None:
                bot.said.append(result["id"])
        else:
            other = rng.choice(others)
            emoji = rng.choice(bot.persona.reactions)
            demo._when_held(bot, "react", {"target": rng.choice(other.said), "emoji": emoji})


def _written_by(event: object, author: AuthorId | None) -> TypeGuard[MessageStored]:
    """Whether ``event`` is a post or reply of ``author``'s."""
    return (
        isinstance(event, MessageStored)
        and event.author == author
        and event.kind in ("post", "reply")
    )


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """The first line a daemon prints (its listen address), or "" if it exits first."""
    stdout = proc.stdout
    assert stdout is not None
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0].decode().strip() if result else ""


def _wait_for_socket(bot: Bot) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        with contextlib.suppress(P2PSocialError, OSError):
            client = ControlClient.connect(bot.home)
            if client is not None:
                client.close()
                return
        if time.monotonic() > deadline or (bot.proc is not None and bot.proc.poll() is not None):
            raise P2PSocialError(f"{bot.persona.name}'s node does not answer on its socket")
        time.sleep(0.05)


def run_demo(*, people: int = 3, keep: bool = False) -> int:
    """Start the network, open the app on your home, and clean everything up afterwards."""
    from .tui.app import run_app  # noqa: PLC0415 - Textual is slow to import

    with Demo(people=people, keep=keep) as demo:
        print("Opening the app. Post something (n) and see who answers; q quits and cleans up.")
        status = run_app(demo.you, listen=[LOOPBACK], mdns=False)
    if keep:
        print(f"kept the demo's homes in {demo.root}")
    return status


__all__ = ["PERSONAS", "Conductor", "Demo", "Persona", "run_demo"]
