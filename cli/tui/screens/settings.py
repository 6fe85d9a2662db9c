"""Settings: how the app looks. Each change applies at once and is saved."""

from __future__ import annotations

from dataclasses import replace

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Header, Label, RadioButton, RadioSet, Switch

from ..settings import DARK, LIGHT, SETTINGS_FILENAME, Settings
from .base import BaseScreen

SWITCHES = (
    ("show_ids", "Show each author's short id beside their name (names are not unique)"),
    ("compact", "Compact lists: no blank line between messages"),
    ("toasts", "Pop up a note when messages arrive from the network"),
    ("show_hidden", "Show what your moderation rules hide, labelled with the rule (h)"),
)


class SettingsScreen(BaseScreen):
    """Theme, how times read, what each message shows."""

    def compose(self) -> ComposeResult:
        settings = self.p2p.settings
        yield Header()
        with VerticalScroll(id="settings"):
            yield Label("Theme", classes="settings-title")
            with RadioSet(id="settings-theme"):
                yield RadioButton("Dark", value=settings.theme == DARK, id="theme-dark")
                yield RadioButton("Light", value=settings.theme == LIGHT, id="theme-light")
            yield Label(
                "More themes: ctrl+p, then “theme”; the one you pick is kept too.", classes="hint"
            )
            yield Label("Times", classes="settings-title")
            with RadioSet(id="settings-times"):
                yield RadioButton(
                    "Relative: now, 5m, 3h, 2d", value=settings.times == "relative", id="times-rel"
                )
                yield RadioButton(
                    "Absolute: 2024-05-01 14:03 (your local time)",
                    value=settings.times == "absolute",
                    id="times-abs",
                )
            yield Label("Display", classes="settings-title")
            for name, text in SWITCHES:
                with Horizontal(classes="settings-switch"):
                    yield Switch(value=bool(getattr(settings, name)), id=f"set-{name}")
                    yield Label(text)
            yield Label(
                f"Saved in {self.p2p.home / SETTINGS_FILENAME}. The node's own settings "
                "(listen addresses, peers, mDNS) live in config.toml beside it.",
                classes="hint",
                id="settings-where",
            )
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Settings"
        self.query_one("#settings-theme").focus()

    def on_screen_resume(self) -> None:
        # The theme may have been changed from the command palette meanwhile.
        theme = self.p2p.settings.theme
        self.query_one("#theme-dark", RadioButton).value = theme == DARK
        self.query_one("#theme-light", RadioButton).value = theme == LIGHT

    @on(RadioSet.Changed, "#settings-theme")
    def _theme(self, event: RadioSet.Changed) -> None:
        self.app.theme = DARK if event.pressed.id == "theme-dark" else LIGHT

    @on(RadioSet.Changed, "#settings-times")
    def _times(self, event: RadioSet.Changed) -> None:
        self._change(times="relative" if event.pressed.id == "times-rel" else "absolute")

    @on(Switch.Changed)
    def _switch(self, event: Switch.Changed) -> None:
        name = (event.switch.id or "").removeprefix("set-")
        if name in {n for n, _ in SWITCHES}:
            self._change(**{name: event.value})

    def _change(self, **values: object) -> None:
        settings: Settings = replace(self.p2p.settings, **values)  # type: ignore[arg-type]
        self.p2p.apply_settings(settings)
