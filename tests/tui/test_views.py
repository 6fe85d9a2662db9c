"""The views and actions beyond the timelines: Notifications, Search, Settings, help, going
to an author, reposting with the message shown, the command palette, the mouse.

Each test runs the app on a real node in a temporary home (no network), seeded with signed
messages from generated authors.
"""

from __future__ import annotations

import json
from pathlib import Path

import trio
from p2psocial_cli.tui.backend import LocalBackend
from p2psocial_cli.tui.dialogs.help import HelpScreen
from p2psocial_cli.tui.dialogs.jump import JumpScreen
from p2psocial_cli.tui.dialogs.repost import RepostScreen
from p2psocial_cli.tui.screens.feed import GlobalScreen, HomeScreen
from p2psocial_cli.tui.screens.notifications import NotificationsScreen
from p2psocial_cli.tui.screens.profile import ProfileScreen
from p2psocial_cli.tui.screens.search import SearchScreen
from p2psocial_cli.tui.screens.settings import SettingsScreen
from p2psocial_cli.tui.screens.thread import ThreadScreen
from p2psocial_cli.tui.settings import SETTINGS_FILENAME
from p2psocial_cli.tui.widgets.items import ItemView, NotificationList, NotificationView, Timeline
from textual.command import CommandPalette
from textual.widgets import Input, Label

from p2psocial import keystore
from p2psocial.core.ids import AuthorId
from p2psocial.core.message import Message
from p2psocial.node import open_node
from tests.factories import BASE_TS, authors

from .conftest import SIZE, notifications, offline_app, ready, run, wait_for


def seed_mine(home: Path, build: list[tuple[str, object]]) -> dict[str, Message]:
    """Post as the owner, then store what others answer; returns the owner's messages.

    ``build`` holds ``("post", text)`` for the owner and ``("their", fn)`` where ``fn``
    takes the owner's messages so far and returns another author's messages.
    """
    mine: dict[str, Message] = {}

    async def main() -> None:
        async with open_node(home) as node:
            for what, arg in build:
                if what == "post":
                    assert isinstance(arg, str)
                    mine[arg] = await node.post(arg)
                else:
                    messages = arg(mine)  # type: ignore[operator]
                    results = await node.ingest(messages, source="network")
                    assert all(r.error is None for r in results), results

    trio.run(main)
    return mine


def texts(timeline: Timeline) -> list[str | None]:
    return [item.text for item in timeline.items]


def test_notifications_newest_first_marked_unread_then_seen(fresh_home: Path) -> None:
    alice, bob = authors(2)
    me = AuthorId(keystore.read_public_key(fresh_home))
    seed_mine(
        fresh_home,
        [
            ("post", "my question"),
            (
                "their",
                lambda mine: [
                    alice.profile("alice"),
                    bob.profile("bob"),
                    alice.reply(mine["my question"], "an answer"),
                    bob.react(mine["my question"], "🎉"),
                    bob.follow(me),
                ],
            ),
        ],
    )

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await wait_for(pilot, lambda: "3 new notifications" in app.title, "the count")
            await pilot.press("3")
            await wait_for(pilot, lambda: isinstance(app.screen, NotificationsScreen), "view")
            screen = app.screen
            assert isinstance(screen, NotificationsScreen)
            notes = screen.query_one(NotificationList)
            await wait_for(pilot, lambda: len(notes.entries) == 3, "3 notifications")
            assert [(n.what, n.item.author_name) for n in notes.entries] == [
                ("follow", "bob"),
                ("reaction", "bob"),
                ("reply", "alice"),
            ]
            assert notes.entries[1].subject is not None
            assert notes.entries[1].subject.text == "my question"
            assert all(v.unread for v in notes.query(NotificationView))
            # Seen: the title's count is gone and the newest is remembered on disk.
            await wait_for(pilot, lambda: "new notifications" not in app.title, "cleared")
            saved = json.loads((fresh_home / SETTINGS_FILENAME).read_text())
            assert tuple(saved["seen_notifications"]) == notes.entries[0].cursor
            # Enter on the reply opens its conversation; on the follow, bob's profile.
            notes.index = 2
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ThreadScreen), "the thread")
            await pilot.press("escape")
            notes.index = 0
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ProfileScreen), "bob")
            profile = app.screen
            assert isinstance(profile, ProfileScreen)
            assert profile.author == bob.author
            await pilot.press("escape")
            # Leaving the view clears the marks; a new one arrives live, marked.
            await pilot.press("1")
            await pilot.press("3")
            await wait_for(pilot, lambda: app.screen is screen, "back")
            assert not any(v.unread for v in notes.query(NotificationView))
            backend = app.backend
            assert isinstance(backend, LocalBackend)
            mine = await backend.timeline(f"author:{backend.me}")
            reply = alice.reply(mine[0].id, "another answer")
            await backend.call(lambda: backend.node.ingest([reply], source="network"))
            await wait_for(pilot, lambda: len(notes.entries) == 4, "the live one")
            [unread] = [v for v in notes.query(NotificationView) if v.unread]
            assert unread.entry.item.text == "another answer"

    run(test, deadline=40)


def test_search_words_tags_and_authors(fresh_home: Path) -> None:
    alice, bob = authors(2)
    seed_mine(
        fresh_home,
        [
            (
                "their",
                lambda _: [
                    alice.profile("alice"),
                    alice.post("the needle in a #haystack"),
                    bob.post("just hay #haystack"),
                    bob.post("no match here"),
                ],
            )
        ],
    )

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("5")
            await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen), "search")
            screen = app.screen
            assert isinstance(screen, SearchScreen)
            results = screen.query_one("#results", Timeline)
            await pilot.press(*"needle", "enter")
            await wait_for(pilot, lambda: texts(results) == ["the needle in a #haystack"], "hit")
            assert results.has_focus
            # "/" goes back to the field; a tag shows the tag's feed.
            await pilot.press("slash")
            assert screen.query_one(Input).has_focus
            await pilot.press(*"#haystack", "enter")
            await wait_for(pilot, lambda: len(results.items) == 2, "the tag")
            assert texts(results) == ["the needle in a #haystack", "just hay #haystack"]
            # Nothing found says so; an author's id opens the profile.
            await pilot.press("slash", *"zebra", "enter")
            await wait_for(pilot, lambda: "· 0 ·" in str(results.border_title), "no hits")
            assert results.items == []
            # The field keeps the focus, its text selected: typing replaces it.
            await pilot.press(*alice.author.short, "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ProfileScreen), "alice")
            profile = app.screen
            assert isinstance(profile, ProfileScreen)
            assert profile.author == alice.author

    run(test)


def test_settings_apply_at_once_and_are_kept(fresh_home: Path) -> None:
    (alice,) = authors(1)
    seed_mine(
        fresh_home, [("their", lambda _: [alice.profile("alice"), alice.post("a dated post")])]
    )

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            assert app.current_theme.dark
            await pilot.press("7")
            await wait_for(pilot, lambda: isinstance(app.screen, SettingsScreen), "settings")
            await pilot.click("#theme-light")
            await wait_for(pilot, lambda: not app.current_theme.dark, "the light theme")
            await pilot.click("#times-abs")
            await pilot.click("#set-show_ids")
            await wait_for(pilot, lambda: not app.settings.show_ids, "ids off")
            await pilot.press("2")
            await wait_for(pilot, lambda: isinstance(app.screen, GlobalScreen), "global")
            timeline = app.screen.query_one(Timeline)
            await wait_for(pilot, lambda: timeline.items, "the post")
            body = str(timeline.query_one(ItemView).render())
            assert "2023-11-14" in body  # the factories' clock, as a local date
            assert "alice" in body
            assert alice.author.short not in body

        saved = json.loads((fresh_home / SETTINGS_FILENAME).read_text())
        assert (saved["theme"], saved["times"], saved["show_ids"]) == (
            "textual-light",
            "absolute",
            False,
        )
        again = offline_app(fresh_home)
        async with again.run_test(size=SIZE) as pilot:
            await ready(pilot)
            assert not again.current_theme.dark
            assert again.settings.times == "absolute"

    run(test, deadline=30)


def test_help_lists_the_keys_of_the_view(fresh_home: Path) -> None:
    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
            screen = app.screen
            assert isinstance(screen, HelpScreen)
            sections = dict(screen.sections)
            assert ("r", "Reply") in sections["This view"]
            assert ("p", "Open the author's profile") in sections["This view"]
            assert ("n", "Post") in sections["This view"]
            everywhere = sections["Everywhere"]
            assert ("g", "Go to author") in everywhere
            assert ("/", "Search") in everywhere
            await pilot.press("escape")
            assert isinstance(app.screen, HomeScreen)

    run(test)


def test_go_to_an_author_by_prefix(fresh_home: Path) -> None:
    alice, bob = authors(2)
    seed_mine(fresh_home, [("their", lambda _: [alice.post("hi"), bob.post("ho")])])

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("g")
            await wait_for(pilot, lambda: isinstance(app.screen, JumpScreen), "the dialog")
            await pilot.press(*"p2sa1zzzzzzzz", "enter")
            hint = app.screen.query_one("#jump-hint", Label)
            await wait_for(pilot, lambda: hint.has_class("-error"), "no such author")
            assert "no author matches" in str(hint.render())
            field = app.screen.query_one(Input)
            field.value = str(bob.author)[:12]
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ProfileScreen), "bob")
            profile = app.screen
            assert isinstance(profile, ProfileScreen)
            assert profile.author == bob.author

    run(test)


def test_repost_shows_the_message_before_it_goes(fresh_home: Path) -> None:
    (alice,) = authors(1)
    seed_mine(fresh_home, [("their", lambda _: [alice.post("worth sharing")])])

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("2")
            await wait_for(pilot, lambda: isinstance(app.screen, GlobalScreen), "global")
            timeline = app.screen.query_one(Timeline)
            await wait_for(pilot, lambda: texts(timeline) == ["worth sharing"], "the post")
            await pilot.press("t")
            await wait_for(pilot, lambda: isinstance(app.screen, RepostScreen), "the dialog")
            context = str(app.screen.query_one("#compose-context", Label).render())
            assert "worth sharing" in context
            await pilot.press("escape")  # cancelled: nothing written
            await pilot.press("t")
            await wait_for(pilot, lambda: isinstance(app.screen, RepostScreen), "again")
            await pilot.press("enter")
            await wait_for(pilot, lambda: len(timeline.items) == 2, "the repost")
            repost = timeline.items[0]
            assert repost.reposted is not None
            assert repost.reposted.text == "worth sharing"
            assert timeline.items[1].reposts == 1

    run(test)


def test_every_action_is_in_the_command_palette(fresh_home: Path) -> None:
    (alice,) = authors(1)
    seed_mine(fresh_home, [("their", lambda _: [alice.post("from the palette")])])

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("2")
            await wait_for(pilot, lambda: isinstance(app.screen, GlobalScreen), "global")
            timeline = app.screen.query_one(Timeline)
            await wait_for(pilot, lambda: timeline.items, "the post")
            titles = {c.title for c in app.get_system_commands(app.screen)}
            expected = {"Post", "Go to author", "Help", "Reply", "Like", "Repost", "Follow"}
            expected |= {"Open the author's profile", "Copy the message id", "Quit"}
            expected |= {f"View: {v}" for v in ("Home", "Global", "Notifications", "Me")}
            expected |= {f"View: {v}" for v in ("Search", "Network", "Settings")}
            assert expected <= titles, expected - titles
            # Run one through the palette itself.
            await pilot.press("ctrl+p")
            await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), "palette")
            await pilot.press(*"Repost")
            await wait_for(
                pilot,
                lambda: (
                    "Repost"
                    in str(app.screen.query_one("CommandList").get_option_at_index(0).prompt)
                ),
                "the match",
            )
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, RepostScreen), "the repost")

    run(test)


def test_the_mouse_selects_opens_and_acts(fresh_home: Path) -> None:
    alice, bob = authors(2)
    seed_mine(
        fresh_home,
        [
            (
                "their",
                lambda _: [
                    alice.profile("alice"),
                    alice.post("older"),
                    bob.post("newer", ts=BASE_TS + 60_000),
                ],
            )
        ],
    )

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("2")
            await wait_for(pilot, lambda: isinstance(app.screen, GlobalScreen), "global")
            timeline = app.screen.query_one(Timeline)
            await wait_for(pilot, lambda: len(timeline.items) == 2, "both posts")
            views = list(timeline.query(ItemView))
            # A click highlights; the highlighted message shows its action links.
            await pilot.click(views[1])
            await wait_for(pilot, lambda: timeline.index == 1, "the highlight")
            view = views[1]
            await wait_for(pilot, lambda: view.region.height == 3, "its links shown")
            assert views[0].region.height == 2  # the others stay compact
            assert str(view.render()).splitlines()[2].startswith("reply · like")
            await pilot.click(view, offset=(1 + 8, 2))  # "like" (after the left padding)
            await wait_for(pilot, lambda: timeline.items[1].reactions.total == 1, "the like")
            # The author's name opens their profile.
            await pilot.click(view, offset=(1, 0))  # the name
            await wait_for(pilot, lambda: isinstance(app.screen, ProfileScreen), "alice")
            profile = app.screen
            assert isinstance(profile, ProfileScreen)
            assert profile.author == alice.author
            await pilot.press("escape")
            # A click on the highlighted message opens its thread.
            await pilot.click(views[1])
            await wait_for(pilot, lambda: isinstance(app.screen, ThreadScreen), "the thread")

    run(test)


def test_errors_are_notifications(fresh_home: Path) -> None:
    """A failed action says why and leaves the app running."""

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            # Nothing selected in an empty feed.
            await pilot.press("l")
            await wait_for(pilot, lambda: notifications(app, "warning"), "nothing selected")
            # No network: dialling is refused, with the reason.
            await pilot.press("6")
            await wait_for(pilot, lambda: app.screen.query("#peer-addr"), "network")
            await pilot.press("a", *"/ip4/127.0.0.1/tcp/9/p2p/12D3KooWNope", "enter")
            await wait_for(pilot, lambda: notifications(app, "error"), "the error")
            assert "network is off" in notifications(app, "error")[0]
            assert app.is_running

    run(test)


def test_copy_a_message_id_and_open_its_thread(fresh_home: Path) -> None:
    (alice,) = authors(1)
    post = alice.post("copy my id")
    seed_mine(fresh_home, [("their", lambda _: [post, alice.reply(post, "and a reply")])])

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("2")
            await wait_for(pilot, lambda: isinstance(app.screen, GlobalScreen), "global")
            timeline = app.screen.query_one(Timeline)
            await wait_for(pilot, lambda: len(timeline.items) == 2, "both")
            timeline.index = texts(timeline).index("copy my id")
            await pilot.press("c")
            assert app.clipboard == str(post.id)
            assert any(post.id.short in n for n in notifications(app))
            # The thread opens on the message chosen, its reply under it.
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ThreadScreen), "the thread")
            thread = app.screen
            assert isinstance(thread, ThreadScreen)
            await wait_for(pilot, lambda: len(thread.items) == 2, "two messages")
            current = thread.current_item()
            assert current is not None
            assert current.id == post.id

    run(test)
