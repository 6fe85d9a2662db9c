"""A conversation as a tree: the root first, each reply under its parent."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Header, ListView

from p2psocial.core.ids import MessageId
from p2psocial.errors import P2PSocialError
from p2psocial.store.queries import Item

from ..widgets.items import ItemView
from .base import ItemScreen


class ThreadList(ListView):
    """The messages of a thread; enter replies to the highlighted one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Reply here", show=False),
    ]


class ThreadScreen(ItemScreen):
    """The thread around one message, indented by depth; replies are written in place."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape,backspace", "app.pop_screen", "Back"),
    ]

    def __init__(self, message: MessageId) -> None:
        super().__init__()
        self.message = message
        self.items: list[Item] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield ThreadList(id="thread", classes="timeline")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Thread"
        self.query_one("#thread").border_title = "Thread"
        self.generation = self.p2p.generation
        self.load(self.message)

    @work(exclusive=True, group="live")
    async def load(self, focus: MessageId | None = None) -> None:
        await self._reload(focus)

    async def _reload(self, focus: MessageId | None) -> None:
        view = self.query_one("#thread", ListView)
        keep = focus if focus is not None else (c.id if (c := self.current_item()) else None)
        try:
            items = await self.backend.thread(self.message)
        except P2PSocialError as exc:
            self.notify(str(exc), title="Cannot open the thread", severity="error")
            self.app.pop_screen()
            return
        self.items = items
        await view.clear()
        await view.extend([ItemView(item, depth=item.depth) for item in items])
        view.border_title = f"Thread · {len(items)} messages"
        ids = [item.id for item in items]
        view.index = ids.index(keep) if keep in ids else 0
        view.focus()

    async def refresh_live(self) -> None:
        await self._reload(None)

    def current_item(self) -> Item | None:
        child = self.query_one("#thread", ListView).highlighted_child
        return child.item if isinstance(child, ItemView) else None

    def after_write(self, message: MessageId) -> None:
        self.load(message)

    @on(ListView.Selected)
    def _selected(self, event: ListView.Selected) -> None:
        self.action_reply()
