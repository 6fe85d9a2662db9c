"""Why is this here: the reasons that put a message where it is, in words and numbers."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from p2psocial.store.queries import Item

from ..widgets.items import render_item


class WhyScreen(ModalScreen[None]):
    """The highlighted message, then one line per reason (any key that closes it)."""

    BINDINGS = [  # noqa: RUF012 - Textual's declaration style
        Binding("escape,enter,w,q", "close", "Close", priority=True),
    ]

    def __init__(self, item: Item, reasons: list[str]) -> None:
        super().__init__()
        self.item = item
        self.reasons = reasons

    def compose(self) -> ComposeResult:
        with Vertical(id="compose", classes="dialog"):
            yield Label("Why is this here?", id="compose-title")
            yield Label(render_item(self.item, actions=False), id="compose-context")
            with VerticalScroll(id="why-reasons"):
                yield Label("\n".join(self.reasons), id="why-text")
            with Horizontal(id="compose-bar"):
                yield Label("", id="compose-count")
                yield Button("Close  esc", id="why-close")

    @on(Button.Pressed, "#why-close")
    def action_close(self) -> None:
        self.dismiss(None)
