"""Go to an author: type an id, its short form or any unique prefix of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from p2psocial.core.ids import AuthorId
from p2psocial.errors import P2PSocialError

Resolve = Callable[[str], Awaitable[AuthorId]]


class JumpScreen(ModalScreen[AuthorId | None]):
    """Dismisses with the author typed, or None when cancelled.

    A prefix that matches nobody or several authors is said under the field, and the
    dialog stays open.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", priority=True)]  # noqa: RUF012

    def __init__(self, resolve: Resolve) -> None:
        super().__init__()
        self._resolve = resolve

    def compose(self) -> ComposeResult:
        with Vertical(id="jump", classes="dialog"):
            yield Label("Go to an author", id="compose-title")
            yield Input(placeholder="p2sa1… (an id, its short form, or a prefix)", id="jump-id")
            yield Label("enter: open their profile · esc: cancel", id="jump-hint", classes="hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text:
            self._find(text)

    @work(exclusive=True)
    async def _find(self, text: str) -> None:
        hint = self.query_one("#jump-hint", Label)
        try:
            author = await self._resolve(text)
        except P2PSocialError as exc:
            hint.update(str(exc))
            hint.add_class("-error")
            return
        self.dismiss(author)

    def action_cancel(self) -> None:
        self.dismiss(None)
