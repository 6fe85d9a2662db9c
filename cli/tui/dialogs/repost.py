"""Repost: the message shown as it will be shared, then confirmed or cancelled."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from p2psocial.store.queries import Item

from ..widgets.items import render_item


class RepostScreen(ModalScreen[bool]):
    """Dismisses with True to repost ``item``, False to leave it."""

    BINDINGS = [  # noqa: RUF012 - Textual's declaration style
        Binding("enter,ctrl+s", "confirm", "Repost", priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),
    ]

    def __init__(self, item: Item) -> None:
        super().__init__()
        self.item = item

    def compose(self) -> ComposeResult:
        with Vertical(id="compose", classes="dialog"):
            yield Label(f"Repost {self.item.author_display}'s message?", id="compose-title")
            yield Label(render_item(self.item, actions=False), id="compose-context")
            yield Label(
                "Your followers see it in their home feed, with its author's name.",
                classes="hint",
            )
            with Horizontal(id="compose-bar"):
                yield Label("", id="compose-count")
                yield Button("Repost  ⏎", id="repost-confirm", variant="primary")
                yield Button("Cancel  esc", id="repost-cancel")

    @on(Button.Pressed, "#repost-confirm")
    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#repost-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
