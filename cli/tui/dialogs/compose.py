"""Write a post or a reply: a multi-line editor with a live byte count."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Label, TextArea

from p2psocial.core.ids import MessageId
from p2psocial.core.limits import MAX_TEXT_BYTES
from p2psocial.errors import P2PSocialError
from p2psocial.store.queries import Item

from ..widgets.items import render_item

Submit = Callable[[str], Awaitable[MessageId]]


def byte_count(text: str) -> int:
    """The size the protocol limits: UTF-8 bytes, not characters."""
    return len(text.encode("utf-8", "surrogatepass"))


class ComposeScreen(ModalScreen[MessageId | None]):
    """Returns the new message's id, or None when cancelled.

    The dialog stays open when sending fails (the error is a notification), so nothing
    typed is lost.
    """

    BINDINGS = [  # noqa: RUF012 - Textual's declaration style
        Binding("ctrl+s", "send", "Send", priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),
    ]

    def __init__(self, submit: Submit, *, replying_to: Item | None = None) -> None:
        super().__init__()
        self._submit = submit
        self.replying_to = replying_to
        self.sending = False

    def compose(self) -> ComposeResult:
        with Vertical(id="compose", classes="dialog"):
            replying_to = self.replying_to
            title = f"Reply to {replying_to.author_display}" if replying_to else "New post"
            yield Label(title, id="compose-title")
            if replying_to is not None:
                yield Label(render_item(replying_to, actions=False), id="compose-context")
            yield TextArea(id="compose-text", soft_wrap=True, show_line_numbers=False)
            with Horizontal(id="compose-bar"):
                yield Label("", id="compose-count")
                yield Button("Send  ^s", id="compose-send", variant="primary")
                yield Button("Cancel  esc", id="compose-cancel")

    def on_mount(self) -> None:
        self._update_count()
        self.query_one(TextArea).focus()

    @property
    def text(self) -> str:
        return self.query_one(TextArea).text

    @on(TextArea.Changed)
    def _update_count(self) -> None:
        size = byte_count(self.text)
        label = self.query_one("#compose-count", Label)
        label.update(f"{size} / {MAX_TEXT_BYTES} bytes")
        label.set_class(size > MAX_TEXT_BYTES, "-over")
        label.set_class(MAX_TEXT_BYTES - 100 < size <= MAX_TEXT_BYTES, "-near")

    @on(Button.Pressed, "#compose-send")
    def action_send(self) -> None:
        text = self.text.strip()
        if not text:
            self.notify("Nothing to send: write something first.", severity="warning")
            return
        size = byte_count(text)
        if size > MAX_TEXT_BYTES:
            self.notify(
                f"Too long: {size} bytes, the limit is {MAX_TEXT_BYTES}. Nothing was sent.",
                title="Not sent",
                severity="error",
            )
            return
        self._send(text)

    @work(exclusive=True, group="send")
    async def _send(self, text: str) -> None:
        if self.sending:
            return
        self.sending = True
        self._busy(True)
        try:
            message_id = await self._submit(text)
        except P2PSocialError as exc:
            self.notify(str(exc), title=f"Not sent ({exc.code})", severity="error", timeout=8)
            return
        finally:
            self.sending = False
            self._busy(False)
        self.dismiss(message_id)

    def _busy(self, busy: bool) -> None:
        widgets: Iterable[Widget] = (self.query_one("#compose-send"), self.query_one(TextArea))
        for widget in widgets:
            widget.disabled = busy

    @on(Button.Pressed, "#compose-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
