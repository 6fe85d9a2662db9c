"""Home and Global: paged timelines, live; Home ranked by the algorithm the owner picks."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Label

from p2psocial.core.ranking import DEFAULT_ALGORITHM
from p2psocial.errors import P2PSocialError
from p2psocial.feeds import FeedCursor, FeedItem, default_registry
from p2psocial.store.queries import Cursor, Item

from ..widgets.items import PagedList, Timeline, link
from .base import ItemScreen

EMPTY_HOME = """\
Nothing here yet: Home shows your posts and those of the people you follow.

n   write your first post
2   Global: everything your node holds (f on a message follows its author)
6   Network: give a friend your address, or add theirs"""
EMPTY_GLOBAL = """\
Your node holds nobody's messages yet: it has not met any peer.

6   Network: add a peer by its address, or give yours to a friend.

Nodes on your local network find each other by themselves."""


class FeedScreen(ItemScreen):
    """A named feed (``home``, ``global``, ``author:ID``, ``tag:TAG``).

    ``#feed-controls``, empty and zero-high here, is where a feed's controls go (such as
    a choice of ranking algorithm); the timeline's title says what the feed holds.
    """

    feed = "home"
    view_title = "Home"
    empty = EMPTY_HOME

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="feed-controls"):
            yield from self.controls()
        yield Timeline(
            self._load,
            names_of=self.backend.names_of,
            id="timeline",
            empty=self.empty,
            policy=self.backend.policy,
        )
        yield Footer(compact=True, show_command_palette=False)

    follows_seen = 0
    """The app's follows generation this feed was last read at."""

    def controls(self) -> ComposeResult:
        """The widgets of ``#feed-controls`` (none by default)."""
        yield from ()

    def on_mount(self) -> None:
        self.sub_title = self.view_title
        self.timeline.border_title = self.view_title
        self.follows_seen = self.p2p.follows_generation
        self._catch_up()

    @property
    def timeline(self) -> Timeline:
        return self.query_one(Timeline)

    async def _load(self, before: Cursor | None) -> list[Item]:
        return await self.backend.timeline(self.feed, before=before)

    async def describe(self) -> str:
        """The timeline's title: what this feed holds."""
        return self.view_title

    async def load_view(self) -> None:
        try:
            await self.timeline.reload()
            self.timeline.border_title = await self.describe()
        finally:
            self.timeline.focus()

    async def refresh_live(self) -> None:
        if self.follows_seen != self.p2p.follows_generation:
            # Who is followed changed (or events were missed): read the feed again.
            self.follows_seen = self.p2p.follows_generation
            await self.timeline.reload()
        else:
            await self.timeline.refresh_top()
        self.timeline.border_title = await self.describe()

    def current_item(self) -> Item | None:
        return self.timeline.current

    @on(PagedList.Opened)
    def _opened(self, event: PagedList.Opened) -> None:
        self.open_thread(event.entry)


def algorithm_names() -> list[str]:
    """Every algorithm Home can be ranked by: the built-ins, then installed plugins."""
    return default_registry().names


class HomeScreen(FeedScreen):
    """You and the people you follow, in the order the chosen algorithm gives.

    ``chronological`` (the default) reads the index's Home feed, newest first; any other
    algorithm pages through :func:`p2psocial.feeds.rank_feed`, and each item keeps the
    reasons that placed it for the "why is this here" panel (``w``).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "next_algorithm", "Algorithm"),
    ]

    feed = "home"
    view_title = "Home"
    empty = EMPTY_HOME

    def __init__(self) -> None:
        super().__init__()
        self.ranking: dict[str, FeedItem] = {}
        """The ranked page entry of each item shown (non-chronological algorithms)."""
        self._next: FeedCursor | None = None
        self._ranked_by = DEFAULT_ALGORITHM

    @property
    def algorithm(self) -> str:
        """The algorithm the owner chose (kept in the app's settings)."""
        return self.p2p.settings.algorithm

    def controls(self) -> ComposeResult:
        yield Label(self._switcher(), id="algo-switcher")

    def _switcher(self) -> Text:
        out = Text(" Ranked by ", style="dim")
        for n, name in enumerate(algorithm_names()):
            if n:
                out.append(" · ", style="dim")
            chosen = name == self.algorithm
            style = "bold reverse" if chosen else "underline"
            out.append(
                f" {name} " if chosen else name,
                style=link("algorithm", name, style=style),
            )
        out.append("  a: next", style="dim")
        return out

    def action_on(self, action: str, key: str) -> None:
        if action == "algorithm":
            self.p2p.set_algorithm(key)
            return
        super().action_on(action, key)

    def action_next_algorithm(self) -> None:
        names = algorithm_names()
        current = names.index(self.algorithm) if self.algorithm in names else -1
        self.p2p.set_algorithm(names[(current + 1) % len(names)])

    def algorithm_changed(self) -> None:
        """The owner picked another algorithm: redraw the switcher, read Home again."""
        self.query_one("#algo-switcher", Label).update(self._switcher())
        self.reload_view()

    async def _load(self, before: Cursor | None) -> list[Item]:
        algorithm = self.algorithm
        if algorithm == DEFAULT_ALGORITHM:
            self._ranked_by = algorithm
            return await super()._load(before)
        if before is None:
            self.ranking.clear()
        elif self._next is None:
            return []  # the ranking's last page was read
        try:
            page = await self.backend.ranked(
                algorithm, cursor=None if before is None else self._next
            )
        except P2PSocialError as exc:
            self.notify(
                f"{exc}. Home is chronological instead.",
                title=f"Cannot rank by {algorithm}",
                severity="error",
            )
            self.p2p.set_algorithm(DEFAULT_ALGORITHM, reload=False)
            self.query_one("#algo-switcher", Label).update(self._switcher())
            return await super()._load(None)
        self._ranked_by = algorithm
        self._next = page.next
        self.ranking.update({str(entry.item.id): entry for entry in page.items})
        return [entry.item for entry in page.items]

    async def refresh_live(self) -> None:
        if self.algorithm == DEFAULT_ALGORITHM:
            await super().refresh_live()
            return
        # A ranking is not merged at the top: new messages may belong anywhere in it.
        self.follows_seen = self.p2p.follows_generation
        await self.timeline.reload()
        self.timeline.border_title = await self.describe()

    async def describe(self) -> str:
        following = len(await self.backend.following(self.backend.me))
        people = "1 person" if following == 1 else f"{following} people"
        order = "newest first" if self._ranked_by == DEFAULT_ALGORITHM else "ranked"
        return f"Home · you and the {people} you follow · {self._ranked_by} · {order}"

    def why_here(self, item: Item) -> list[str]:
        ranked = self.ranking.get(str(item.id))
        if ranked is None or self._ranked_by == DEFAULT_ALGORITHM:
            if item.author == self.backend.me:
                first = "It is yours: Home holds your own messages."
            else:
                first = f"You follow {item.author_display}: Home holds their messages."
            return [first, "Home is chronological (the default): newest first."]
        lines = [
            f"Ranked by {self._ranked_by}: place {ranked.position + 1}, "
            f"score {ranked.score:.3f} (the sum of the signals below).",
            "",
        ]
        for reason in ranked.reasons:
            lines.append(
                f"• {reason.signal}: {reason.value:.3f} × weight {reason.weight:g} "
                f"= {reason.contribution:.3f}"
            )
            lines.append(f"    {reason.text}")
        if not ranked.reasons:
            lines.append("(the algorithm gave no reasons for this item)")
        return lines


class GlobalScreen(FeedScreen):
    feed = "global"
    view_title = "Global"
    empty = EMPTY_GLOBAL

    async def describe(self) -> str:
        return "Global · everyone this node holds · newest first"

    def why_here(self, item: Item) -> list[str]:
        lines = [
            "Global holds every message your node has, newest first: it is here because "
            "your node holds it.",
            "Accounts with no trust path to you (nobody you follow, or whom they follow, "
            "follows them) get at most a tenth of a page; the rest are counted, not shown.",
        ]
        if item.folded:
            lines.append(f"Just before it, {item.folded} such messages were left out.")
        return lines
