"""A yes-or-no question whose answer has consequences the dialog spells out."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True to go ahead, False to leave things as they are."""

    BINDINGS = [  # noqa: RUF012 - Textual's declaration style
        Binding("enter,ctrl+s", "confirm", "Confirm", priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),
    ]

    def __init__(self, title: str, explanation: str, *, confirm: str) -> None:
        super().__init__()
        self.title_text = title
        self.explanation = explanation
        self.confirm_text = confirm

    def compose(self) -> ComposeResult:
        with Vertical(id="compose", classes="dialog"):
            yield Label(self.title_text, id="compose-title")
            yield Label(self.explanation, id="confirm-explanation", classes="hint")
            with Horizontal(id="compose-bar"):
                yield Label("", id="compose-count")
                yield Button(f"{self.confirm_text}  ⏎", id="confirm-yes", variant="error")
                yield Button("Cancel  esc", id="confirm-no")

    @on(Button.Pressed, "#confirm-yes")
    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def action_cancel(self) -> None:
        self.dismiss(False)
