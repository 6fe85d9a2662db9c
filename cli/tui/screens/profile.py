"""An author: profile card, actions, and their posts, followers and following."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Header, Label, TabbedContent, TabPane

from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.errors import P2PSocialError
from p2psocial.store.queries import AuthorInfo, Cursor, Item

from ..dialogs.confirm import ConfirmScreen
from ..dialogs.profile_edit import ProfileEditScreen
from ..widgets.items import PagedList, PersonList, Timeline, bot_tag
from .base import ItemScreen

PEOPLE_SHOWN = 500
"""Followers and following lists show at most this many (the count says how many)."""


class ProfileScreen(ItemScreen):
    """Anyone's profile. ``f`` follows or unfollows *them* (not the highlighted author).

    ``#profile-actions`` holds the buttons acting on this author (follow, mute, block, or
    edit for the owner); more actions on an author belong there. Muting is private (a
    local setting); blocking publishes a signed message, so it asks first.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "back", "Back"),
        Binding("f", "follow", "Follow"),
        Binding("e", "edit", "Edit profile"),
        Binding("m", "mute", "Mute"),
        Binding("b", "block", "Block"),
        Binding("right_square_bracket", "tab(1)", "Next tab", show=False),
        Binding("left_square_bracket", "tab(-1)", "Previous tab", show=False),
    ]

    def __init__(self, author: AuthorId, *, is_mode: bool = False) -> None:
        super().__init__()
        self.author = author
        self.is_mode = is_mode
        self.info: AuthorInfo | None = None
        self.following_them: bool | None = None
        self.muted = False
        self.blocked = False
        self.followers = 0
        self.following = 0

    @property
    def is_me(self) -> bool:
        return self.author == self.backend.me

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="profile-head"):
            yield Label("", id="profile-card")
            with Horizontal(id="profile-actions"):
                if self.is_me:
                    yield Button("Edit profile (e)", id="profile-edit", compact=True)
                else:
                    yield Button("Follow (f)", id="profile-follow", variant="primary", compact=True)
                    yield Button("Mute (m)", id="profile-mute", compact=True)
                    yield Button("Block (b)", id="profile-block", compact=True)
        with TabbedContent(id="profile-tabs"):
            with TabPane("Posts", id="tab-posts"):
                yield Timeline(
                    self._load,
                    names_of=self.backend.names_of,
                    id="timeline",
                    empty="No posts of theirs held yet.",
                    policy=self.backend.policy,
                )
            with TabPane("Followers", id="tab-followers"):
                yield PersonList(
                    self._followers, page=PEOPLE_SHOWN + 1, id="followers", empty="Nobody yet."
                )
            with TabPane("Following", id="tab-following"):
                yield PersonList(
                    self._following, page=PEOPLE_SHOWN + 1, id="following", empty="Nobody yet."
                )
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Me" if self.is_me else "Profile"
        self._catch_up()

    async def _load(self, before: Cursor | None) -> list[Item]:
        return await self.backend.timeline(f"author:{self.author}", before=before)

    async def _followers(self, before: Cursor | None) -> list[AuthorInfo]:
        return (await self.backend.followers(self.author))[:PEOPLE_SHOWN]

    async def _following(self, before: Cursor | None) -> list[AuthorInfo]:
        return (await self.backend.following(self.author))[:PEOPLE_SHOWN]

    async def load_view(self) -> None:
        try:
            await self.refresh_card()
            await self.query_one(Timeline).reload()
            await self.query_one("#followers", PersonList).reload()
            await self.query_one("#following", PersonList).reload()
        finally:
            self.query_one(Timeline).focus()

    async def refresh_card(self) -> None:
        backend = self.backend
        info = await backend.author(self.author)
        followers = await backend.followers(self.author)
        following = await backend.following(self.author)
        self.info = info
        self.followers, self.following = len(followers), len(following)
        self.following_them = False if self.is_me else await backend.is_following(self.author)
        policy = await backend.policy()
        self.muted = self.author in policy.muted
        self.blocked = self.author in policy.blocked
        card = Text()
        card.append(info.display_name if info else self.author.short, style="bold")
        if info and info.automated:
            bot_tag(card)
            card.append("  a program posts for this account", style="dim")
        if self.is_me:
            card.append("  (you)", style="dim")
        elif self.following_them:
            card.append("  ✓ following", style="bold green")
        if self.muted:
            card.append("  muted (only you know)", style="bold yellow")
        if self.blocked:
            card.append("  blocked (published)", style="bold red")
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
        tabs = self.query_one(TabbedContent)
        tabs.get_tab("tab-followers").label = f"Followers ({self.followers})"
        tabs.get_tab("tab-following").label = f"Following ({self.following})"
        if not self.is_me:
            button = self.query_one("#profile-follow", Button)
            button.label = "Unfollow (f)" if self.following_them else "Follow (f)"
            button.variant = "default" if self.following_them else "primary"
            self.query_one("#profile-mute", Button).label = (
                "Unmute (m)" if self.muted else "Mute (m)"
            )
            self.query_one("#profile-block", Button).label = (
                "Unblock (b)" if self.blocked else "Block (b)"
            )

    async def refresh_live(self) -> None:
        await self.refresh_card()
        await self.query_one(Timeline).refresh_top()
        await self.query_one("#followers", PersonList).reload()
        await self.query_one("#following", PersonList).reload()

    def current_item(self) -> Item | None:
        return self.query_one(Timeline).current

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # As the "Me" view there is nothing to go back to; only the owner edits a profile;
        # nobody follows themselves.
        if action == "back":
            return not self.is_mode
        if action == "edit":
            return self.is_me
        if action in ("follow", "mute", "block"):
            return not self.is_me
        return True

    @on(Button.Pressed, "#profile-follow")
    def action_follow(self) -> None:
        name = self.info.display_name if self.info else self.author.short
        self.toggle_follow(self.author, name)

    @property
    def name_shown(self) -> str:
        return self.info.display_name if self.info else self.author.short

    @on(Button.Pressed, "#profile-mute")
    def action_mute(self) -> None:
        if not self.is_me:
            self._moderate("unmute" if self.muted else "mute")

    @on(Button.Pressed, "#profile-block")
    def action_block(self) -> None:
        if self.is_me:
            return
        if self.blocked:
            self._moderate("unblock")
            return

        def chosen(confirmed: bool | None) -> None:
            if confirmed:
                self._moderate("block")

        name = self.name_shown
        self.app.push_screen(
            ConfirmScreen(
                f"Block {name}?",
                "This is published: a signed block message goes out, and anyone can see "
                f"that you block {name}. Your node stops storing and relaying their "
                "messages' bodies, and their posts are hidden everywhere you read "
                "(labelled “blocked”; h shows them). Unblock undoes it. To hide them "
                "without telling anyone, mute instead (m).",
                confirm="Block and publish",
            ),
            chosen,
        )

    @work(group="write")
    async def _moderate(self, what: str) -> None:
        name, backend = self.name_shown, self.backend
        try:
            if what == "mute":
                await backend.mute(self.author)
                done = f"Muted {name}: their messages are hidden from you (only you know)."
            elif what == "unmute":
                await backend.unmute(self.author)
                done = f"Unmuted {name}: their messages show again."
            elif what == "block":
                await backend.block(self.author)
                done = f"Blocked {name}: a signed block message was published."
            else:
                await backend.unblock(self.author)
                done = f"Unblocked {name}: an unblock message was published."
        except P2PSocialError as exc:
            self.notify(str(exc), title="Failed", severity="error")
            return
        self.notify(done)
        self.p2p.moderation_changed()

    @on(Button.Pressed, "#profile-edit")
    def action_edit(self) -> None:
        if not self.is_me:
            return

        async def save(name: str, bio: str) -> MessageId:
            return await self.backend.set_profile(name, bio)

        name = (self.info.name if self.info else None) or ""
        bio = (self.info.bio if self.info else None) or ""
        self.app.push_screen(ProfileEditScreen(save, name=name, bio=bio), self._edited)

    def _edited(self, message: MessageId | None) -> None:
        if message is not None:
            self.notify("Profile published.")
            self._catch_up()

    def action_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        order = ["tab-posts", "tab-followers", "tab-following"]
        current = order.index(tabs.active) if tabs.active in order else 0
        tabs.active = order[(current + step) % len(order)]

    def action_back(self) -> None:
        if not self.is_mode:
            self.app.pop_screen()

    @on(PagedList.Opened)
    def _opened(self, event: PagedList.Opened) -> None:
        if isinstance(event.entry, AuthorInfo):
            self.open_profile(event.entry.id)
        else:
            self.open_thread(event.entry)

    def action_on(self, action: str, key: str) -> None:
        if action == "author" and AuthorId.looks_like(key):
            self.open_profile(AuthorId.parse(key))
            return
        super().action_on(action, key)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
