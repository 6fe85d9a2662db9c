"""The keys of the view under it, the app's keys, and how the mouse works."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label

MOUSE = (
    "Mouse: click a message to open its conversation, a name to open a profile, the "
    "words under a message (reply · like · repost · thread) to act on it, and any key "
    "in the footer to press it. The wheel scrolls; lists load more as you reach the end."
)


class HelpScreen(ModalScreen[None]):
    """Built from the bindings active where it was opened, so it never goes stale."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape,question_mark,q", "close", "Close", priority=True),
    ]

    def __init__(self, title: str, sections: Iterable[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.view_title = title
        self.sections = [(name, rows) for name, rows in sections if rows]

    def compose(self) -> ComposeResult:
        with Vertical(id="help", classes="dialog"):
            yield Label(f"Keys · {self.view_title}", id="compose-title")
            with VerticalScroll(id="help-body"):
                for name, rows in self.sections:
                    yield Label(name, classes="help-section")
                    text = Text()
                    width = max(len(key) for key, _ in rows)
                    for n, (key, description) in enumerate(rows):
                        if n:
                            text.append("\n")
                        text.append(key.rjust(width), style="bold")
                        text.append(f"  {description}")
                    yield Label(text, classes="help-keys")
                yield Label(MOUSE, classes="hint help-mouse")
            yield Label("esc or ? closes this · ctrl+p searches every command", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
