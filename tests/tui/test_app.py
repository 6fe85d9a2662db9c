"""The terminal app against a real node in a temporary home."""

from __future__ import annotations

from pathlib import Path

from p2psocial_cli.tui.app import P2PSocialApp
from p2psocial_cli.tui.backend import PAGE, LocalBackend
from p2psocial_cli.tui.dialogs.compose import ComposeScreen
from p2psocial_cli.tui.screens.feed import FeedScreen, HomeScreen
from p2psocial_cli.tui.screens.network import NetworkScreen
from p2psocial_cli.tui.screens.profile import ProfileScreen
from p2psocial_cli.tui.screens.thread import ThreadScreen
from p2psocial_cli.tui.widgets.items import ItemView, Timeline
from textual.widgets import Input, Label, ListView, TextArea

from p2psocial import keystore
from p2psocial.core.ids import AuthorId
from p2psocial.core.limits import MAX_TEXT_BYTES
from p2psocial.home import HomePaths
from p2psocial.node import init_home
from p2psocial.store.lock import HomeLock
from tests.factories import authors

from .conftest import (
    SIZE,
    notifications,
    offline_app,
    profile_name,
    ready,
    run,
    seed,
    stored_texts,
    wait_for,
)


def shown(screen: FeedScreen) -> list[str | None]:
    return [item.text for item in screen.query_one(Timeline).items]


def test_home_shows_my_feed_newest_first(fresh_home: Path) -> None:
    alice, bob = authors(2)
    messages = [alice.profile("alice"), alice.post("first #p2p"), bob.post("not followed")]
    messages += [alice.post("second"), alice.post("third")]
    seed(fresh_home, follow=[alice], messages=messages)

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            screen = app.screen
            assert isinstance(screen, HomeScreen)
            await wait_for(pilot, lambda: shown(screen), "the home timeline")
            assert shown(screen) == ["third", "second", "first #p2p"]
            assert screen.query_one(Timeline).has_focus
            # 2 switches to Global, which holds the unfollowed author too.
            await pilot.press("2")
            await wait_for(pilot, lambda: "not followed" in shown(app.screen), "global")  # type: ignore[arg-type]

    run(test)


def test_compose_posts_through_the_node(fresh_home: Path) -> None:
    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen), "the dialog")
            await pilot.press(*"hello tui", "enter", *"line two")
            count = app.screen.query_one("#compose-count", Label)
            assert str(count.render()) == "18 / 2048 bytes"
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), "the dialog to close")
            home = app.screen
            assert isinstance(home, HomeScreen)
            # It appears in the visible timeline live (from the node's event).
            await wait_for(pilot, lambda: shown(home)[:1] == ["hello tui\nline two"], "the post")
        # Stored durably: a node opened afterwards holds it.
        assert stored_texts(fresh_home) == ["hello tui\nline two"]

    run(test)


def test_over_limit_post_is_refused_with_a_notification(fresh_home: Path) -> None:
    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen), "the dialog")
            area = app.screen.query_one(TextArea)
            area.text = "é" * (MAX_TEXT_BYTES // 2) + "x"  # 2049 bytes, 1025 characters
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: notifications(app, "error"), "an error")
            assert "2049 bytes" in notifications(app, "error")[0]
            assert isinstance(app.screen, ComposeScreen)  # still open: nothing typed is lost
            assert app.screen.query_one("#compose-count").has_class("-over")
            # Control characters are refused by the node: a notification, not a traceback.
            area.text = "bell \x07"
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: len(notifications(app, "error")) == 2, "a 2nd error")
            await pilot.press("escape")
        assert stored_texts(fresh_home) == []

    run(test)


def test_thread_shows_replies_in_depth_order_and_replies_in_place(fresh_home: Path) -> None:
    alice, bob, carol = authors(3)
    root = alice.post("root post")
    first = bob.reply(root, "bob replies")
    deeper = alice.reply(first, "alice answers bob")
    second = carol.reply(root, "carol replies")
    seed(fresh_home, follow=[alice], messages=[root, first, deeper, second])

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            home = app.screen
            assert isinstance(home, HomeScreen)
            await wait_for(pilot, lambda: "root post" in shown(home), "the root post")
            timeline = home.query_one(Timeline)
            timeline.index = shown(home).index("root post")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ThreadScreen), "the thread")
            thread = app.screen
            assert isinstance(thread, ThreadScreen)
            await wait_for(pilot, lambda: len(thread.query(ItemView)) == 4, "4 messages")
            views = list(thread.query(ItemView))
            assert [(v.item.text, v.item.depth) for v in views] == [
                ("root post", 0),
                ("bob replies", 1),
                ("alice answers bob", 2),
                ("carol replies", 1),
            ]
            assert [v.styles.padding.left for v in views] == [1, 3, 5, 3]
            # Reply in place to bob's reply: enter on it opens the dialog with its context.
            thread.query_one(ListView).index = 1
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen), "the dialog")
            compose = app.screen
            assert isinstance(compose, ComposeScreen)
            assert compose.replying_to is not None
            assert compose.replying_to.id == first.id
            await pilot.press(*"me too", "ctrl+s")
            await wait_for(pilot, lambda: len(thread.query(ItemView)) == 5, "the reply")
            texts = [(v.item.text, v.item.depth) for v in thread.query(ItemView)]
            assert texts[1:4] == [("bob replies", 1), ("alice answers bob", 2), ("me too", 2)]
            await pilot.press("escape")
            assert isinstance(app.screen, HomeScreen)

    run(test)


def test_messages_from_the_network_appear_live(fresh_home: Path) -> None:
    (alice,) = authors(1)
    seed(fresh_home, follow=[alice], messages=[alice.post("old news")])
    small = [alice.post(f"small {n}") for n in range(3)]
    burst = [alice.post(f"burst {n}") for n in range(PAGE + 10)]
    newest_first = [f"burst {n}" for n in reversed(range(PAGE + 10))]
    newest_first += ["small 2", "small 1", "small 0", "old news"]

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            home = app.screen
            assert isinstance(home, HomeScreen)
            await wait_for(pilot, lambda: shown(home) == ["old news"], "the first page")
            backend = app.backend
            assert isinstance(backend, LocalBackend)
            node = backend.node
            await backend.call(lambda: node.ingest(small, source="network"))
            await wait_for(pilot, lambda: len(shown(home)) == 4, "the new messages")
            assert shown(home) == ["small 2", "small 1", "small 0", "old news"]
            assert any("3 new" in n for n in notifications(app))
            # More than a page at once: the view starts over rather than leave a gap.
            await backend.call(lambda: node.ingest(burst, source="network"))
            await wait_for(pilot, lambda: shown(home)[:1] == [f"burst {PAGE + 9}"], "the burst")
            assert shown(home) == newest_first[: len(shown(home))]

    run(test)


def test_like_and_follow_from_the_timeline(fresh_home: Path) -> None:
    bob = authors(2)[1]
    post = bob.post("like me")
    seed(fresh_home, messages=[post])

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("2")
            await wait_for(pilot, lambda: shown(app.screen) == ["like me"], "global")  # type: ignore[arg-type]
            await pilot.press("l")
            await wait_for(
                pilot,
                lambda: app.screen.query_one(Timeline).items[0].reactions.total == 1,
                "the like to be counted",
            )
            await pilot.press("f")
            await wait_for(pilot, lambda: any("You follow" in n for n in notifications(app)), "f")
            await pilot.press("1")
            home = app.screen
            assert isinstance(home, HomeScreen)
            await wait_for(
                pilot,
                lambda: (
                    home.follows_seen == app.follows_generation
                    and (c := home.current_item()) is not None
                    and c.text == "like me"
                ),
                "bob in home",
            )
            # p opens the author's profile: counts and the follow state; f unfollows there.
            await pilot.press("p")
            await wait_for(pilot, lambda: isinstance(app.screen, ProfileScreen), "the profile")
            profile = app.screen
            assert isinstance(profile, ProfileScreen)
            await wait_for(pilot, lambda: profile.following_them is not None, "the card")
            assert (profile.author, profile.following_them, profile.followers) == (
                bob.author,
                True,
                1,
            )
            await pilot.press("f")
            await wait_for(pilot, lambda: profile.following_them is False, "the unfollow")
            assert profile.followers == 0
            await pilot.press("escape")
            assert isinstance(app.screen, HomeScreen)

    run(test)


def test_network_view_lists_the_listen_address(fresh_home: Path) -> None:
    async def test() -> None:
        app = P2PSocialApp(fresh_home, listen=["/ip4/127.0.0.1/tcp/0"], mdns=False)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("6")
            await wait_for(pilot, lambda: isinstance(app.screen, NetworkScreen), "network")
            screen = app.screen
            assert isinstance(screen, NetworkScreen)
            await wait_for(pilot, lambda: screen.addresses, "an address")
            [addr] = screen.addresses
            assert addr.startswith("/ip4/127.0.0.1/tcp/")
            assert "/p2p/" in addr
            assert len(screen.query_one("#addresses", ListView)) == 1
            # A bad address is an error notification, not a crash.
            screen.query_one("#peer-addr", Input).value = "/ip4/127.0.0.1/tcp/1"
            await pilot.click("#peer-connect")
            await wait_for(pilot, lambda: notifications(app, "error"), "an error")

    run(test)


def test_first_run_creates_the_identity(tmp_path: Path) -> None:
    home = tmp_path / "new"

    async def test() -> None:
        app = offline_app(home)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.query("#welcome-name"), "the welcome")
            # Name, then tick off encryption (no Argon2id: keeps the test fast), then create.
            await pilot.press(*"zoe", "tab", "space", "shift+tab", "enter")
            await ready(pilot)
            assert isinstance(app.screen, HomeScreen)
        assert not keystore.is_encrypted(home)
        assert stored_texts(home, "author:" + str(AuthorId(keystore.read_public_key(home)))) == []
        assert profile_name(home) == "zoe"

    run(test)


def test_wrong_passphrase_is_a_notification(tmp_path: Path) -> None:
    home = tmp_path / "locked"
    init_home(home, passphrase="right")

    async def test() -> None:
        app = offline_app(home)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.screen.query("#unlock-pass"), "the unlock screen")
            await pilot.press(*"wrong", "enter")
            await wait_for(pilot, lambda: notifications(app, "error"), "an error")
            assert not app.ready.is_set()
            await pilot.press(*"right", "enter")
            await ready(pilot)

    run(test, deadline=30)


def test_timeline_loads_the_next_page_at_its_end(fresh_home: Path) -> None:
    (alice,) = authors(1)
    seed(fresh_home, follow=[alice], messages=[alice.post(f"post {n}") for n in range(100)])

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            home = app.screen
            assert isinstance(home, HomeScreen)
            await wait_for(pilot, lambda: len(shown(home)) == PAGE, "the first page")
            home.query_one(Timeline).index = PAGE - 4
            await pilot.press("down")
            await wait_for(pilot, lambda: len(shown(home)) == 2 * PAGE, "the second page")
            await pilot.press("end")
            await wait_for(pilot, lambda: len(shown(home)) == 100, "the last page")
            assert shown(home) == [f"post {n}" for n in reversed(range(100))]

    run(test)


def test_a_home_held_by_another_process_opens_read_only(fresh_home: Path) -> None:
    (alice,) = authors(1)
    seed(fresh_home, follow=[alice], messages=[alice.post("seen read-only")])
    lock = HomeLock.acquire(HomePaths(fresh_home).lock)  # as a running daemon would

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            assert app.backend.read_only
            assert any("read-only" in n for n in notifications(app, "warning"))
            home = app.screen
            assert isinstance(home, HomeScreen)
            await wait_for(pilot, lambda: shown(home) == ["seen read-only"], "the index")
            await pilot.press("n", *"hi", "ctrl+s")
            await wait_for(pilot, lambda: notifications(app, "error"), "a refusal")
            assert "read-only" in notifications(app, "error")[0]

    try:
        run(test)
    finally:
        lock.release()
    assert stored_texts(fresh_home) == ["seen read-only"]
