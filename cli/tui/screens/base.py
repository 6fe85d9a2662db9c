"""What every main screen shares: the backend, live updates, actions on a message."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import work
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import ListView

from p2psocial.core.bodies import Kind
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.core.ranking import Hidden
from p2psocial.errors import P2PSocialError
from p2psocial.store.queries import Item

from ..dialogs.compose import ComposeScreen
from ..dialogs.confirm import ConfirmScreen
from ..dialogs.repost import RepostScreen
from ..dialogs.why import WhyScreen
from ..widgets.items import PagedList

if TYPE_CHECKING:
    from ..app import P2PSocialApp
    from ..backend import Backend

REACTION = "👍"
DELETABLE = frozenset({Kind.POST, Kind.REPLY, Kind.REPOST, Kind.REACTION})
DELETE_DONE = (
    "Asked every node to drop it. This node dropped the text; nodes that do not honour "
    "requests may keep a copy."
)


class BaseScreen(Screen[None]):
    """A screen of the app with access to its backend."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Here rather than on the app only, so that the footer shows them first.
        Binding("question_mark", "app.help", "Help"),
        Binding("n", "app.compose", "Post"),
    ]

    generation = -1
    """The app's event generation this screen last caught up with."""
    settings_generation = 0
    """The app's settings generation this screen last drew with."""
    moderation_seen = 0
    """The app's moderation generation this screen last read with."""

    @property
    def p2p(self) -> P2PSocialApp:
        return cast("P2PSocialApp", self.app)

    @property
    def backend(self) -> Backend:
        return self.p2p.backend

    _loaded = False
    _updating = False
    _again = False

    async def load_view(self) -> None:
        """Read what the view shows for the first time (screens override)."""

    async def refresh_live(self) -> None:
        """New messages were stored: show them (screens override)."""

    def on_screen_resume(self) -> None:
        if self._loaded and self.moderation_seen != self.p2p.moderation_generation:
            # The rules changed while hidden: read everything again (which draws anew).
            self.moderation_seen = self.p2p.moderation_generation
            self.settings_generation = self.p2p.settings_generation
            self.reload_view()
            return
        if self.settings_generation != self.p2p.settings_generation:
            self.settings_generation = self.p2p.settings_generation
            self.rerender()
        if self.generation != self.p2p.generation:
            self._catch_up()

    def reload_view(self) -> None:
        """Read the view again from scratch (as on its first showing)."""
        self._loaded = False
        self._catch_up()

    def _catch_up(self) -> None:
        """Bring the view up to date: one update at a time, never one cut off halfway.

        A request while an update runs makes that update run once more when it ends, so
        any number of requests costs at most one extra pass.
        """
        if self._updating:
            self._again = True
            return
        self._updating = True
        self._update()

    @work(group="live")
    async def _update(self) -> None:
        try:
            while True:
                self._again = False
                self.generation = self.p2p.generation
                try:
                    if self._loaded:
                        await self.refresh_live()
                    else:
                        self._loaded = True
                        self.moderation_seen = self.p2p.moderation_generation
                        await self.load_view()
                except P2PSocialError as exc:
                    self.notify(str(exc), title="Cannot show this", severity="error")
                if not self._again:
                    return
        finally:
            self._updating = False

    def rerender(self) -> None:
        """The display settings changed: draw every list again."""
        for lst in self.query(PagedList):
            lst.rerender()

    def open_profile(self, author: AuthorId) -> None:
        """Show anyone's profile (the owner's is the Me view)."""
        if author == self.backend.me:
            self.p2p.action_view("profile")
            return
        from .profile import ProfileScreen  # noqa: PLC0415 - the screens import each other

        self.app.push_screen(ProfileScreen(author))


class ItemScreen(BaseScreen):
    """A screen showing messages, with actions on the highlighted one.

    Every action also runs from a click on the words under a message (``on``).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reply", "Reply"),
        Binding("l", "react", "Like"),
        Binding("t", "repost", "Repost"),
        Binding("f", "follow", "Follow"),
        Binding("p", "profile", "Open the author's profile", show=False),
        Binding("c", "copy_id", "Copy the message id", show=False),
        Binding("h", "app.toggle_hidden", "Show hidden", show=False),
        Binding("w", "why", "Why is this here", show=False),
        Binding("x", "delete", "Delete my message", show=False),
    ]

    def current_item(self) -> Item | None:
        """The message the actions apply to (screens override)."""
        return None

    def select_key(self, key: str) -> Item | None:
        """Highlight the message with this key (an id) and return it (screens override)."""
        for lst in self.query(PagedList):
            entry = lst.select_key(key)
            if isinstance(entry, Item):
                return entry
        return None

    def action_on(self, action: str, key: str) -> None:
        """A click on a link under a message: highlight the message, then act on it."""
        reposted = key.startswith("reposted:")
        item = self.select_key(key.removeprefix("reposted:"))
        if item is None:
            return
        if action == "author":
            shown = item.reposted if reposted and item.reposted else item
            self.open_profile(shown.author)
        elif action == "open":
            self.open_thread(item)
        elif action == "reply":
            self.action_reply()
        elif action == "react":
            self.action_react()
        elif action == "repost":
            self.action_repost()

    def why_here(self, item: Item) -> list[str]:
        """Why this view shows ``item`` (screens say more)."""
        return [f"{self.sub_title or 'This view'} shows it."]

    def verdict_of(self, item: Item) -> Hidden | None:
        """The rule that hides ``item``, when the owner's rules hide it."""
        for lst in self.query(ListView):
            verdicts: dict[str, Hidden] = getattr(lst, "verdicts", {})
            if str(item.id) in verdicts:
                return verdicts[str(item.id)]
        return None

    def action_why(self) -> None:
        item = self.current_item()
        if item is None:
            self.notify("Nothing selected.", severity="warning")
            return
        lines = self.why_here(item)
        verdict = self.verdict_of(item)
        if verdict is not None:
            lines = [
                f"Hidden by your rules: {verdict.label} (rule: {verdict.rule}).",
                "It shows because hidden items are shown (h leaves them out)."
                if self.p2p.settings.show_hidden
                else "Its text stays masked; h shows hidden items.",
                "",
                *lines,
            ]
        if item.automated:
            lines.append(f"{item.author_display}'s profile says a program posts for it [bot].")
        self.app.push_screen(WhyScreen(item, lines))

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
        self._catch_up()

    def action_react(self) -> None:
        item = self._target()
        if item is not None:
            self._write(f"Liked {item.author_display}'s message.", "react", item.id)

    def action_repost(self) -> None:
        item = self._target()
        if item is None:
            return
        if item.kind not in (Kind.POST, Kind.REPLY):
            self.notify("Only posts and replies can be reposted.", severity="warning")
            return

        def chosen(confirmed: bool | None) -> None:
            if confirmed:
                self._write(f"Reposted {item.author_display}'s message.", "repost", item.id)

        self.app.push_screen(RepostScreen(item), chosen)

    def action_delete(self) -> None:
        item = self._target()
        if item is None:
            return
        if item.author != self.backend.me:
            self.notify("Only your own messages can be deleted.", severity="warning")
            return
        if item.kind not in DELETABLE:
            self.notify(
                "Follows and profiles are not deleted: a later one replaces them.",
                severity="warning",
            )
            return

        def chosen(confirmed: bool | None) -> None:
            if confirmed:
                self._write(DELETE_DONE, "delete", item.id)

        self.app.push_screen(
            ConfirmScreen(
                "Delete this message?",
                "A delete is a request: this node drops the text at once, and the request "
                "goes to every node. Nodes that honour requests drop it too, but a node that "
                "does not may keep a copy, and so may anyone who saved one.",
                confirm="Ask to delete",
            ),
            chosen,
        )

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
            if await self.backend.is_following(author):
                await self.backend.unfollow(author)
                self.notify(f"You no longer follow {name}.")
            else:
                await self.backend.follow(author)
                self.notify(f"You follow {name}: their posts join your home feed.")
        except P2PSocialError as exc:
            self.notify(str(exc), title="Failed", severity="error")
            return
        self.after_follow(author)

    def after_follow(self, author: AuthorId) -> None:
        """A follow or unfollow was written (screens may refresh at once)."""
        self._catch_up()

    @work(group="write")
    async def _write(self, done: str, what: str, target: MessageId) -> None:
        try:
            if what == "react":
                message = await self.backend.react(target, REACTION)
            elif what == "delete":
                message = await self.backend.delete(target)
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
            self.open_profile(item.author)

    def action_copy_id(self) -> None:
        item = self._target()
        if item is not None:
            self.app.copy_to_clipboard(str(item.id))
            self.notify(f"Copied {item.id.short} (full id) to the clipboard.")

    def action_open(self) -> None:
        item = self.current_item()
        if item is not None:
            self.open_thread(item)

    def open_thread(self, item: Item) -> None:
        from .thread import ThreadScreen  # noqa: PLC0415

        target = item.reposted if item.kind is Kind.REPOST and item.reposted else item
        if target.kind not in (Kind.POST, Kind.REPLY):
            self.notify("That is not part of a conversation.", severity="warning")
            return
        self.app.push_screen(ThreadScreen(target.id))
