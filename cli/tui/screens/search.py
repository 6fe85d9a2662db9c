"""Search: words in posts and replies, a #tag, or an author by id."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Header, Input

from p2psocial.core.ids import AuthorId
from p2psocial.errors import P2PSocialError
from p2psocial.store.queries import MAX_LIMIT, Cursor, Item

from ..backend import PAGE
from ..widgets.items import PagedList, Timeline
from .base import ItemScreen

HINT = "words (all must appear; word* matches a prefix), a #tag, or an author id p2sa1…"
EMPTY = """\
Type above and press enter:

words     posts and replies holding every word (word* matches a prefix)
#tag      everything with that tag
p2sa1…    an author, by id or a prefix of it"""


class SearchScreen(ItemScreen):
    """Type and press enter; the results are a timeline like any other."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_search", "Search", show=False),
        Binding("escape", "to_results", "To the results"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""
        self.tag: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder=HINT, id="search-input")
        yield Timeline(
            self._load,
            names_of=self.backend.names_of,
            id="results",
            empty=EMPTY,
            policy=self.backend.policy,
        )
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Search"
        self.results.border_title = "Results"
        self.generation = self.p2p.generation
        self._loaded = True  # nothing to read before the first search
        self.query_one(Input).focus()
        self.run_worker(self.results.show_state())

    @property
    def results(self) -> Timeline:
        return self.query_one(Timeline)

    def action_focus_search(self) -> None:
        field = self.query_one(Input)
        field.focus()
        field.select_all()

    def action_to_results(self) -> None:
        self.results.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "to_results":
            return self.query_one(Input).has_focus
        if action == "focus_search":
            return not self.query_one(Input).has_focus
        return True

    @on(Input.Submitted, "#search-input")
    def _submitted(self, event: Input.Submitted) -> None:
        self.run_search(event.value)

    def run_search(self, text: str) -> None:
        """Search for ``text`` (what the field holds when enter is pressed)."""
        text = text.strip()
        if not text:
            self.notify("Type something to look for.", severity="warning")
            return
        if AuthorId.looks_like(text) and " " not in text:
            self._open_author(text)
            return
        word = text.removeprefix("#")
        self.tag = word if text.startswith("#") and " " not in text else None
        if self.tag is not None and not word:
            self.notify("That is not a tag.", severity="warning")
            return
        self.query_text = text
        self.reload_view()

    async def load_view(self) -> None:
        if not (self.query_text or self.tag):
            return
        results = self.results
        what = f"#{self.tag}" if self.tag is not None else repr(self.query_text)
        results.empty_text = f"Nothing held matches {what}."
        await results.reload()
        count = len(results.items)
        more = "+" if not results.exhausted else ""
        results.border_title = f"Results for {what} · {count}{more} · newest first"
        if count:
            results.focus()
        else:
            field = self.query_one(Input)
            field.focus()
            field.select_all()

    @work(exclusive=True, group="author")
    async def _open_author(self, text: str) -> None:
        try:
            author = await self.backend.resolve_author(text)
        except P2PSocialError as exc:
            self.notify(str(exc), title="No such author", severity="error")
            return
        self.open_profile(author)

    async def _load(self, before: Cursor | None) -> list[Item]:
        if self.tag is not None:
            return await self.backend.timeline(f"tag:{self.tag}", before=before)
        if not self.query_text:
            return []
        # Full-text results are not paged by cursor: ask for more each time and keep
        # those after the cursor (the order is the same (ts, rowid) order).
        shown = len(self.results.items) if before is not None else 0
        limit = min(shown + PAGE, MAX_LIMIT)
        if before is not None and shown >= MAX_LIMIT:
            return []
        found = await self.backend.search(self.query_text, limit=limit)
        page = [item for item in found if before is None or item.cursor < before]
        return page[:PAGE]

    async def refresh_live(self) -> None:
        if self.query_text or self.tag:
            await self.results.refresh_top()

    def current_item(self) -> Item | None:
        return self.results.current

    @on(PagedList.Opened)
    def _opened(self, event: PagedList.Opened) -> None:
        self.open_thread(event.entry)
