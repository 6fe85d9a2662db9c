"""What every main screen shares: the backend, and actions on the highlighted message."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import work
from textual.binding import Binding, BindingType
from textual.screen import Screen

from p2psocial.core.bodies import Kind
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.errors import P2PSocialError
from p2psocial.store.queries import Item

from ..dialogs.compose import ComposeScreen

if TYPE_CHECKING:
    from ..app import P2PSocialApp
    from ..backend import Backend

REACTION = "👍"


class BaseScreen(Screen[None]):
    """A screen of the app with access to its backend."""

    generation = -1
    """The app's event generation this screen last caught up with."""

    @property
    def p2p(self) -> P2PSocialApp:
        return cast("P2PSocialApp", self.app)

    @property
    def backend(self) -> Backend:
        return self.p2p.backend

    async def refresh_live(self) -> None:
        """New messages were stored: show them (screens override)."""

    def on_screen_resume(self) -> None:
        if self.generation != self.p2p.generation:
            self._catch_up()

    @work(exclusive=True, group="live")
    async def _catch_up(self) -> None:
        self.generation = self.p2p.generation
        await self.refresh_live()


class ItemScreen(BaseScreen):
    """A screen showing messages, with actions on the highlighted one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reply", "Reply"),
        Binding("l", "react", "Like"),
        Binding("t", "repost", "Repost"),
        Binding("f", "follow", "Follow"),
        Binding("p", "profile", "Profile"),
        Binding("c", "copy_id", "Copy id", show=False),
    ]

    def current_item(self) -> Item | None:
        """The message the actions apply to (screens override)."""
        return None

    def _target(self) -> Item | None:
        item = self.current_item()
        if item is None:
            self.notify("Nothing selected.", severity="warning")
            return None
        # Acting on a repost means acting on what was reposted, when it is held.
        if item.kind is Kind.REPOST and item.reposted is not None:
            return item.reposted
        return item

    def action_reply(self) -> None:
        item = self._target()
        if item is None:
            return
        if item.kind not in (Kind.POST, Kind.REPLY):
            self.notify("Only posts and replies can be answered.", severity="warning")
            return
        target = item.id

        async def submit(text: str) -> MessageId:
            return await self.backend.reply(target, text)

        self.app.push_screen(ComposeScreen(submit, replying_to=item), self._replied)

    def _replied(self, message: MessageId | None) -> None:
        if message is not None:
            self.notify(f"Replied ({message.short}).")
            self.after_write(message)

    def after_write(self, message: MessageId) -> None:
        """Something was written from this screen (screens may refresh at once)."""

    def action_react(self) -> None:
        item = self._target()
        if item is not None:
            self._write(f"Liked {item.author_display}'s message.", "react", item.id)

    def action_repost(self) -> None:
        item = self._target()
        if item is not None:
            self._write(f"Reposted {item.author_display}'s message.", "repost", item.id)

    def action_follow(self) -> None:
        item = self._target()
        if item is not None:
            self.toggle_follow(item.author, item.author_display)

    @work(group="write")
    async def toggle_follow(self, author: AuthorId, name: str) -> None:
        if author == self.backend.me:
            self.notify("That is you.", severity="warning")
            return
        try:
            following = {info.id for info in await self.backend.following(self.backend.me)}
            if author in following:
                await self.backend.unfollow(author)
                self.notify(f"You no longer follow {name}.")
            else:
                await self.backend.follow(author)
                self.notify(f"You follow {name}: their posts join your home feed.")
        except P2PSocialError as exc:
            self.notify(str(exc), title="Failed", severity="error")

    @work(group="write")
    async def _write(self, done: str, what: str, target: MessageId) -> None:
        try:
            if what == "react":
                message = await self.backend.react(target, REACTION)
            else:
                message = await self.backend.repost(target)
        except P2PSocialError as exc:
            self.notify(str(exc), title="Failed", severity="error")
            return
        self.notify(done)
        self.after_write(message)

    def action_profile(self) -> None:
        item = self._target()
        if item is not None:
            from .profile import ProfileScreen  # noqa: PLC0415 - the screens import each other

            self.app.push_screen(ProfileScreen(item.author))

    def action_copy_id(self) -> None:
        item = self._target()
        if item is not None:
            self.app.copy_to_clipboard(str(item.id))
            self.notify(f"Copied {item.id.short} (full id) to the clipboard.")

    def open_thread(self, item: Item) -> None:
        from .thread import ThreadScreen  # noqa: PLC0415

        target = item.reposted if item.kind is Kind.REPOST and item.reposted else item
        if target.kind not in (Kind.POST, Kind.REPLY):
            self.notify("That is not part of a conversation.", severity="warning")
            return
        self.app.push_screen(ThreadScreen(target.id))
