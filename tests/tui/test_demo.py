"""``p2psocial demo``: real daemons on 127.0.0.1 (mDNS off), the app on your home among them.

The app runs under ``App.run_test`` here instead of in a terminal; everything else is what
``make demo`` runs.
"""

from __future__ import annotations

from pathlib import Path

from p2psocial_cli.demo import LOOPBACK, Demo
from p2psocial_cli.tui.app import P2PSocialApp
from p2psocial_cli.tui.screens.feed import HomeScreen
from p2psocial_cli.tui.screens.notifications import NotificationsScreen
from p2psocial_cli.tui.widgets.items import NotificationList, Timeline

from .conftest import SIZE, ready, run, wait_for


def test_the_demo_is_a_living_network_and_cleans_up(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    demo = Demo(root, people=2, say=False)
    with demo:
        assert all(bot.proc is not None and bot.proc.poll() is None for bot in demo.bots)
        assert all(bot.addr.startswith("/ip4/127.0.0.1/tcp/") for bot in demo.bots)
        config = (demo.you / "config.toml").read_text()
        assert "mdns = false" in config

        async def test() -> None:
            app = P2PSocialApp(demo.you, listen=[LOOPBACK], mdns=False)
            async with app.run_test(size=SIZE) as pilot:
                await ready(pilot)
                home = app.screen
                assert isinstance(home, HomeScreen)
                timeline = home.query_one(Timeline)
                # Their history arrives by sync: their names are in Home.
                names = {"alice", "bob"}
                await wait_for(
                    pilot,
                    lambda: names <= {i.author_name for i in timeline.items},
                    "their posts",
                )
                # Post: they answer, and it is a notification.
                await pilot.press("n", *"hello demo", "ctrl+s")
                await wait_for(pilot, lambda: app.screen is home, "posted")
                await pilot.press("3")
                await wait_for(pilot, lambda: isinstance(app.screen, NotificationsScreen), "3")
                notes = app.screen.query_one(NotificationList)
                await wait_for(
                    pilot,
                    lambda: any(
                        n.what == "reply"
                        and n.subject is not None
                        and n.subject.text == "hello demo"
                        for n in notes.entries
                    ),
                    "a bot's reply",
                )
                assert {n.item.author_name for n in notes.entries if n.what == "follow"} == names

        run(test, deadline=90)
    assert all(bot.proc is not None and bot.proc.poll() == 0 for bot in demo.bots)
    assert not root.exists()
