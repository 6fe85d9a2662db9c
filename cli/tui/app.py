"""The app: boot (welcome, unlock, open or attach), views as modes, live updates.

Views are Textual *modes*, one key each (:data:`VIEWS`); Thread and other people's
profiles are pushed on top of the current view. The app gets its backend from outside in
tests (``backend=``), or makes one on boot:

- a node answers on the home's control socket (``p2psocial node``, or another app): the
  app attaches to it (:class:`AttachedBackend`): writes go through the socket, new messages
  come from its ``subscribe`` stream;
- otherwise the node runs here on trio in guest mode (:class:`LocalBackend`), with the
  network unless ``network=False``, serving the control socket in turn;
- the home is held by a process that does not answer: a read-only view of the index
  (:class:`ReadOnlyBackend`), polled for new messages.

Live updates: each burst of stored messages bumps :attr:`P2PSocialApp.generation`; the
visible view catches up at most every :data:`LIVE_DELAY` seconds, the others when shown,
so a burst of any size costs one refresh per interval and typing never waits for it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.theme import Theme

from p2psocial import keystore
from p2psocial.control import ControlClient
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.core.ranking import BUILTINS
from p2psocial.errors import HomeLockedError, NetworkError, NotInitializedError, P2PSocialError

from .backend import (
    PAGE,
    Arrived,
    AttachedBackend,
    Backend,
    LocalBackend,
    ReadOnlyBackend,
)
from .dialogs.compose import ComposeScreen
from .dialogs.help import HelpScreen
from .dialogs.jump import JumpScreen
from .screens.base import BaseScreen
from .screens.feed import GlobalScreen, HomeScreen, algorithm_names
from .screens.network import NetworkScreen
from .screens.notifications import NotificationsScreen
from .screens.profile import ProfileScreen
from .screens.search import SearchScreen
from .screens.settings import SettingsScreen
from .screens.starting import StartingScreen
from .screens.welcome import Created, UnlockScreen, WelcomeScreen
from .settings import Settings, load_settings, save_settings

log = logging.getLogger(__name__)

LIVE_DELAY = 0.2
"""Seconds new messages are gathered before the visible view is refreshed once."""
POLL_SECONDS = 2.0
"""Read-only view: how often the index is checked for new messages."""
STATUS_SECONDS = 2.0
"""How often the title (peers, unread notifications) is brought up to date."""
TOAST_SECONDS = 4.0
"""At most one "new from the network" note per this many seconds."""
UNREAD_SECONDS = 2.0
"""At most one count of unread notifications per this many seconds."""
ATTACH_WAIT = 5.0
"""Seconds to wait for the control socket of a node that holds the home but is starting."""

VIEWS_GROUP = Binding.Group("Views", compact=True)


@dataclass(frozen=True, slots=True)
class View:
    """A main view: its key, mode name and title."""

    key: str
    mode: str
    title: str


VIEWS: tuple[View, ...] = (
    View("1", "home", "Home"),
    View("2", "global", "Global"),
    View("3", "notifications", "Notifications"),
    View("4", "profile", "Me"),
    View("5", "search", "Search"),
    View("6", "network", "Network"),
    View("7", "settings", "Settings"),
)
HELP_NOISE = frozenset(
    {"Scroll Left", "Scroll Right", "Page Left", "Page Right", "Copy selected text"}
)
"""Bindings of Textual's own widgets that the help screen leaves out."""
BEHIND_DIALOGS = frozenset({"compose", "view", "jump", "leave"})
"""App actions that are off while a dialog is open."""


class P2PSocialApp(App[None]):
    """``p2psocial tui``."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    TITLE = "p2psocial"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "compose", "Post", show=False),
        *(Binding(v.key, f"view('{v.mode}')", v.title, group=VIEWS_GROUP) for v in VIEWS),
        Binding("slash", "view('search')", "Search", show=False),
        Binding("g", "jump", "Go to author", show=False),
        Binding("question_mark", "help", "Help", show=False),
        Binding("q", "leave", "Quit", show=False),
    ]

    class NewMessages(Message):
        """The node stored messages (posted from the node's side)."""

        def __init__(self, arrived: Arrived) -> None:
            super().__init__()
            self.arrived = arrived

    def __init__(
        self,
        home: Path,
        *,
        network: bool = True,
        listen: Sequence[str] | None = None,
        mdns: bool | None = None,
        backend: Backend | None = None,
        settings: Settings | None = None,
        freeze_memory: bool = False,
    ) -> None:
        super().__init__()
        self.freeze_memory = freeze_memory
        self.home = home
        self.use_network = network
        self.listen = listen
        self.mdns = mdns
        self._backend = backend
        self.settings = settings if settings is not None else load_settings(home)
        self.settings_generation = 0
        self.generation = 0
        self.follows_generation = 0
        self.moderation_generation = 0
        self.unread = 0
        self._flush_pending = False
        self._pending_network = 0
        self._last_toast = 0.0
        self._last_unread = 0.0
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
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        self.set_class(self.settings.compact, "-compact")
        self.theme_changed_signal.subscribe(self, self._theme_changed)
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
                await self.backend.set_profile(created.name, "")
            except (P2PSocialError, OSError) as exc:
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
        self.add_mode("notifications", NotificationsScreen)
        self.add_mode("profile", partial(ProfileScreen, me, is_mode=True))
        self.add_mode("search", SearchScreen)
        self.add_mode("network", NetworkScreen)
        self.add_mode("settings", SettingsScreen)
        await self.switch_mode("home")
        self._update_title()
        self.set_interval(STATUS_SECONDS, self._update_title)
        if self.backend.read_only:
            self.set_interval(POLL_SECONDS, self._poll)
        self.ready.set()
        self._count_unread()
        if self.freeze_memory:
            # Everything alive now (modules, the app, the node) lives as long as the
            # process: leave it out of the collector's full passes, which otherwise stop
            # the event loop for 70-140 ms now and then on a big heap (measured in
            # bench/tui.py). Only for a process that runs one app (run_app).
            gc.freeze()

    async def _open_backend(self, created: Created | None) -> Backend | None:
        attached = await self._attach_to_node()
        if attached is not None:
            return attached
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
                # A node is starting on this home (it takes the lock before it listens).
                deadline = time.monotonic() + ATTACH_WAIT
                while time.monotonic() < deadline:
                    attached = await self._attach_to_node()
                    if attached is not None:
                        return attached
                    await asyncio.sleep(0.2)
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

    async def _attach_to_node(self) -> Backend | None:
        """The node running on this home, attached to; None when none answers."""
        try:
            client = await asyncio.to_thread(ControlClient.connect, self.home)
        except (P2PSocialError, OSError) as exc:
            self.notify(str(exc), title="The node on this home does not answer", severity="error")
            return None
        if client is None:
            return None
        client.close()
        try:
            backend = await AttachedBackend.start(
                self.home, on_events=self._on_events, on_link=self._on_link
            )
        except (P2PSocialError, OSError) as exc:
            self.notify(str(exc), title="Cannot attach to the running node", severity="error")
            return None
        self.notify(
            f"A node runs on this home (pid {backend.node_pid}): this app uses it. "
            "Quitting the app leaves it running.",
            title="Attached",
            timeout=6,
        )
        return backend

    def _cannot_open(self, exc: Exception) -> None:
        self.notify(str(exc), title="Cannot open the node", severity="error", timeout=30)
        screen = self.screen
        if isinstance(screen, StartingScreen):
            screen.failed(f"Cannot open the node: {exc}\n\nPress q to quit.")

    def _read_only(self) -> Backend:
        self.notify(
            "Another program has this home open and no node answers on its control socket: "
            "this is a read-only view of the index, refreshed every few seconds.",
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

    def _on_events(self, arrived: Arrived) -> None:
        """Called on the app's thread with one burst of stored messages."""
        self.post_message(self.NewMessages(arrived))

    def _on_link(self, up: bool, why: str) -> None:
        if up:
            self.notify("Attached to the node again.", title="Node back")
        else:
            self.notify(
                f"{why}. Reading still works; posting waits until a node runs on this home.",
                title="Lost the node",
                severity="error",
                timeout=12,
            )
        self._update_title()

    @on(NewMessages)
    def _new_messages(self, event: NewMessages) -> None:
        self.generation += 1
        me = self._backend.me if self._backend is not None else None
        if event.arrived.missed or any(
            m.author == me and m.kind in ("follow", "unfollow") for m in event.arrived.messages
        ):
            # Whose messages Home holds has changed: it must be read again, not merged.
            self.follows_generation += 1
        if any(m.author == me and m.kind in ("block", "unblock") for m in event.arrived.messages):
            self.moderation_changed()
        self._pending_network += event.arrived.from_network
        if not self._flush_pending:
            self._flush_pending = True
            self.set_timer(LIVE_DELAY, self._refresh_visible)

    def _refresh_visible(self) -> None:
        """Refresh only the visible view; the others catch up when shown."""
        self._flush_pending = False
        if not self.screen_stack:
            return  # the app is closing
        # The view on top, or the one under a dialog (it shows through).
        shown = next((s for s in reversed(self.screen_stack) if isinstance(s, BaseScreen)), None)
        if shown is not None:
            shown._catch_up()
        now = time.monotonic()
        if self._pending_network and now - self._last_toast >= TOAST_SECONDS:
            if self.settings.toasts:
                count = self._pending_network
                self.notify(f"{count} new from the network", timeout=2)
            self._pending_network = 0
            self._last_toast = now
        if now - self._last_unread >= UNREAD_SECONDS:
            self._count_unread()

    async def _poll(self) -> None:
        try:
            counts = await self.backend.counts()
        except P2PSocialError:
            return
        if self._last_counts is not None and counts != self._last_counts:
            self.post_message(self.NewMessages(Arrived((), missed=True)))
        self._last_counts = counts

    @work(exclusive=True, group="unread")
    async def _count_unread(self) -> None:
        self._last_unread = time.monotonic()
        if not self.screen_stack or isinstance(self.screen, NotificationsScreen):
            return  # it counts them as seen itself
        try:
            notes = await self.backend.notifications(limit=PAGE)
        except P2PSocialError as exc:
            log.info("cannot count notifications: %s", exc)
            return
        seen = self.settings.seen_notifications
        self.unread = sum(seen is None or note.cursor > seen for note in notes)
        self._update_title()

    def notifications_seen(self, newest: tuple[int, int]) -> None:
        """The Notifications view showed everything up to ``newest``."""
        seen = self.settings.seen_notifications
        if seen is None or newest > seen:
            self._save(replace(self.settings, seen_notifications=newest))
        if self.unread:
            self.unread = 0
            self._update_title()

    def _update_title(self) -> None:
        if self._backend is None:
            return
        backend = self._backend
        parts = ["p2psocial", self._me_label or backend.me.short]
        if backend.mode == "read-only":
            parts.append("read-only")
        elif isinstance(backend, AttachedBackend) and not backend.linked:
            parts.append("node not answering")
        else:
            if backend.mode == "attached":
                parts.append("attached")
            status = backend.network_status()
            if status is None:
                parts.append("offline")
            else:
                connected = status.connected
                parts.append(f"{connected} peer" if connected == 1 else f"{connected} peers")
        if self.unread:
            more = "+" if self.unread >= PAGE else ""
            noun = "notification" if self.unread == 1 else "notifications"
            parts.append(f"{self.unread}{more} new {noun}")
        self.title = " · ".join(parts)

    def moderation_changed(self) -> None:
        """What the owner's rules hide (or whether it is shown) changed: the visible views
        read everything again now, the others when they are next shown."""
        self.moderation_generation += 1
        for screen in self.screen_stack:
            if isinstance(screen, BaseScreen):
                screen.moderation_seen = self.moderation_generation
                screen.reload_view()

    def set_algorithm(self, name: str, *, reload: bool = True) -> None:
        """Rank Home by ``name`` from now on (kept in the settings)."""
        if name == self.settings.algorithm:
            return
        self._save(replace(self.settings, algorithm=name))
        if not reload:
            return
        for screen in self._home_screens():
            screen.algorithm_changed()
        self.notify(f"Home is ranked by {name} (w on a message says why it is there).", timeout=3)

    def _home_screens(self) -> list[HomeScreen]:
        try:
            stack = self._screen_stacks.get("home", [])
        except AttributeError:  # Textual's internals moved: only the visible one
            stack = self.screen_stack
        return [s for s in stack if isinstance(s, HomeScreen) and s.is_mounted]

    def action_toggle_hidden(self) -> None:
        """Show what the rules hide, labelled in place, or leave it out again."""
        show = not self.settings.show_hidden
        self.apply_settings(replace(self.settings, show_hidden=show))
        self.notify(
            "Hidden items are shown, labelled with the rule that hides them."
            if show
            else "Hidden items are left out again (each list counts them).",
            timeout=3,
        )

    # --- settings ------------------------------------------------------------------------

    def apply_settings(self, settings: Settings) -> None:
        """Use and save new settings; redraw what they change."""
        old, self.settings = self.settings, settings
        self._save(settings)
        self.set_class(settings.compact, "-compact")
        if old.show_hidden != settings.show_hidden:
            self.moderation_changed()
        if (old.times, old.show_ids) != (settings.times, settings.show_ids):
            self.settings_generation += 1
            for screen in self.screen_stack:
                if isinstance(screen, BaseScreen):
                    screen.rerender()
                    screen.settings_generation = self.settings_generation

    def _theme_changed(self, theme: Theme) -> None:
        if theme.name != self.settings.theme:
            self._save(replace(self.settings, theme=theme.name))

    def _save(self, settings: Settings) -> None:
        self.settings = settings
        try:
            save_settings(self.home, settings)
        except OSError as exc:
            self.notify(f"Settings not saved: {exc}", severity="error")

    # --- actions -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Behind a dialog, app keys would act on the view under it.
        modal = bool(self.screen_stack) and isinstance(self.screen, ModalScreen)
        return not (modal and action in BEHIND_DIALOGS)

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

    def _posted(self, message: MessageId | None) -> None:
        if message is not None:
            self.notify("Posted.")
            screen = self.screen
            if isinstance(screen, BaseScreen):
                screen._catch_up()

    def action_jump(self) -> None:
        if not self.ready.is_set():
            return

        def chosen(author: AuthorId | None) -> None:
            screen = self.screen
            if author is not None and isinstance(screen, BaseScreen):
                screen.open_profile(author)

        self.push_screen(JumpScreen(self.backend.resolve_author), chosen)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        screen = self.screen
        title = screen.sub_title or "p2psocial"
        sections: dict[str, list[tuple[str, str]]] = {"view": [], "list": [], "app": []}
        seen: set[str] = set()
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if binding.system or not binding.description or key in seen:
                continue
            if binding.description in HELP_NOISE:
                continue
            seen.add(key)
            row = (self.get_key_display(binding), binding.description)
            section = "app" if active.node is self else "view" if active.node is screen else "list"
            sections[section].append(row)
        sections["app"] += [("ctrl+p", "Every command, searchable"), ("ctrl+q", "Quit")]
        self.push_screen(
            HelpScreen(
                title,
                [
                    ("This view", sections["view"]),
                    ("Moving around", sections["list"]),
                    ("Everywhere", sections["app"]),
                ],
            )
        )

    def action_leave(self) -> None:
        self.exit()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not self.ready.is_set():
            return
        for view in VIEWS:
            yield SystemCommand(
                f"View: {view.title}",
                f"Switch to {view.title} ({view.key})",
                partial(self.action_view, view.mode),
            )
        yield from self._binding_commands(screen)
        yield from self._algorithm_commands()
        yield from self._settings_commands()

    def _algorithm_commands(self) -> Iterable[SystemCommand]:
        """One command per installed algorithm: rank Home by it."""
        for name in algorithm_names():
            builtin = BUILTINS.get(name)
            about = builtin.description if builtin is not None else "an installed plugin"
            yield SystemCommand(
                f"Home algorithm: {name}",
                f"Rank Home by {name}: {about}",
                partial(self.set_algorithm, name),
            )

    def _binding_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Every binding active where the palette was opened (never a stale list)."""
        seen = {f"view('{v.mode}')" for v in VIEWS}
        for active in screen.active_bindings.values():
            binding = active.binding
            if binding.system or not binding.description or binding.action in seen:
                continue
            if not active.enabled:
                continue
            seen.add(binding.action)
            display = self.get_key_display(binding)
            yield SystemCommand(
                binding.description,
                f"{binding.tooltip or binding.description} ({display})",
                partial(self._run_binding, active.node, binding.action),
            )

    async def _run_binding(self, node: object, action: str) -> None:
        from textual.dom import DOMNode  # noqa: PLC0415

        if isinstance(node, DOMNode):
            await self.run_action(action, node)

    def _settings_commands(self) -> Iterable[SystemCommand]:
        settings = self.settings
        toggles: list[tuple[str, str, Callable[[], None]]] = [
            (
                "Times: " + ("relative" if settings.times == "absolute" else "absolute"),
                "Show message times as ages (5m) or local dates and times",
                lambda: self.apply_settings(
                    replace(
                        self.settings,
                        times="relative" if self.settings.times == "absolute" else "absolute",
                    )
                ),
            ),
            (
                "Author ids: " + ("hide" if settings.show_ids else "show"),
                "Show or hide the short author id beside each name",
                lambda: self.apply_settings(
                    replace(self.settings, show_ids=not self.settings.show_ids)
                ),
            ),
            (
                "Compact lists: " + ("off" if settings.compact else "on"),
                "No blank line between messages",
                lambda: self.apply_settings(
                    replace(self.settings, compact=not self.settings.compact)
                ),
            ),
            (
                "Hidden items: " + ("leave out" if settings.show_hidden else "show"),
                "Show what your moderation rules hide, labelled with the rule (h)",
                self.action_toggle_hidden,
            ),
            (
                "Network notes: " + ("off" if settings.toasts else "on"),
                "Pop up a note when messages arrive from the network",
                lambda: self.apply_settings(
                    replace(self.settings, toasts=not self.settings.toasts)
                ),
            ),
            (
                "Theme: " + ("light" if self.current_theme.dark else "dark"),
                "Switch between the dark and the light theme",
                lambda: setattr(
                    self, "theme", "textual-light" if self.current_theme.dark else "textual-dark"
                ),
            ),
        ]
        for title, help_, callback in toggles:
            yield SystemCommand(title, help_, callback)


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
    app = P2PSocialApp(home, network=network, listen=listen, mdns=mdns, freeze_memory=True)
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
