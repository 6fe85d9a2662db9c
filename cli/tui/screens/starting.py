"""Shown while the node opens."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Footer, Label, LoadingIndicator


class StartingScreen(Screen[None]):
    def failed(self, why: str) -> None:
        """Opening failed: say why instead of spinning."""
        self.query_one(LoadingIndicator).display = False
        self.query_one("#starting-label", Label).update(why)

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Label("Opening your node…", id="starting-label")
            yield LoadingIndicator()
        yield Footer(compact=True, show_command_palette=False)
