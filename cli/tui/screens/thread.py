"""A conversation as a tree: the root first, each reply under its parent."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Header, ListItem, ListView

from p2psocial.core.ids import MessageId
from p2psocial.core.moderation import screen as apply_rules
from p2psocial.core.ranking import Hidden
from p2psocial.errors import P2PSocialError
from p2psocial.store.queries import Item

from ..widgets.items import ItemView, hidden_count
from .base import ItemScreen


class ThreadList(ListView):
    """The messages of a thread; enter replies to the highlighted one, a click selects it.

    A reply the owner's rules hide keeps its place (the tree stays whole), its text
    masked unless hidden items are shown; ``verdicts`` says why, by message id.
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.verdicts: dict[str, Hidden] = {}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Reply here", show=False),
    ]

    def _on_list_item__child_clicked(self, event: ListItem._ChildClicked) -> None:
        # A click highlights (the words under the message act on it); replying to
        # whatever was clicked would be a surprise.
        event.stop()
        event.prevent_default()  # ListView's own handler would open it
        self.focus()
        self.index = self._nodes.index(event.item)


class ThreadScreen(ItemScreen):
    """The thread around one message, indented by depth; replies are written in place."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
    ]

    def __init__(self, message: MessageId) -> None:
        super().__init__()
        self.message = message
        self.items: list[Item] = []
        self._focus_next: MessageId | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield ThreadList(id="thread", classes="timeline")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Thread"
        self.query_one("#thread").border_title = "Thread"
        self._focus_next = self.message
        self._catch_up()

    @property
    def view(self) -> ThreadList:
        return self.query_one("#thread", ThreadList)

    async def load_view(self) -> None:
        await self.refresh_live()

    async def refresh_live(self) -> None:
        view = self.view
        focus, self._focus_next = self._focus_next, None
        keep = focus if focus is not None else (c.id if (c := self.current_item()) else None)
        try:
            items = await self.backend.thread(self.message)
            policy = await self.backend.policy()
        except P2PSocialError as exc:
            self.notify(str(exc), title="Cannot open the thread", severity="error")
            self.app.pop_screen()
            return
        self.items = items
        judged = apply_rules(items, policy.judge, keep_place=True)
        view.verdicts = {str(i.id): v for i, v in judged.pairs() if v is not None}
        await view.clear()
        await view.extend([ItemView(item, depth=item.depth) for item in items])
        title = f"Thread · {len(items)} messages · enter replies to the highlighted one"
        view.border_title = title
        view.border_subtitle = (
            hidden_count(judged.hidden, shown=self.p2p.settings.show_hidden)
            if judged.hidden
            else ""
        )
        ids = [item.id for item in items]
        if keep not in ids:
            keep = self.message
        view.index = ids.index(keep) if keep in ids else 0
        view.focus()

    def current_item(self) -> Item | None:
        child = self.view.highlighted_child
        return child.item if isinstance(child, ItemView) else None

    def select_key(self, key: str) -> Item | None:
        for n, child in enumerate(self.view.children):
            if isinstance(child, ItemView) and str(child.item.id) == key:
                self.view.index = n
                return child.item
        return None

    def rerender(self) -> None:
        for child in self.view.children:
            if isinstance(child, ItemView):
                child.rerender()

    def after_write(self, message: MessageId) -> None:
        self._focus_next = message
        self._catch_up()

    def open_thread(self, item: Item) -> None:
        # Already in it (the "thread" link under a message of this thread).
        if item.id in {i.id for i in self.items} and item.kind.value != "repost":
            self.select_key(str(item.id))
            return
        super().open_thread(item)

    @on(ListView.Selected)
    def _selected(self, event: ListView.Selected) -> None:
        self.action_reply()
