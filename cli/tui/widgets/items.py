"""How one message looks in a list, and a paged timeline of them."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Label, ListItem, ListView

from p2psocial.core.bodies import Kind
from p2psocial.store.queries import Cursor, Item

MAX_INDENT = 8
"""Deeper replies are drawn at this depth (with a marker) so text keeps some width."""


def ago(ts_ms: int, now: float | None = None) -> str:
    """A short age: ``now``, ``5m``, ``3h``, ``2d``, or a date."""
    seconds = max(0.0, (now if now is not None else time.time()) - ts_ms / 1000)
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    if seconds < 30 * 86400:
        return f"{int(seconds // 86400)}d"
    return time.strftime("%Y-%m-%d", time.localtime(ts_ms / 1000))


def render_item(item: Item, *, depth: int | None = None) -> Text:
    """Two or more lines: who, when and what kind; the text; the counters."""
    out = Text()
    if depth:
        marker = "↳ " if depth <= MAX_INDENT else f"↳{depth} "
        out.append(marker, style="dim")
    out.append(item.author_display, style="bold")
    out.append(f"  {item.author.short}", style="dim")
    out.append(f"  · {ago(item.ts)}", style="dim")
    if item.kind is Kind.REPLY and not depth:
        out.append("  ↩ reply", style="italic dim")
    shown = item
    if item.kind is Kind.REPOST:
        out.append("  ♻ reposted", style="italic dim")
        if item.reposted is not None:
            shown = item.reposted
            out.append(f"\n{shown.author_display}", style="bold")
            out.append(f"  {shown.author.short}", style="dim")
    out.append("\n")
    if shown.deleted:
        out.append("(deleted by its author)", style="italic dim")
    elif shown.text is None:
        out.append("(not held yet: it will arrive by sync)", style="italic dim")
    else:
        out.append(shown.text)
    counters = []
    if shown.replies:
        counters.append(f"💬 {shown.replies}")
    if shown.reposts:
        counters.append(f"♻ {shown.reposts}")
    counters.extend(f"{emoji} {n}" for emoji, n in shown.reactions.counts)
    if counters:
        out.append("\n" + "   ".join(counters), style="dim")
    return out


class ItemView(ListItem):
    """One message in a list."""

    def __init__(self, item: Item, *, depth: int | None = None) -> None:
        super().__init__(classes="item")
        self.item = item
        self.depth = depth
        if depth:
            self.styles.padding = (0, 1, 0, 1 + 2 * min(depth, MAX_INDENT))
        if item.author_name is None:
            self.add_class("-anonymous")

    def compose(self) -> Iterable[Label]:
        yield Label(render_item(self.item, depth=self.depth), classes="item-body")

    def update(self, item: Item) -> None:
        """Show newer counters for the same message."""
        self.item = item
        self.query_one(Label).update(render_item(item, depth=self.depth))


Loader = Callable[[Cursor | None], Awaitable[list[Item]]]
"""Fetches the page after a cursor (None: the first page), newest first."""


class Timeline(ListView):
    """A feed, newest first, loaded a page at a time as the user reaches its end."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open"),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last loaded (loads more)", show=False),
    ]

    class Opened(Message):
        """The user chose an item (enter or click)."""

        def __init__(self, timeline: Timeline, item: Item) -> None:
            super().__init__()
            self.timeline = timeline
            self.item = item

    def __init__(
        self, loader: Loader, *, page: int = 40, id: str | None = None, empty: str = ""
    ) -> None:
        super().__init__(id=id, classes="timeline")
        self._loader = loader
        self._page = page
        self._ids: dict[str, ItemView] = {}
        self.exhausted = False
        self._fetching = False
        self.empty_text = empty
        self.loaded_once = False

    @property
    def items(self) -> list[Item]:
        return [child.item for child in self.children if isinstance(child, ItemView)]

    @property
    def current(self) -> Item | None:
        """The highlighted item."""
        child = self.highlighted_child
        return child.item if isinstance(child, ItemView) else None

    async def reload(self) -> None:
        """Load the first page again from scratch."""
        items = await self._loader(None)
        await self.clear()
        self._ids.clear()
        self.exhausted = len(items) < self._page
        await self._append(items)
        self.loaded_once = True
        if items:
            self.index = 0
        self._show_empty()

    async def load_more(self) -> None:
        """Append the next page (if any)."""
        if self.exhausted or self._fetching:
            return
        items = self.items
        if not items:
            await self.reload()
            return
        self._fetching = True
        try:
            page = await self._loader(items[-1].cursor)
        finally:
            self._fetching = False
        self.exhausted = len(page) < self._page
        await self._append(page)

    async def refresh_top(self) -> int:
        """Merge the newest page: prepend what is new, update counters of what is shown.

        Returns:
            How many items were new.
        """
        page = await self._loader(None)
        if (
            self._ids
            and len(page) >= self._page
            and not any(str(item.id) in self._ids for item in page)
        ):
            # More arrived than a page holds: merging would leave a gap, so start over.
            await self.reload()
            return len(page)
        new: list[Item] = []
        for item in page:
            view = self._ids.get(str(item.id))
            if view is None:
                new.append(item)
            elif view.item != item:
                view.update(item)
        if new:
            keep = self.index
            views = [self._view(item) for item in new]
            if len(self.children):
                await self.insert(0, views)
            else:
                await self.extend(views)
            if keep is not None and keep > 0:
                self.index = keep + len(new)
            elif self.index is None:
                self.index = 0
        self._show_empty()
        return len(new)

    def _view(self, item: Item) -> ItemView:
        view = ItemView(item)
        self._ids[str(item.id)] = view
        return view

    async def _append(self, items: list[Item]) -> None:
        fresh = [item for item in items if str(item.id) not in self._ids]
        if fresh:
            await self.extend([self._view(item) for item in fresh])

    def _show_empty(self) -> None:
        self.set_class(not self._ids, "-empty")
        if not self._ids:
            self.border_subtitle = self.empty_text
        else:
            self.border_subtitle = "" if not self.exhausted else "end of the feed"

    @on(ListView.Highlighted)
    def _near_end(self, event: ListView.Highlighted) -> None:
        if self.index is not None and self.index >= len(self.children) - 3:
            self._more()

    @on(ListView.Selected)
    def _selected(self, event: ListView.Selected) -> None:
        event.stop()
        if isinstance(event.item, ItemView):
            self.post_message(self.Opened(self, event.item.item))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.loaded_once and new_value >= self.max_scroll_y - 2 and new_value > old_value:
            self._more()

    def action_first(self) -> None:
        if len(self.children):
            self.index = 0

    def action_last(self) -> None:
        if len(self.children):
            self.index = len(self.children) - 1

    @work(exclusive=True, group="more")
    async def _more(self) -> None:
        await self.load_more()
