"""Home and Global: paged timelines, newest first, live."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Footer, Header

from p2psocial.core.ids import MessageId
from p2psocial.store.queries import Cursor, Item

from ..widgets.items import Timeline
from .base import ItemScreen

EMPTY_HOME = "nothing yet: n writes a post; follow people (f) to see theirs here"
EMPTY_GLOBAL = "nothing held yet: add a peer in Network (4)"


class FeedScreen(ItemScreen):
    """A named feed (``home``, ``global``, ``author:ID``, ``tag:TAG``)."""

    feed = "home"
    view_title = "Home"
    empty = EMPTY_HOME

    def compose(self) -> ComposeResult:
        yield Header()
        yield Timeline(self._load, id="timeline", empty=self.empty)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = self.view_title
        self.timeline.border_title = self.view_title
        self.generation = self.p2p.generation
        self._first_load()

    @property
    def timeline(self) -> Timeline:
        return self.query_one(Timeline)

    async def _load(self, before: Cursor | None) -> list[Item]:
        return await self.backend.timeline(self.feed, before=before)

    @work(exclusive=True, group="live")
    async def _first_load(self) -> None:
        await self.timeline.reload()
        self.timeline.focus()

    async def refresh_live(self) -> None:
        await self.timeline.refresh_top()

    def current_item(self) -> Item | None:
        return self.timeline.current

    def after_write(self, message: MessageId) -> None:
        self._catch_up()

    @on(Timeline.Opened)
    def _opened(self, event: Timeline.Opened) -> None:
        self.open_thread(event.item)


class HomeScreen(FeedScreen):
    feed = "home"
    view_title = "Home"
    empty = EMPTY_HOME


class GlobalScreen(FeedScreen):
    feed = "global"
    view_title = "Global"
    empty = EMPTY_GLOBAL
