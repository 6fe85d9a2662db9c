"""The app: boot (welcome, unlock, open the node), views as modes, live updates.

Views are Textual *modes* (1 Home, 2 Global, 3 my Profile, 4 Network); Thread and other
people's profiles are pushed on top of the current view. The app gets its backend from
outside in tests (``backend=``), or makes one on boot:

- a daemon answers on the home's control socket: a read-only view of the index
  (:class:`ReadOnlyBackend`), polled for new messages;
- otherwise the node runs here on trio in guest mode (:class:`LocalBackend`), with the
  network unless ``network=False``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen

from p2psocial import keystore
from p2psocial.control import ControlClient
from p2psocial.core.ids import MessageId
from p2psocial.errors import HomeLockedError, NetworkError, NotInitializedError, P2PSocialError
from p2psocial.node import EventsMissed, NewMessage

from .backend import Backend, LocalBackend, ReadOnlyBackend
from .dialogs.compose import ComposeScreen
from .screens.base import BaseScreen, ItemScreen
from .screens.feed import GlobalScreen, HomeScreen
from .screens.network import NetworkScreen
from .screens.profile import ProfileScreen
from .screens.starting import StartingScreen
from .screens.welcome import Created, UnlockScreen, WelcomeScreen

log = logging.getLogger(__name__)

LIVE_DELAY = 0.2
"""Seconds new messages are gathered before the visible view is refreshed once."""
POLL_SECONDS = 2.0
"""Read-only view: how often the index is checked for new messages."""
STATUS_SECONDS = 2.0

VIEWS_GROUP = Binding.Group("Views", compact=True)
VIEWS = {"1": "home", "2": "global", "3": "profile", "4": "network"}


class P2PSocialApp(App[None]):
    """``p2psocial tui``."""

    CSS_PATH = "app.tcss"
    TITLE = "p2psocial"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "compose", "Post"),
        Binding("1", "view('home')", "Home", group=VIEWS_GROUP),
        Binding("2", "view('global')", "Global", group=VIEWS_GROUP),
        Binding("3", "view('profile')", "Me", group=VIEWS_GROUP),
        Binding("4", "view('network')", "Network", group=VIEWS_GROUP),
        Binding("question_mark", "toggle_help", "Keys", show=False),
        Binding("q", "quit", "Quit", show=False),
    ]

    class NewMessages(Message):
        """The node stored messages (posted from the trio side)."""

        def __init__(self, count: int, network: int, missed: bool) -> None:
            super().__init__()
            self.count = count
            self.network = network
            self.missed = missed

    def __init__(
        self,
        home: Path,
        *,
        network: bool = True,
        listen: Sequence[str] | None = None,
        mdns: bool | None = None,
        backend: Backend | None = None,
    ) -> None:
        super().__init__()
        self.home = home
        self.use_network = network
        self.listen = listen
        self.mdns = mdns
        self._backend = backend
        self.generation = 0
        self._flush_pending = False
        self.ready = asyncio.Event()
        self._last_counts: dict[str, int] | None = None
        self._me_label = ""

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            raise P2PSocialError("the node is not open yet")
        return self._backend

    def get_default_screen(self) -> Screen[None]:
        return StartingScreen()

    def on_mount(self) -> None:
        self._boot()

    # --- boot ----------------------------------------------------------------------------

    @work(exclusive=True, group="boot")
    async def _boot(self) -> None:
        created: Created | None = None
        if self._backend is None:
            if not _has_identity(self.home):
                created = await self.push_screen_wait(WelcomeScreen(self.home))
            backend = await self._open_backend(created)
            if backend is None:
                return
            self._backend = backend
        if created is not None and created.name:
            try:
                await self.backend.set_profile(created.name)
            except P2PSocialError as exc:
                self.notify(str(exc), title="Name not published", severity="error")
        if self.backend.read_only:
            # The baseline for polling, taken before the views first read the index.
            self._last_counts = await self.backend.counts()
        me = self.backend.me
        try:
            info = await self.backend.author(me)
        except P2PSocialError:
            info = None
        self._me_label = info.display_name if info else me.short
        self.add_mode("home", HomeScreen)
        self.add_mode("global", GlobalScreen)
        self.add_mode("profile", partial(ProfileScreen, me, is_mode=True))
        self.add_mode("network", NetworkScreen)
        await self.switch_mode("home")
        self._update_title()
        self.set_interval(STATUS_SECONDS, self._update_title)
        if self.backend.read_only:
            self.set_interval(POLL_SECONDS, self._poll)
        self.ready.set()

    async def _open_backend(self, created: Created | None) -> Backend | None:
        client = await asyncio.to_thread(ControlClient.connect, self.home)
        if client is not None:
            client.close()
            return self._read_only()
        passphrase = created.passphrase if created else None
        if passphrase is None and keystore.is_encrypted(self.home):
            passphrase = await self.push_screen_wait(UnlockScreen(self.home))
        network = self.use_network
        while True:
            try:
                return await LocalBackend.start(
                    self.home,
                    passphrase=passphrase,
                    network=network,
                    listen=self.listen,
                    mdns=self.mdns,
                    on_events=self._on_events,
                )
            except HomeLockedError:
                return self._read_only()
            except (NetworkError, OSError) as exc:
                if not network:
                    self._cannot_open(exc)
                    return None
                self.notify(
                    f"{exc}. Running without the network: posts stay local until next time.",
                    title="The network did not start",
                    severity="error",
                    timeout=12,
                )
                network = False
            except P2PSocialError as exc:
                self._cannot_open(exc)
                return None

    def _cannot_open(self, exc: Exception) -> None:
        self.notify(str(exc), title="Cannot open the node", severity="error", timeout=30)
        screen = self.screen
        if isinstance(screen, StartingScreen):
            screen.failed(f"Cannot open the node: {exc}\n\nPress q to quit.")

    def _read_only(self) -> Backend:
        self.notify(
            "A node is running on this home: this is a read-only view of its index, "
            "refreshed every few seconds. Post with `p2psocial post`, or stop the node "
            "and reopen the app (attaching to a running node comes later).",
            title="Read-only view",
            severity="warning",
            timeout=15,
        )
        return ReadOnlyBackend(self.home)

    async def on_unmount(self) -> None:
        # The trio run must end (node and network closed) before asyncio's loop closes.
        if self._backend is not None:
            await self._backend.stop()

    # --- live updates --------------------------------------------------------------------

    def _on_events(self, batch: list[NewMessage | EventsMissed]) -> None:
        """Called on the trio side (same thread) with one burst of events."""
        news = [e for e in batch if isinstance(e, NewMessage)]
        self.post_message(
            self.NewMessages(
                len(news),
                sum(e.source == "network" for e in news),
                any(isinstance(e, EventsMissed) for e in batch),
            )
        )

    @on(NewMessages)
    def _new_messages(self, event: NewMessages) -> None:
        self.generation += 1
        if event.network:
            self.notify(f"{event.network} new from the network", timeout=2)
        if not self._flush_pending:
            self._flush_pending = True
            self.set_timer(LIVE_DELAY, self._refresh_visible)

    def _refresh_visible(self) -> None:
        """Refresh only the visible view; the others catch up when shown."""
        self._flush_pending = False
        screen = self.screen
        if isinstance(screen, BaseScreen):
            screen._catch_up()

    async def _poll(self) -> None:
        try:
            counts = await self.backend.counts()
        except P2PSocialError:
            return
        if self._last_counts is not None and counts != self._last_counts:
            self.post_message(self.NewMessages(1, 0, False))
        self._last_counts = counts

    def _update_title(self) -> None:
        if self._backend is None:
            return
        parts = ["p2psocial", self._me_label or self._backend.me.short]
        if self._backend.read_only:
            parts.append("read-only")
        else:
            status = self._backend.network_status()
            if status is None:
                parts.append("offline")
            else:
                connected = sum(p.connected for p in status.peers)
                parts.append(f"{connected} peer" if connected == 1 else f"{connected} peers")
        self.title = " · ".join(parts)

    # --- actions -------------------------------------------------------------------------

    def action_view(self, name: str) -> None:
        if not self.ready.is_set():
            return
        if self.current_mode == name:
            # Pressing the view's key again goes back to its top.
            while len(self.screen_stack) > 1:
                self.pop_screen()
            return
        self.switch_mode(name)

    def action_compose(self) -> None:
        if not self.ready.is_set():
            return

        async def submit(text: str) -> MessageId:
            return await self.backend.post(text)

        self.push_screen(ComposeScreen(submit), self._posted)

    def _posted(self, message: object) -> None:
        if message is not None:
            self.notify("Posted.")

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not self.ready.is_set():
            return
        yield SystemCommand("New post", "Write a post (n)", self.action_compose)
        for key, name in VIEWS.items():
            yield SystemCommand(
                f"View: {name.title()}",
                f"Switch to {name} ({key})",
                partial(self.action_view, name),
            )
        if isinstance(screen, ItemScreen):
            for action, title, help_ in (
                ("reply", "Reply", "Reply to the highlighted message (r)"),
                ("react", "Like 👍", "React with 👍 to the highlighted message (l)"),
                ("repost", "Repost", "Repost the highlighted message (t)"),
                ("follow", "Follow or unfollow", "Follow or unfollow its author (f)"),
                ("profile", "Open profile", "Show the author's profile (p)"),
                ("copy_id", "Copy message id", "Copy the full id to the clipboard (c)"),
            ):
                yield SystemCommand(title, help_, partial(screen.run_action, action))
            item = screen.current_item()
            if item is not None:
                yield SystemCommand(
                    "Open thread",
                    "Show the conversation (enter)",
                    partial(screen.open_thread, item),
                )
        if isinstance(screen, NetworkScreen):
            yield SystemCommand(
                "Copy my address", "Copy a listen address (c)", screen.action_copy_address
            )
            yield SystemCommand(
                "Add a peer", "Dial a peer by multiaddr (a)", screen.action_add_peer
            )


def _has_identity(home: Path) -> bool:
    try:
        keystore.read_public_key(home)
    except NotInitializedError:
        return False
    return True


def run_app(
    home: Path,
    *,
    network: bool = True,
    listen: Sequence[str] | None = None,
    mdns: bool | None = None,
) -> int:
    """Run the app in this terminal until the user quits; returns the exit status."""
    app = P2PSocialApp(home, network=network, listen=listen, mdns=mdns)
    with _file_logging(home):
        app.run()
    return 0 if app.return_code in (None, 0) else int(app.return_code)


class _LazyHomeLog(logging.Handler):
    """Log to ``HOME/tui.log`` (owner-only), created only when there is a home to write in."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.INFO)
        self._path = path
        self._inner: logging.FileHandler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._inner is None:
            if not self._path.parent.is_dir():
                return
            self._path.touch(mode=0o600, exist_ok=True)
            self._inner = logging.FileHandler(self._path, encoding="utf-8")
            self._inner.setFormatter(self.formatter)
        self._inner.emit(record)

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
        super().close()


class _file_logging:
    """While the app runs, nothing may write to the terminal: log to a file instead."""

    def __init__(self, home: Path) -> None:
        from p2psocial.daemon import LOG_FORMAT, DemoteLibp2pNoise  # noqa: PLC0415

        self._handler = _LazyHomeLog(home / "tui.log")
        self._handler.setFormatter(logging.Formatter(LOG_FORMAT))
        self._handler.addFilter(DemoteLibp2pNoise(show_debug=False))

    def __enter__(self) -> None:
        root = logging.getLogger()
        libp2p = logging.getLogger("libp2p")
        self._saved = (list(root.handlers), root.level, libp2p.level, libp2p.propagate)
        for handler in self._saved[0]:
            root.removeHandler(handler)
        root.addHandler(self._handler)
        root.setLevel(logging.INFO)
        libp2p.propagate = True
        libp2p.setLevel(logging.WARNING)

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        libp2p = logging.getLogger("libp2p")
        root.removeHandler(self._handler)
        self._handler.close()
        for handler in self._saved[0]:
            root.addHandler(handler)
        root.setLevel(self._saved[1])
        libp2p.setLevel(self._saved[2])
        libp2p.propagate = self._saved[3]
