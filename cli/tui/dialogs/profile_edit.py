"""Edit your profile: the name and bio everyone sees beside your posts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from p2psocial.core.ids import MessageId
from p2psocial.core.limits import MAX_BIO_BYTES, MAX_NAME_BYTES
from p2psocial.errors import P2PSocialError

Save = Callable[[str, str], Awaitable[MessageId]]


class ProfileEditScreen(ModalScreen[MessageId | None]):
    """Dismisses with the new profile message's id, or None when cancelled.

    A failure is a notification and the dialog stays open with what was typed.
    """

    BINDINGS = [  # noqa: RUF012
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),
    ]

    def __init__(self, save: Save, *, name: str, bio: str) -> None:
        super().__init__()
        self._save = save
        self._name = name
        self._bio = bio

    def compose(self) -> ComposeResult:
        with Vertical(id="compose", classes="dialog"):
            yield Label("Your profile", id="compose-title")
            yield Label("Name", classes="hint")
            yield Input(self._name, placeholder="how people see you", id="profile-name")
            yield Label("Bio", classes="hint")
            yield Input(self._bio, placeholder="a line about you", id="profile-bio")
            yield Label(
                "Published as a signed message: every node that holds it shows the new one.",
                classes="hint",
            )
            with Horizontal(id="compose-bar"):
                yield Label("", id="compose-count")
                yield Button("Save  ^s", id="profile-save", variant="primary")
                yield Button("Cancel  esc", id="profile-cancel")

    def on_mount(self) -> None:
        self.query_one("#profile-name").focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#profile-save")
    def action_save(self) -> None:
        name = self.query_one("#profile-name", Input).value.strip()
        bio = self.query_one("#profile-bio", Input).value.strip()
        if len(name.encode()) > MAX_NAME_BYTES:
            self.notify(f"The name is longer than {MAX_NAME_BYTES} bytes.", severity="error")
            return
        if len(bio.encode()) > MAX_BIO_BYTES:
            self.notify(f"The bio is longer than {MAX_BIO_BYTES} bytes.", severity="error")
            return
        self._send(name, bio)

    @work(exclusive=True)
    async def _send(self, name: str, bio: str) -> None:
        try:
            message = await self._save(name, bio)
        except P2PSocialError as exc:
            self.notify(str(exc), title=f"Not saved ({exc.code})", severity="error", timeout=8)
            return
        self.dismiss(message)

    @on(Button.Pressed, "#profile-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
