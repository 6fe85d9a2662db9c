"""How messages, notifications and people look in a list, and paged lists of them.

Every entry is drawn as Rich text. Names and the small action words under each message are
links (``@click`` style meta): a click runs the screen's ``on`` action with the entry's
key, so everything the keys do can be done with the mouse.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Generic, TypeVar

from rich.style import Style
from rich.text import Text
from textual import events, on, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import ListItem, ListView, Static

from p2psocial.core.bodies import Kind
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.core.moderation import Judged, Policy
from p2psocial.core.ranking import Hidden
from p2psocial.store.queries import AuthorInfo, Cursor, Item, Notification

from ..settings import DEFAULT, Settings

MAX_INDENT = 8
"""Deeper replies are drawn at this depth (with a marker) so text keeps some width."""

E = TypeVar("E")


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


def when(ts_ms: int, settings: Settings) -> str:
    """The time of a message as the settings ask: an age, or a local date and time."""
    if settings.times == "absolute":
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts_ms / 1000))
    return ago(ts_ms)


def link(action: str, key: str, *, style: str = "") -> Style:
    """A style that runs ``screen.on(action, key)`` when clicked."""
    return Style.parse(style or "none") + Style(meta={"@click": f"screen.on({action!r},{key!r})"})


BOT = "bot"
"""The tag after the name of an author whose profile says a program posts for it."""


def _who(
    out: Text,
    name: str,
    author: AuthorId,
    settings: Settings,
    *,
    key: str,
    automated: bool = False,
) -> None:
    out.append(name, style=link("author", key, style="bold"))
    if automated:
        bot_tag(out)
    if settings.show_ids:
        out.append(f"  {author.short}", style="dim")


def bot_tag(out: Text) -> None:
    """``[bot]`` after a name: the account declares that a program posts for it."""
    out.append(" [", style="dim")
    out.append(BOT, style="bold magenta")
    out.append("]", style="dim")


def hidden_tag(hidden: Hidden) -> str:
    """How an item the rules hide is labelled where it is shown anyway."""
    return f"[hidden: {hidden.label}]"


def hidden_count(count: int, *, shown: bool) -> str:
    """What a list says about the items the owner's rules hid from it."""
    if shown:
        return f"{count} hidden by your rules, shown labelled (h hides them)"
    return f"{count} hidden by your rules (h shows them)"


def folded_note(count: int) -> str:
    """The line standing for what Global left out before an item (:attr:`Item.folded`)."""
    what = "message" if count == 1 else "messages"
    return f"⋯ {count} more {what} from accounts with no trust path to you"


def render_item(
    item: Item,
    *,
    depth: int | None = None,
    settings: Settings = DEFAULT,
    actions: bool = True,
    replying_to: str | None = None,
    hidden: Hidden | None = None,
    masked: bool = False,
) -> Text:
    """Two or more lines: who, when and what kind (and whom a reply answers, when known);
    the text; counters and actions.

    ``hidden``: the rule that hides it (shown as ``[hidden: label]``); ``masked``: its
    text is not shown either (a hidden reply keeping its place in a thread).
    """
    key = str(item.id)
    out = Text()
    if item.folded:
        out.append(folded_note(item.folded), style="italic dim")
        out.append("\n")
    if depth:
        marker = "↳ " if depth <= MAX_INDENT else f"↳{depth} "
        out.append(marker, style="dim")
    _who(out, item.author_display, item.author, settings, key=key, automated=item.automated)
    out.append(f"  · {when(item.ts, settings)}", style="dim")
    if item.kind is Kind.REPLY and not depth:
        out.append(f"  ↩ to {replying_to}" if replying_to else "  ↩ reply", style="italic dim")
    if hidden is not None:
        out.append(f"  {hidden_tag(hidden)}", style="bold yellow")
    if masked:
        out.append("\n")
        out.append("(hidden by your rules: h shows it)", style="italic dim")
        return out
    shown = item
    if item.kind is Kind.REPOST:
        out.append("  ♻ reposted", style="italic dim")
        if item.reposted is not None:
            shown = item.reposted
            out.append("\n")
            _who(
                out,
                shown.author_display,
                shown.author,
                settings,
                key=f"reposted:{key}",
                automated=shown.automated,
            )
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
        out.append("\n")
        out.append("   ".join(counters), style="dim")
    if actions:
        out.append("\n")
        out.append_text(render_actions(item))
    return out


ACTIONS = (
    ("reply", "reply"),
    ("react", "like"),
    ("repost", "repost"),
    ("open", "thread"),
    ("author", "profile"),
)
"""The action links under a message: (action, word)."""


def render_actions(item: Item) -> Text:
    """One line of links, each running the screen's ``on`` action for ``item``."""
    key = str(item.id)
    out = Text()
    for n, (action, word) in enumerate(ACTIONS):
        if n:
            out.append(" · ", style="dim")
        out.append(word, style=link(action, key, style="dim underline"))
    return out


NOTE_VERBS = {
    "reply": ("↩", "replied to your message"),
    "mention": ("@", "mentioned you"),
    "reaction": ("", "reacted to your message"),
    "repost": ("♻", "reposted your message"),
    "follow": ("+", "follows you"),
}


def render_notification(
    note: Notification,
    *,
    unread: bool = False,
    settings: Settings = DEFAULT,
    hidden: Hidden | None = None,
) -> Text:
    """Who did what, when; what they wrote; the owner's message it is about, quoted."""
    item = note.item
    key = str(item.id)
    icon, verb = NOTE_VERBS.get(note.what, ("•", note.what))
    if note.what == "reaction":
        icon = item.text or "?"
    out = Text()
    out.append("● " if unread else "  ", style="bold")
    out.append(f"{icon} ", style="bold")
    _who(out, item.author_display, item.author, settings, key=key, automated=item.automated)
    out.append(f"  {verb}", style="italic")
    out.append(f"  · {when(item.ts, settings)}", style="dim")
    if hidden is not None:
        out.append(f"  {hidden_tag(hidden)}", style="bold yellow")
    if note.what in ("reply", "mention"):
        out.append("\n  ")
        out.append(item.text if item.text is not None else "(not held yet)")
    if note.subject is not None and note.subject.text is not None:
        out.append("\n  ▎ ", style="dim")
        out.append(_one_line(note.subject.text, 200), style="dim")
    return out


def render_person(info: AuthorInfo, *, settings: Settings = DEFAULT) -> Text:
    """A name, the id, and the bio's first line."""
    out = Text()
    _who(out, info.display_name, info.id, settings, key=str(info.id), automated=info.automated)
    if info.bio:
        out.append(f"\n{_one_line(info.bio, 120)}", style="dim")
    return out


def _one_line(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _settings_of(widget: Any) -> Settings:
    try:
        settings = getattr(widget.app, "settings", DEFAULT)
    except Exception:  # no app yet (rendered outside one)
        return DEFAULT
    return settings if isinstance(settings, Settings) else DEFAULT


class EntryView(ListItem, Generic[E]):
    """One entry of a :class:`PagedList`, drawn by itself (no child widgets: a page of
    entries is one widget each, which keeps layout and painting cheap)."""

    def __init__(self, entry: E, *, classes: str = "item") -> None:
        super().__init__(classes=classes)
        self.entry = entry

    def render(self) -> Text:
        return self.render_entry()

    def render_entry(self) -> Text:
        """The entry as text (subclasses)."""
        raise NotImplementedError

    def update(self, entry: E) -> None:
        """Show a newer state of the same entry."""
        self.entry = entry
        self.rerender()

    def rerender(self) -> None:
        """Draw again (after a change of the entry or of the settings)."""
        self.refresh(layout=True)

    def watch_highlighted(self, value: bool) -> None:
        super().watch_highlighted(value)
        self.rerender()

    async def on_click(self, event: events.Click) -> None:
        if "@click" in event.style.meta:
            # A link: run its action (Widget's handler would), without also selecting
            # or opening the entry (ListItem's handler would).
            event.prevent_default()
            await self.broker_event("click", event)


class ItemView(EntryView[Item]):
    """One message in a list; the highlighted one shows its action links."""

    def __init__(self, item: Item, *, depth: int | None = None) -> None:
        super().__init__(item)
        self.depth = depth
        if depth:
            self.styles.padding = (0, 1, 0, 1 + 2 * min(depth, MAX_INDENT))
        if item.author_name is None:
            self.add_class("-anonymous")

    @property
    def item(self) -> Item:
        return self.entry

    def render_entry(self) -> Text:
        parent = self.entry.parent
        names = getattr(self.parent, "replied_to", {})
        verdicts: dict[str, Hidden] = getattr(self.parent, "verdicts", {})
        hidden = verdicts.get(str(self.entry.id))
        settings = _settings_of(self)
        return render_item(
            self.entry,
            depth=self.depth,
            settings=settings,
            actions=self.highlighted,
            replying_to=names.get(parent) if parent is not None else None,
            hidden=hidden,
            masked=hidden is not None and not settings.show_hidden,
        )


class NotificationView(EntryView[Notification]):
    """One notification in a list."""

    def __init__(self, note: Notification, *, unread: bool = False) -> None:
        super().__init__(note)
        self.unread = unread
        self.set_class(unread, "-unread")

    def render_entry(self) -> Text:
        verdicts: dict[str, Hidden] = getattr(self.parent, "verdicts", {})
        return render_notification(
            self.entry,
            unread=self.unread,
            settings=_settings_of(self),
            hidden=verdicts.get(str(self.entry.item.id)),
        )

    def mark_read(self) -> None:
        if self.unread:
            self.unread = False
            self.remove_class("-unread")
            self.rerender()


class PersonView(EntryView[AuthorInfo]):
    """One person in a list (followers, following)."""

    def render_entry(self) -> Text:
        return render_person(self.entry, settings=_settings_of(self))


Loader = Callable[[Cursor | None], Awaitable[list[E]]]
"""Fetches the page after a cursor (None: the first page), newest first."""
PolicyOf = Callable[[], Awaitable[Policy]]
"""The owner's moderation policy as it is now."""
FILL_PAGES = 5
"""A page the rules mostly hid is followed by up to this many more at once."""


class PagedList(ListView, Generic[E]):
    """Entries newest first, loaded a page at a time as the user reaches the end."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last loaded (loads more)", show=False),
    ]

    class Opened(Message):
        """The user chose an entry (enter or click)."""

        def __init__(self, source: PagedList[Any], entry: Any) -> None:
            super().__init__()
            self.source = source
            self.entry = entry

        @property
        def item(self) -> Any:
            """The entry (for lists of messages, the :class:`Item`)."""
            return self.entry

    def __init__(
        self,
        loader: Loader[E],
        *,
        page: int = 40,
        id: str | None = None,
        empty: str = "",
        policy: PolicyOf | None = None,
    ) -> None:
        super().__init__(id=id, classes="timeline")
        self._loader = loader
        self._policy = policy
        self.verdicts: dict[str, Hidden] = {}
        """Why the rules hide an entry, by key (for every hidden entry read)."""
        self._tail: Cursor | None = None
        """Where the next page starts: after the last entry *read* (shown or not)."""
        self._page = page
        self._views: dict[str, EntryView[E]] = {}
        self.exhausted = False
        self._fetching = False
        self.empty_text = empty
        self.loaded_once = False
        self._hint: ListItem | None = None

    # --- what subclasses define ----------------------------------------------------------

    def key(self, entry: E) -> str:
        """A unique key of an entry."""
        raise NotImplementedError

    def cursor_of(self, entry: E) -> Cursor:
        """Where the next page after ``entry`` starts."""
        raise NotImplementedError

    def make_view(self, entry: E) -> EntryView[E]:
        """The widget for an entry."""
        raise NotImplementedError

    def judged(self, entry: E) -> Judged | None:
        """What moderation judges for an entry (None: lists that are not moderated)."""
        return None

    # --- reading ------------------------------------------------------------------------

    @property
    def entries(self) -> list[E]:
        return [child.entry for child in self.children if isinstance(child, EntryView)]

    @property
    def current_entry(self) -> E | None:
        """The highlighted entry."""
        child = self.highlighted_child
        return child.entry if isinstance(child, EntryView) else None

    def select_key(self, key: str) -> E | None:
        """Highlight the entry with ``key``; return it (None when it is not shown)."""
        view = self._views.get(key)
        if view is None:
            return None
        self.index = self.children.index(view)
        return view.entry

    # --- loading ------------------------------------------------------------------------

    async def reload(self) -> None:
        """Load the first page again from scratch, keeping the highlighted entry if it is
        still there."""
        current = self.current_entry
        keep = None if current is None else self.key(current)
        self.verdicts = {}
        entries, read = await self._load(None)
        await self.clear()
        self._views.clear()
        self._hint = None
        self.exhausted = len(read) < self._page
        self._tail = self.cursor_of(read[-1]) if read else None
        await self._append(entries)
        self.loaded_once = True
        if entries:
            keys = [self.key(entry) for entry in entries]
            self.index = keys.index(keep) if keep in keys else 0
        await self.show_state()
        for _ in range(FILL_PAGES):
            # The rules hid much of it: read on, so that the view is not left near-empty.
            if self.exhausted or len(self._views) >= self._page:
                break
            await self.load_more()

    async def load_more(self) -> None:
        """Append the next page (if any)."""
        if self.exhausted or self._fetching:
            return
        if self._tail is None:
            await self.reload()
            return
        self._fetching = True
        try:
            page, read = await self._load(self._tail)
        finally:
            self._fetching = False
        self.exhausted = len(read) < self._page
        if read:
            self._tail = self.cursor_of(read[-1])
        await self._append(page)
        await self.show_state()

    async def refresh_top(self) -> int:
        """Merge the newest page: prepend what is new, update what is shown.

        Returns:
            How many entries were new.
        """
        page, read = await self._load(None)
        if (
            self._views
            and len(read) >= self._page
            and not any(self.key(entry) in self._views for entry in read)
        ):
            # More arrived than a page holds: merging would leave a gap, so start over.
            await self.reload()
            return len(page)
        new: list[E] = []
        for entry in page:
            view = self._views.get(self.key(entry))
            if view is None:
                new.append(entry)
            elif view.entry != entry:
                view.update(entry)
        if new:
            keep = self.index
            views = [self._view(entry) for entry in new]
            if len(self.children):
                await self.insert(0, views)
            else:
                await self.extend(views)
            # ListView keeps its index number across an insert, which would make the
            # entry above the highlighted one current: move the index with the entry.
            self.index = 0 if keep is None else keep + len(new)
        self.loaded_once = True
        await self.show_state()
        return len(new)

    def rerender(self) -> None:
        """Draw every entry again (after a settings change)."""
        for view in self._views.values():
            view.rerender()

    async def _load(self, before: Cursor | None) -> tuple[list[E], list[E]]:
        """What to show of the page after ``before``, and the whole page as read."""
        read = await self._loader(before)
        entries = await self._screen(read)
        await self.prepare(entries)
        return entries, read

    async def _screen(self, read: list[E]) -> list[E]:
        """Apply the owner's rules: hidden entries are left out (and counted), or kept in
        place with their verdict when the settings say to show them."""
        if self._policy is None or not read:
            return read
        policy = await self._policy()
        show = _settings_of(self).show_hidden
        shown: list[E] = []
        for entry in read:
            target = self.judged(entry)
            verdict = None if target is None else policy.judge(target)
            key = self.key(entry)
            if verdict is None:
                self.verdicts.pop(key, None)
            else:
                self.verdicts[key] = verdict
                if not show:
                    continue
            shown.append(entry)
        return shown

    @property
    def hidden(self) -> int:
        """How many entries read so far the owner's rules hide."""
        return len(self.verdicts)

    async def prepare(self, entries: list[E]) -> None:
        """Fetch what drawing these entries needs beyond them (subclasses)."""

    def _view(self, entry: E) -> EntryView[E]:
        view = self.make_view(entry)
        self._views[self.key(entry)] = view
        return view

    async def _append(self, entries: list[E]) -> None:
        fresh = [entry for entry in entries if self.key(entry) not in self._views]
        if fresh:
            await self.extend([self._view(entry) for entry in fresh])

    async def show_state(self) -> None:
        """An empty list says what would be here and what to do (a line that cannot be
        selected); a list that reached its end says so in its border."""
        if not self._views:
            if self._hint is None and self.empty_text:
                text = Static(Text(self.empty_text))
                self._hint = ListItem(text, classes="empty-hint", disabled=True)
                await self.mount(self._hint)
            notes = []
        else:
            if self._hint is not None:
                hint, self._hint = self._hint, None
                await hint.remove()
            notes = ["end of the list"] if self.exhausted else []
        if self.verdicts:
            shown = _settings_of(self).show_hidden
            notes.insert(0, hidden_count(len(self.verdicts), shown=shown))
        self.border_subtitle = " · ".join(notes)
        self.set_class(not self._views, "-empty")

    @on(ListView.Highlighted)
    def _near_end(self, event: ListView.Highlighted) -> None:
        if self.index is not None and self.index >= len(self.children) - 3:
            self._more()

    @on(ListView.Selected)
    def _selected(self, event: ListView.Selected) -> None:
        event.stop()
        if isinstance(event.item, EntryView):
            self.post_message(self.Opened(self, event.item.entry))

    def _on_list_item__child_clicked(self, event: ListItem._ChildClicked) -> None:
        # The first click highlights (and shows the entry's action links); a click on
        # the highlighted entry opens it.
        event.stop()
        event.prevent_default()  # ListView's own handler would open it
        self.focus()
        index = self._nodes.index(event.item)
        if index == self.index:
            self.post_message(self.Selected(self, event.item, index))
        else:
            self.index = index

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


NamesOf = Callable[[list[MessageId]], Awaitable[dict[MessageId, str]]]
"""Display names of the authors of held messages (absent: not held)."""


class Timeline(PagedList[Item]):
    """Messages, newest first; a reply says whom it answers when ``names_of`` is given."""

    def __init__(
        self,
        loader: Loader[Item],
        *,
        names_of: NamesOf | None = None,
        page: int = 40,
        id: str | None = None,
        empty: str = "",
        policy: PolicyOf | None = None,
    ) -> None:
        super().__init__(loader, page=page, id=id, empty=empty, policy=policy)
        self._names_of = names_of
        self.replied_to: dict[MessageId, str] = {}
        """The author's name of each parent of a reply shown (when held)."""

    async def prepare(self, entries: list[Item]) -> None:
        if self._names_of is None:
            return
        wanted = list(
            {
                e.parent
                for e in entries
                if e.kind is Kind.REPLY and e.parent is not None and e.parent not in self.replied_to
            }
        )
        if wanted:
            self.replied_to.update(await self._names_of(wanted))

    def key(self, entry: Item) -> str:
        return str(entry.id)

    def cursor_of(self, entry: Item) -> Cursor:
        return entry.cursor

    def make_view(self, entry: Item) -> EntryView[Item]:
        return ItemView(entry)

    def judged(self, entry: Item) -> Judged:
        return entry

    @property
    def items(self) -> list[Item]:
        return self.entries

    @property
    def current(self) -> Item | None:
        """The highlighted message."""
        return self.current_entry


class NotificationList(PagedList[Notification]):
    """Notifications, newest first; those newer than ``seen`` are marked unread."""

    def __init__(
        self,
        loader: Loader[Notification],
        *,
        seen: Cursor | None,
        page: int = 40,
        id: str | None = None,
        empty: str = "",
        policy: PolicyOf | None = None,
    ) -> None:
        super().__init__(loader, page=page, id=id, empty=empty, policy=policy)
        self.seen = seen

    def key(self, entry: Notification) -> str:
        return str(entry.item.id)

    def cursor_of(self, entry: Notification) -> Cursor:
        return entry.cursor

    def make_view(self, entry: Notification) -> EntryView[Notification]:
        unread = self.seen is None or entry.cursor > self.seen
        return NotificationView(entry, unread=unread)

    def judged(self, entry: Notification) -> Judged:
        return entry.item

    def mark_all_read(self) -> Cursor | None:
        """Mark what is shown read; return the newest cursor (to remember as seen)."""
        entries = self.entries
        for view in self._views.values():
            if isinstance(view, NotificationView):
                view.mark_read()
        if entries:
            newest = entries[0].cursor
            self.seen = newest if self.seen is None else max(self.seen, newest)
        return self.seen


class PersonList(PagedList[AuthorInfo]):
    """People (one page: the graph queries are not paged)."""

    def key(self, entry: AuthorInfo) -> str:
        return str(entry.id)

    def cursor_of(self, entry: AuthorInfo) -> Cursor:
        return (0, 0)

    def make_view(self, entry: AuthorInfo) -> EntryView[AuthorInfo]:
        return PersonView(entry)
