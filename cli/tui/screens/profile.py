"""An author: profile, counts, their posts; follow or unfollow."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Label

from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.errors import P2PSocialError
from p2psocial.store.queries import Cursor, Item

from ..widgets.items import Timeline
from .base import ItemScreen


class ProfileScreen(ItemScreen):
    """Anyone's profile (``f`` follows or unfollows them, not the highlighted author)."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape,backspace", "back", "Back"),
        Binding("f", "follow", "Follow"),
    ]

    def __init__(self, author: AuthorId, *, is_mode: bool = False) -> None:
        super().__init__()
        self.author = author
        self.is_mode = is_mode
        self.following_them: bool | None = None
        self.followers = 0
        self.following = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("", id="profile-card")
        yield Timeline(self._load, id="timeline", empty="no posts held from this author")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Profile"
        self.query_one(Timeline).border_title = "Posts"
        self.generation = self.p2p.generation
        self.load()

    async def _load(self, before: Cursor | None) -> list[Item]:
        return await self.backend.timeline(f"author:{self.author}", before=before)

    @work(exclusive=True, group="live")
    async def load(self) -> None:
        await self.refresh_card()
        await self.query_one(Timeline).reload()
        self.query_one(Timeline).focus()

    async def refresh_card(self) -> None:
        backend = self.backend
        try:
            info = await backend.author(self.author)
            followers = await backend.followers(self.author)
            following = await backend.following(self.author)
            mine = following if self.author == backend.me else await backend.following(backend.me)
        except P2PSocialError as exc:
            self.notify(str(exc), title="Cannot show the profile", severity="error")
            return
        self.followers, self.following = len(followers), len(following)
        self.following_them = any(a.id == self.author for a in mine)
        card = Text()
        card.append(info.display_name if info else self.author.short, style="bold")
        if self.author == backend.me:
            card.append("  (you)", style="dim")
        elif self.following_them:
            card.append("  ✓ following", style="bold green")
        card.append(f"\n{self.author}", style="dim")
        if info and info.bio:
            card.append(f"\n{info.bio}")
        held = f"{info.held} messages held" if info else "nothing of theirs held yet"
        if info and info.held < info.head_seq:
            held += f" ({info.head_seq - info.held} missing: sync will fetch them)"
        card.append(f"\n{_count(self.followers, 'follower')} · {self.following} following · {held}")
        if info and info.forked:
            card.append("\n⚠ this author signed two different messages for one seq", "bold red")
        self.query_one("#profile-card", Label).update(card)

    async def refresh_live(self) -> None:
        await self.refresh_card()
        await self.query_one(Timeline).refresh_top()

    def current_item(self) -> Item | None:
        return self.query_one(Timeline).current

    def action_follow(self) -> None:
        name = self.author.short
        self.toggle_follow(self.author, name)

    def after_write(self, message: MessageId) -> None:
        self._catch_up()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # As the "Me" view there is nothing to go back to: hide the key from the footer.
        return not (action == "back" and self.is_mode)

    def action_back(self) -> None:
        if not self.is_mode:
            self.app.pop_screen()

    @on(Timeline.Opened)
    def _opened(self, event: Timeline.Opened) -> None:
        self.open_thread(event.item)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
