"""First run: create the identity; and unlocking an encrypted one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Markdown

from p2psocial import keystore
from p2psocial.core.limits import MAX_NAME_BYTES
from p2psocial.errors import P2PSocialError
from p2psocial.node import init_home

INTRO = (
    "[b]Welcome to p2psocial.[/b] Your posts are signed with a key that lives only in "
    "[b]{home}[/b]; there is no server."
)

PEERS = """\
**Meeting peers.** Nodes on your local network find each other by themselves (mDNS).
To reach anyone else, open *Network* (key `6`), copy your address (`c`) and give it to a
friend, or paste theirs under *Add a peer*. Your name and passphrase are optional: a
passphrase encrypts your key on disk and is asked each time the app starts.
"""


@dataclass(frozen=True, slots=True)
class Created:
    """The identity was created."""

    name: str
    passphrase: str | None


class WelcomeScreen(Screen[Created]):
    """Create an identity in an empty home; dismisses with :class:`Created`."""

    BINDINGS = [Binding("ctrl+q", "app.quit", "Quit")]  # noqa: RUF012

    def __init__(self, home: Path) -> None:
        super().__init__()
        self.home = home

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="welcome"):
            yield Label(INTRO.format(home=self.home), id="welcome-intro")
            with Vertical(id="welcome-form"):
                yield Label("Display name (optional)")
                yield Input(placeholder="e.g. alice", id="welcome-name", max_length=64)
                yield Checkbox("Encrypt my key with a passphrase", True, id="welcome-encrypt")
                yield Input(placeholder="passphrase", password=True, id="welcome-pass")
                yield Input(placeholder="passphrase again", password=True, id="welcome-pass2")
                with Horizontal(classes="buttons"):
                    yield Button("Create my identity", id="welcome-create", variant="primary")
            yield Markdown(PEERS, id="welcome-peers")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#welcome-name").focus()

    @on(Checkbox.Changed, "#welcome-encrypt")
    def _encrypt_changed(self, event: Checkbox.Changed) -> None:
        for selector in ("#welcome-pass", "#welcome-pass2"):
            self.query_one(selector, Input).display = event.value

    @on(Input.Submitted)
    @on(Button.Pressed, "#welcome-create")
    def _create(self) -> None:
        name = self.query_one("#welcome-name", Input).value.strip()
        passphrase: str | None = None
        if self.query_one("#welcome-encrypt", Checkbox).value:
            passphrase = self.query_one("#welcome-pass", Input).value
            again = self.query_one("#welcome-pass2", Input).value
            if not passphrase:
                self.notify("Type a passphrase, or untick the box to store the key unencrypted.")
                self.query_one("#welcome-pass").focus()
                return
            if passphrase != again:
                self.notify("The passphrases do not match.", severity="error")
                self.query_one("#welcome-pass2", Input).value = ""
                self.query_one("#welcome-pass2").focus()
                return
        if len(name.encode()) > MAX_NAME_BYTES:
            self.notify(f"The name is longer than {MAX_NAME_BYTES} bytes.", severity="error")
            return
        self._init(name, passphrase)

    @work(exclusive=True)
    async def _init(self, name: str, passphrase: str | None) -> None:
        button = self.query_one("#welcome-create", Button)
        button.disabled = True
        button.label = "Creating…"
        try:
            await asyncio.to_thread(init_home, self.home, passphrase=passphrase)
        except P2PSocialError as exc:
            self.notify(str(exc), title="Could not create the identity", severity="error")
            button.disabled = False
            button.label = "Create my identity"
            return
        self.dismiss(Created(name, passphrase))


class UnlockScreen(Screen[str | None]):
    """Ask for the passphrase of an encrypted key; dismisses with it, or None (read-only)."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape", "skip", "Read only"),
        Binding("ctrl+q", "app.quit", "Quit"),
    ]

    def __init__(self, home: Path) -> None:
        super().__init__()
        self.home = home

    def compose(self) -> ComposeResult:
        with Vertical(id="unlock"):
            yield Label("Your key is encrypted. Passphrase:", id="unlock-title")
            yield Input(password=True, id="unlock-pass")
            yield Label("esc: continue without it (you can read, not post)", classes="hint")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self._check(event.value)

    @work(exclusive=True)
    async def _check(self, passphrase: str) -> None:
        field = self.query_one(Input)
        field.disabled = True
        try:
            await asyncio.to_thread(keystore.unlock, self.home, passphrase)
        except P2PSocialError as exc:
            self.notify(str(exc), title="Not unlocked", severity="error")
            field.value = ""
            return
        finally:
            field.disabled = False
            field.focus()
        self.dismiss(passphrase)

    def action_skip(self) -> None:
        self.dismiss(None)
