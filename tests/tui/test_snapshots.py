"""Snapshots of the main views at 80x24 and at a wide size, from a deterministic backend.

Update after an intended change of looks: ``pytest tests/tui/test_snapshots.py
--snapshot-update``, then review the SVGs under ``__snapshots__``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from p2psocial_cli.tui.app import P2PSocialApp
from textual.pilot import Pilot

from .fakes import FakeBackend

SnapCompare = Callable[..., bool]
WIDE = (140, 36)


def app(tmp_path: Path) -> P2PSocialApp:
    return P2PSocialApp(tmp_path / "unused", network=False, backend=FakeBackend())


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

    return before


@pytest.mark.parametrize("size", [(80, 24), WIDE], ids=["80x24", "wide"])
@pytest.mark.parametrize(
    "keys",
    [(), ("2",), ("down", "down", "down", "enter"), ("3",), ("4",), ("n",), ("down", "r")],
    ids=["home", "global", "thread", "profile", "network", "compose", "reply"],
)
def test_view(
    snap_compare: SnapCompare, tmp_path: Path, keys: Sequence[str], size: tuple[int, int]
) -> None:
    assert snap_compare(app(tmp_path), terminal_size=size, run_before=_then(*keys))
