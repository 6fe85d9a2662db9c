"""Notifications: replies, mentions, reactions, reposts and new followers, newest first.

Those that arrived since the view was last open carry a ``●``; opening the view counts them
as seen (the title's count clears), and the marks go when the view is left.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Header

from p2psocial.store.queries import Cursor, Item, Notification

from ..widgets.items import NotificationList, PagedList
from .base import ItemScreen

EMPTY = "Nothing yet: replies, mentions, likes, reposts and new followers show up here."


class NotificationsScreen(ItemScreen):
    """What others did that concerns you; ``enter`` opens the conversation (or the person)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "follow", "Follow back"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield NotificationList(
            self._load,
            seen=self.p2p.settings.seen_notifications,
            id="notifications",
            empty=EMPTY,
            policy=self.backend.policy,
        )
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Notifications"
        self.notes.border_title = "Notifications · newest first"
        self._catch_up()

    @property
    def notes(self) -> NotificationList:
        return self.query_one(NotificationList)

    async def _load(self, before: Cursor | None) -> list[Notification]:
        return await self.backend.notifications(before=before)

    async def load_view(self) -> None:
        try:
            await self.notes.reload()
            self._seen()
        finally:
            self.notes.focus()

    async def refresh_live(self) -> None:
        await self.notes.refresh_top()
        self._seen()

    def _seen(self) -> None:
        entries = self.notes.entries
        if entries and self.is_current:
            self.p2p.notifications_seen(entries[0].cursor)

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self._seen()

    def on_screen_suspend(self) -> None:
        self.notes.mark_all_read()

    def current_item(self) -> Item | None:
        note = self.notes.current_entry
        return None if note is None else note.item

    def select_key(self, key: str) -> Item | None:
        note = self.notes.select_key(key)
        return None if note is None else note.item

    def action_open(self) -> None:
        note = self.notes.current_entry
        if note is not None:
            self._open(note)

    @on(PagedList.Opened)
    def _opened(self, event: PagedList.Opened) -> None:
        self._open(event.entry)

    def _open(self, note: Notification) -> None:
        if note.what == "follow":
            self.open_profile(note.item.author)
        elif note.what in ("reply", "mention"):
            self.open_thread(note.item)
        elif note.subject is not None:
            self.open_thread(note.subject)
        else:
            self.notify("The message this was about is no longer held.", severity="warning")
