"""The real ``p2psocial tui`` in a real terminal (tmux): first run, a post typed on the
keyboard, quit; then the post is in the log, read back by ``p2psocial timeline --json``.

Skipped, saying so, only where tmux is not installed. Every wait polls the screen
(``tmux capture-pane``) against a deadline; there are no fixed sleeps.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli.test_cli import script, scrubbed_env

DEADLINE = 45.0
WIDTH, HEIGHT = 100, 30


class Terminal:
    """One tmux session on a private server socket, running one command."""

    def __init__(self, tmux: str, socket: Path, env: dict[str, str]) -> None:
        self.base = [tmux, "-S", str(socket)]
        self.env = env

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.base, *args], capture_output=True, text=True, env=self.env, check=check
        )

    def start(self, command: str) -> None:
        self.tmux("new-session", "-d", "-s", "app", "-x", str(WIDTH), "-y", str(HEIGHT), command)

    def screen(self, *, styles: bool = False) -> str:
        """The screen's text (with its colours and attributes as escapes if ``styles``)."""
        flags = ["-p", "-e"] if styles else ["-p"]
        return self.tmux("capture-pane", *flags, "-t", "app", check=False).stdout

    def styled_line(self, text: str) -> str:
        """The screen line holding ``text``, with its styles (they show what has focus)."""
        return next((line for line in self.screen(styles=True).splitlines() if text in line), "")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "app", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "app", "-l", text)

    def running(self) -> bool:
        return self.tmux("has-session", "-t", "app", check=False).returncode == 0

    def wait(self, condition: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + DEADLINE
        while True:
            screen = self.screen()
            if condition(screen):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not on the screen within {DEADLINE} s; it shows:\n{screen}")
            time.sleep(0.05)

    def wait_for_text(self, text: str) -> str:
        return self.wait(lambda screen: text in screen, repr(text))


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not installed (apt-get install tmux): the real-terminal test needs it")
    env = scrubbed_env(tmp_path / "user", {"TERM": "xterm-256color"})
    (tmp_path / "user").mkdir()
    term = Terminal(tmux, tmp_path / "tmux.sock", env)
    yield term
    term.tmux("kill-server", check=False)


def test_first_run_post_and_quit_in_a_real_terminal(terminal: Terminal, tmp_path: Path) -> None:
    home = tmp_path / "home"
    status = tmp_path / "exit-status"
    terminal.start(f"{script()} --home {home} tui --no-network; echo $? > {status}")

    # First run: the welcome screen creates the identity (no passphrase: untick the box).
    terminal.wait_for_text("Create my identity")
    terminal.type("zoe")
    terminal.wait_for_text("zoe ")
    box = "Encrypt my key"
    unfocused = terminal.styled_line(box)
    terminal.keys("Tab")
    terminal.wait(lambda _: terminal.styled_line(box) != unfocused, "the box focused")
    terminal.keys("Space")
    terminal.wait(lambda screen: "passphrase again" not in screen, "the passphrase fields gone")
    terminal.keys("BTab")
    terminal.keys("Enter")
    terminal.wait_for_text("Nothing here yet")

    # A post, typed on the keyboard, over two lines.
    terminal.keys("n")
    terminal.wait_for_text("New post")
    terminal.type("typed in a real terminal")
    terminal.keys("Enter")
    terminal.type("second line #tmux")
    terminal.wait_for_text("42 / 2048 bytes")
    terminal.keys("C-s")
    screen = terminal.wait(
        lambda s: "typed in a real terminal" in s and "New post" not in s, "the post in Home"
    )
    assert "zoe" in screen

    # Quit: the app exits cleanly and gives the terminal back.
    terminal.keys("q")
    deadline = time.monotonic() + DEADLINE
    while terminal.running() or not status.exists():
        assert time.monotonic() < deadline, "the app did not quit"
        time.sleep(0.05)
    assert status.read_text().strip() == "0"

    # The post is in the log: read back through the command line.
    result = subprocess.run(
        [script(), "--home", str(home), "timeline", "--json"],
        capture_output=True,
        text=True,
        env=scrubbed_env(tmp_path / "user"),
        check=True,
        timeout=DEADLINE,
    )
    items = json.loads(result.stdout)
    assert [item["text"] for item in items] == ["typed in a real terminal\nsecond line #tmux"]
    assert items[0]["author_name"] == "zoe"
