"""Snapshots of every main view and dialog at 80x24 and at 160x48, in the dark theme, and
of the main ones in the light theme, from a deterministic backend.

Update after an intended change of looks: ``pytest tests/tui/test_snapshots.py
--snapshot-update``, then review the SVGs under ``__snapshots__``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from p2psocial_cli.tui.app import P2PSocialApp
from p2psocial_cli.tui.settings import DARK, LIGHT, Settings
from textual.pilot import Pilot

from .fakes import FakeBackend

SnapCompare = Callable[..., bool]
WIDE = (160, 48)

VIEWS: dict[str, tuple[str, ...]] = {
    "home": (),
    "global": ("2",),
    "thread": ("down", "down", "down", "enter"),
    "notifications": ("3",),
    "me": ("4",),
    "profile": ("down", "p"),
    "search": ("5", *"pi", "enter"),
    "network": ("6",),
    "settings": ("7",),
    "help": ("question_mark",),
    "compose": ("n",),
    "reply": ("down", "r"),
    "repost": ("down", "t"),
    "jump": ("g",),
}
LIGHT_VIEWS = ("home", "thread", "notifications", "profile", "settings", "compose")


HOME = Path(tempfile.gettempdir()) / "p2psocial-snapshot-home"
"""A fixed home, since the Settings view shows its path."""


def app(tmp_path: Path, theme: str) -> P2PSocialApp:
    shutil.rmtree(HOME, ignore_errors=True)
    HOME.mkdir(mode=0o700)
    return P2PSocialApp(HOME, network=False, backend=FakeBackend(), settings=Settings(theme=theme))


async def _settled(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, P2PSocialApp)
    while not app.ready.is_set() or app.screen.query("LoadingIndicator"):
        await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def _then(*keys: str) -> Callable[[Pilot[Any]], Any]:
    async def before(pilot: Pilot[Any]) -> None:
        await _settled(pilot)
        for key in keys:
            await pilot.press(key)
            await _settled(pilot)
        await pilot.pause(0.1)  # let a dialog's or a list's last update land
        await _settled(pilot)

    return before


@pytest.mark.parametrize("size", [(80, 24), WIDE], ids=["80x24", "160x48"])
@pytest.mark.parametrize("view", list(VIEWS))
def test_view(snap_compare: SnapCompare, tmp_path: Path, view: str, size: tuple[int, int]) -> None:
    keys: Sequence[str] = VIEWS[view]
    assert snap_compare(app(tmp_path, DARK), terminal_size=size, run_before=_then(*keys))


@pytest.mark.parametrize("size", [(80, 24), WIDE], ids=["80x24", "160x48"])
@pytest.mark.parametrize("view", ["home", "global", "notifications"])
def test_newcomer(
    snap_compare: SnapCompare, tmp_path: Path, view: str, size: tuple[int, int]
) -> None:
    """What a new user sees before meeting anyone: each empty view says what to do."""
    shutil.rmtree(HOME, ignore_errors=True)
    HOME.mkdir(mode=0o700)
    newcomer = P2PSocialApp(HOME, network=False, backend=FakeBackend(empty=True))
    assert snap_compare(newcomer, terminal_size=size, run_before=_then(*VIEWS[view]))


@pytest.mark.parametrize("view", LIGHT_VIEWS)
def test_light(snap_compare: SnapCompare, tmp_path: Path, view: str) -> None:
    assert snap_compare(
        app(tmp_path, LIGHT), terminal_size=(80, 24), run_before=_then(*VIEWS[view])
    )
