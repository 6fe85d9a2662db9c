"""Helpers for the terminal app's tests.

The app runs on asyncio (Textual) with the node on trio in guest mode, so these tests are
plain functions that call :func:`run` (pytest-trio's trio mode does not apply to them).
Every test has a deadline; waiting is for conditions, never for fixed times.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import trio
from p2psocial_cli.tui.app import P2PSocialApp
from textual.pilot import Pilot

from p2psocial.core.message import Message
from p2psocial.node import init_home, open_node
from tests.factories import ChainBuilder

DEADLINE = 20.0
SIZE = (80, 24)


_waiting: list[str] = []


def run(test: Callable[[], Awaitable[None]], deadline: float = DEADLINE) -> None:
    """Run an async test on a fresh asyncio loop, failing after ``deadline`` seconds
    (and saying which :func:`wait_for` was still waiting)."""

    async def bounded() -> None:
        async with asyncio.timeout(deadline):
            await test()

    _waiting.clear()
    try:
        asyncio.run(bounded())
    except TimeoutError:
        pytest.fail(f"not within {deadline} s: waiting for {_waiting[-1:] or 'nothing'}")


async def wait_for(pilot: Pilot[Any], condition: Callable[[], object], what: str) -> None:
    """Let the app work until ``condition()`` holds (the test's deadline bounds it)."""
    _waiting.append(what)
    while not condition():
        await pilot.pause()
        await asyncio.sleep(0.01)  # yield to trio's guest ticks and worker threads
    _waiting.pop()


async def ready(pilot: Pilot[Any]) -> P2PSocialApp:
    app = pilot.app
    assert isinstance(app, P2PSocialApp)
    await wait_for(pilot, app.ready.is_set, "the app to open the node")
    return app


def notifications(app: P2PSocialApp, severity: str | None = None) -> list[str]:
    return [
        f"{n.title or ''} {n.message}"
        for n in app._notifications
        if severity is None or n.severity == severity
    ]


def seed(home: Path, *, follow: Sequence[ChainBuilder] = (), messages: Sequence[Message]) -> None:
    """Store generated messages in ``home`` (and follow some authors) before the app opens."""

    async def main() -> None:
        async with open_node(home) as node:
            results = await node.ingest(messages, source="import")
            assert all(r.error is None for r in results), results
            for author in follow:
                await node.follow(author.author)

    trio.run(main)


def stored_texts(home: Path, feed: str = "home") -> list[str | None]:
    """The texts of a feed, read through a node opened after the app closed."""

    async def main() -> list[str | None]:
        async with open_node(home) as node:
            return [item.text for item in await node.timeline(feed, limit=200)]

    return trio.run(main)


def profile_name(home: Path) -> str | None:
    """The owner's published name, read through a node opened after the app closed."""

    async def main() -> str | None:
        async with open_node(home) as node:
            info = await node.author(node.me)
            return None if info is None else info.name

    return trio.run(main)


@pytest.fixture
def fresh_home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    init_home(path, passphrase=None)
    return path


def offline_app(home: Path) -> P2PSocialApp:
    return P2PSocialApp(home, network=False)


# Daemons for the attach tests, started and cleaned up as in the daemon's own tests.
from tests.cli.test_daemon import Daemon, start_daemon  # noqa: E402

__all__ = ["Daemon", "start_daemon"]
