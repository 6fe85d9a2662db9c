"""The app attached to a node another process runs: a real ``p2psocial node`` daemon.

The daemon listens on 127.0.0.1 only with mDNS off (see tests/cli/test_daemon.py); the app
runs in this process under ``App.run_test``. Waits are on conditions, each test has a
deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from p2psocial_cli.tui.app import P2PSocialApp
from p2psocial_cli.tui.backend import AttachedBackend, LocalBackend
from p2psocial_cli.tui.dialogs.compose import ComposeScreen
from p2psocial_cli.tui.dialogs.profile_edit import ProfileEditScreen
from p2psocial_cli.tui.screens.feed import HomeScreen
from p2psocial_cli.tui.screens.network import NetworkScreen
from p2psocial_cli.tui.screens.profile import ProfileScreen
from p2psocial_cli.tui.widgets.items import Timeline
from textual.widgets import Input, Label

from p2psocial.control import ControlClient
from p2psocial.home import HomePaths
from p2psocial.store.queries import IndexReader
from tests.factories import authors

from .conftest import SIZE, Daemon, notifications, ready, run, seed, wait_for


def shown(screen: object) -> list[str | None]:
    assert isinstance(screen, HomeScreen)
    return [item.text for item in screen.query_one(Timeline).items]


def read_index(home: Path, fn: Callable[[IndexReader], object]) -> object:
    """Read the index of a home a daemon holds (as any reader may, beside the writer)."""
    reader = IndexReader.open(HomePaths(home).index)
    try:
        return fn(reader)
    finally:
        reader.close()


async def post_through_daemon(home: Path, text: str) -> str:
    def call() -> str:
        client = ControlClient.connect(home)
        assert client is not None
        with client:
            return str(client.call("post", {"text": text})["id"])

    return await asyncio.to_thread(call)


def test_the_app_attaches_to_a_running_daemon(
    fresh_home: Path, start_daemon: Callable[..., Daemon]
) -> None:
    (alice,) = authors(1)
    seed(fresh_home, follow=[alice], messages=[alice.profile("alice"), alice.post("before")])
    daemon = start_daemon(fresh_home)  # loopback, no mDNS, control socket up

    async def test() -> None:
        app = P2PSocialApp(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            backend = app.backend
            assert isinstance(backend, AttachedBackend)
            assert backend.node_pid == daemon.proc.pid
            assert any("Attached" in n for n in notifications(app))
            home = app.screen
            await wait_for(pilot, lambda: shown(home) == ["before"], "the index")

            # Written through the app, stored by the daemon, shown live from its events.
            await pilot.press("n", *"through the app", "ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), "the dialog")
            await wait_for(pilot, lambda: shown(home)[:1] == ["through the app"], "own post")
            # Written by another program: it appears too (no polling: the event stream).
            await post_through_daemon(fresh_home, "from the command line")
            await wait_for(pilot, lambda: shown(home)[:1] == ["from the command line"], "the event")

            # React, follow, unfollow: each through the daemon.
            timeline = home.query_one(Timeline)
            timeline.index = shown(home).index("before")
            await pilot.press("l")
            await wait_for(
                pilot,
                lambda: any(i.reactions.total == 1 for i in timeline.items if i.text == "before"),
                "the like",
            )
            await pilot.press("f")
            await wait_for(
                pilot, lambda: any("no longer follow" in n for n in notifications(app)), "unf."
            )
            await wait_for(pilot, lambda: "before" not in shown(home), "alice leaves home")

            # The profile: edited in its dialog, published by the daemon.
            await pilot.press("4")
            await wait_for(pilot, lambda: isinstance(app.screen, ProfileScreen), "Me")
            await pilot.press("e")
            await wait_for(pilot, lambda: isinstance(app.screen, ProfileEditScreen), "editor")
            app.screen.query_one("#profile-name", Input).value = "zoe"
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, ProfileScreen), "published")
            me = app.screen
            assert isinstance(me, ProfileScreen)
            await wait_for(pilot, lambda: me.info is not None and me.info.name == "zoe", "name")

            # The network view shows the daemon's own status and addresses.
            await pilot.press("6")
            await wait_for(pilot, lambda: isinstance(app.screen, NetworkScreen), "network")
            network = app.screen
            assert isinstance(network, NetworkScreen)
            await wait_for(pilot, lambda: network.addresses == daemon.addrs, "its address")
            summary = str(network.query_one("#network-summary", Label).render())
            assert f"pid {daemon.proc.pid}" in summary
            # The daemon's refusal comes back as a notification.
            network.query_one("#peer-addr", Input).value = "/ip4/127.0.0.1/tcp/1"
            await pilot.click("#peer-connect")
            await wait_for(pilot, lambda: notifications(app, "error"), "a dial error")

        # Quitting the app leaves the daemon running, and everything is in its index.
        assert daemon.proc.poll() is None
        texts = read_index(
            fresh_home,
            lambda r: [i.text for i in r.author_feed(app.backend.me, limit=10)],
        )
        assert texts == ["from the command line", "through the app"]

    run(test, deadline=60)


def test_losing_the_node_is_a_notification_and_the_app_attaches_again(
    fresh_home: Path, start_daemon: Callable[..., Daemon]
) -> None:
    daemon = start_daemon(fresh_home, "--offline", listen=False, ready=False)

    async def answers(daemon: Daemon) -> None:
        while True:
            assert daemon.proc.poll() is None, daemon.describe()
            client = await asyncio.to_thread(ControlClient.connect, fresh_home)
            if client is not None:
                client.close()
                return
            await asyncio.sleep(0.02)

    async def test() -> None:
        await answers(daemon)
        app = P2PSocialApp(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            backend = app.backend
            assert isinstance(backend, AttachedBackend)
            assert backend.linked
            status, _ = await asyncio.to_thread(daemon.stop)
            assert status == 0
            await wait_for(
                pilot, lambda: any("Lost the node" in n for n in notifications(app)), "loss"
            )
            assert "node not answering" in app.title
            # A post now fails with a notification; the dialog keeps the text.
            await pilot.press("n", *"while nobody listens", "ctrl+s")
            await wait_for(pilot, lambda: len(notifications(app, "error")) >= 2, "refused")
            compose = app.screen
            assert isinstance(compose, ComposeScreen)
            assert compose.text == "while nobody listens"
            # A node comes back on the home: the app attaches again, and the post goes.
            await answers(start_daemon(fresh_home, "--offline", listen=False, ready=False))
            await wait_for(pilot, lambda: backend.linked, "attached again")
            await wait_for(pilot, lambda: any("Node back" in n for n in notifications(app)), "b")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), "sent")
            await wait_for(
                pilot, lambda: shown(app.screen)[:1] == ["while nobody listens"], "shown"
            )

    run(test, deadline=60)


def test_a_second_app_attaches_to_the_first(fresh_home: Path) -> None:
    """The app's own node serves the control socket, so another app (or a command) can
    use it while it runs."""

    async def test() -> None:
        first = await LocalBackend.start(fresh_home, network=False)
        try:
            app = P2PSocialApp(fresh_home)
            async with app.run_test(size=SIZE) as pilot:
                await ready(pilot)
                assert isinstance(app.backend, AttachedBackend)
                await pilot.press("n", *"via the first", "ctrl+s")
                await wait_for(
                    pilot, lambda: shown(app.screen)[:1] == ["via the first"], "the post"
                )
            items = await first.timeline("home")
            assert [i.text for i in items] == ["via the first"]
        finally:
            await first.stop()

    run(test)
