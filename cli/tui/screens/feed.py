"""Home and Global: paged timelines, newest first, live."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Footer, Header

from p2psocial.store.queries import Cursor, Item

from ..widgets.items import PagedList, Timeline
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
        yield Horizontal(id="feed-controls")
        yield Timeline(self._load, names_of=self.backend.names_of, id="timeline", empty=self.empty)
        yield Footer(compact=True, show_command_palette=False)

    follows_seen = 0
    """The app's follows generation this feed was last read at."""

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


class HomeScreen(FeedScreen):
    feed = "home"
    view_title = "Home"
    empty = EMPTY_HOME

    async def describe(self) -> str:
        following = len(await self.backend.following(self.backend.me))
        people = "1 person" if following == 1 else f"{following} people"
        return f"Home · you and the {people} you follow · newest first"


class GlobalScreen(FeedScreen):
    feed = "global"
    view_title = "Global"
    empty = EMPTY_GLOBAL

    async def describe(self) -> str:
        return "Global · everyone this node holds · newest first"
