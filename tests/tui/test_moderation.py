"""Issue 5 in the app: labels, moderation from a profile, show-hidden, "why is this here".

Each test runs the app on a real node in a temporary home (no network), seeded with signed
messages from generated authors.
"""

from __future__ import annotations

import json
from pathlib import Path

import trio
from p2psocial_cli.tui.app import P2PSocialApp
from p2psocial_cli.tui.dialogs.confirm import ConfirmScreen
from p2psocial_cli.tui.dialogs.why import WhyScreen
from p2psocial_cli.tui.screens.feed import GlobalScreen, HomeScreen
from p2psocial_cli.tui.screens.profile import ProfileScreen
from p2psocial_cli.tui.settings import SETTINGS_FILENAME
from p2psocial_cli.tui.widgets.items import ItemView, Timeline
from textual.widgets import Button, Label

from p2psocial.core.ids import AuthorId
from p2psocial.node import open_node
from tests.factories import BASE_TS, ChainBuilder, authors

from .conftest import SIZE, notifications, offline_app, ready, run, seed, wait_for


def texts(timeline: Timeline) -> list[str | None]:
    return [item.text for item in timeline.items]


def _rendered(timeline: Timeline) -> list[str]:
    return [view.render_entry().plain for view in timeline.query(ItemView)]


def test_bot_label_and_globals_folded_note(fresh_home: Path) -> None:
    alice, stranger = authors(2)
    seed(
        fresh_home,
        follow=[alice],
        messages=[
            alice.profile("alice", automated=True, ts=BASE_TS),
            alice.post("beep, the weather", ts=BASE_TS + 1),
            *(stranger.post(f"spam {n}", ts=BASE_TS + 10 + n) for n in range(5)),
        ],
    )

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            home = app.screen
            assert isinstance(home, HomeScreen)
            await wait_for(pilot, lambda: len(home.timeline.items) == 1, "alice's post")
            [shown] = _rendered(home.timeline)
            assert shown.startswith("alice [bot]")
            await pilot.press("2")
            await wait_for(pilot, lambda: isinstance(app.screen, GlobalScreen), "Global")
            screen = app.screen
            assert isinstance(screen, GlobalScreen)
            # The stranger (no trust path) gets two items; the three left out are counted
            # on the next item shown, not hidden silently.
            await wait_for(pilot, lambda: len(screen.timeline.items) == 3, "Global's page")
            lines = _rendered(screen.timeline)
            assert [line.splitlines()[0] for line in lines] == [
                lines[0].splitlines()[0],
                lines[1].splitlines()[0],
                "⋯ 3 more messages from accounts with no trust path to you",
            ]
            assert lines[2].splitlines()[1].startswith("alice [bot]")
            assert "spam 4" in lines[0]

    run(test)


def _profile_of(app: P2PSocialApp) -> ProfileScreen:
    screen = app.screen
    assert isinstance(screen, ProfileScreen)
    return screen


def test_mute_from_a_profile_hides_show_hidden_labels_unmute_restores(fresh_home: Path) -> None:
    alice, bob = authors(2)
    seed(
        fresh_home,
        follow=[alice, bob],
        messages=[
            alice.profile("alice", ts=BASE_TS),
            bob.profile("bob", ts=BASE_TS),
            alice.post("alice one", ts=BASE_TS + 1),
            bob.post("bob one", ts=BASE_TS + 2),
            alice.post("alice two", ts=BASE_TS + 3),
        ],
    )

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            home = app.screen
            assert isinstance(home, HomeScreen)
            timeline = home.timeline
            await wait_for(pilot, lambda: len(timeline.items) == 3, "Home")
            # Open alice's profile from her post (p) and mute her (m).
            timeline.index = 0
            await pilot.press("p")
            await wait_for(pilot, lambda: isinstance(app.screen, ProfileScreen), "profile")
            profile = _profile_of(app)
            await wait_for(pilot, lambda: profile.info is not None, "the card")
            await pilot.press("m")
            await wait_for(pilot, lambda: profile.muted, "muted")
            assert str(profile.query_one("#profile-mute", Button).label) == "Unmute (m)"
            assert any("Muted alice" in n for n in notifications(app))
            await pilot.press("escape")
            await wait_for(pilot, lambda: texts(timeline) == ["bob one"], "alice hidden")
            assert timeline.border_subtitle.startswith("2 hidden by your rules")
            # h shows them in place, labelled; the choice is kept.
            await pilot.press("h")
            await wait_for(pilot, lambda: len(timeline.items) == 3, "shown again")
            assert texts(timeline) == ["alice two", "bob one", "alice one"]
            lines = _rendered(timeline)
            assert "[hidden: muted]" in lines[0]
            assert "[hidden:" not in lines[1]
            assert json.loads((fresh_home / SETTINGS_FILENAME).read_text())["show_hidden"]
            await pilot.press("h")
            await wait_for(pilot, lambda: texts(timeline) == ["bob one"], "hidden again")
            # Unmute from the profile: everything back, nothing counted.
            timeline.index = 0
            await pilot.press("g", *str(alice.author), "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ProfileScreen), "profile")
            profile = _profile_of(app)
            await wait_for(pilot, lambda: profile.muted, "the card says muted")
            await pilot.press("m")
            await wait_for(pilot, lambda: not profile.muted, "unmuted")
            await pilot.press("escape")
            await wait_for(pilot, lambda: len(timeline.items) == 3, "alice back")
            assert "hidden" not in timeline.border_subtitle

    run(test, deadline=40)


def test_block_asks_then_publishes_and_hides_labelled_blocked(fresh_home: Path) -> None:
    alice, bob = authors(2)
    seed(
        fresh_home,
        follow=[alice, bob],
        messages=[
            alice.profile("alice", ts=BASE_TS),
            alice.post("alice one", ts=BASE_TS + 1),
            bob.post("bob one", ts=BASE_TS + 2),
        ],
    )

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            home = app.screen
            assert isinstance(home, HomeScreen)
            timeline = home.timeline
            await wait_for(pilot, lambda: len(timeline.items) == 2, "Home")
            await pilot.press("g", *str(alice.author), "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ProfileScreen), "profile")
            profile = _profile_of(app)
            await wait_for(pilot, lambda: profile.info is not None, "the card")
            await pilot.press("b")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
            said = str(app.screen.query_one("#confirm-explanation", Label).content)
            assert "published" in said
            # Cancelling publishes nothing.
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is profile, "cancelled")
            assert not profile.blocked
            await pilot.press("b")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "asked again")
            await pilot.press("enter")
            await wait_for(pilot, lambda: profile.blocked, "blocked")
            await pilot.press("escape")
            await wait_for(pilot, lambda: texts(timeline) == ["bob one"], "alice hidden")
            await pilot.press("h")
            await wait_for(pilot, lambda: len(timeline.items) == 2, "shown labelled")
            assert "[hidden: blocked]" in _rendered(timeline)[1]

    run(test, deadline=40)

    async def blocked() -> frozenset[AuthorId]:
        async with open_node(fresh_home) as node:
            return node.blocked

    # The block went out as the owner's signed message: the index derives it from the log.
    assert trio.run(blocked) == {alice.author}


def _seed_ranked(home: Path) -> tuple[ChainBuilder, ChainBuilder]:
    """alice, trusted by everyone the owner follows, posted first; bob, whom only the
    owner follows, posted since: chronological and trusted disagree."""
    alice, bob, carol = authors(3)
    seed(
        home,
        follow=[alice, bob, carol],
        messages=[
            alice.profile("alice", ts=BASE_TS),
            bob.profile("bob", ts=BASE_TS),
            carol.profile("carol", ts=BASE_TS),
            carol.follow(alice, ts=BASE_TS + 1),
            bob.follow(alice, ts=BASE_TS + 1),
            alice.post("alice, trusted", ts=BASE_TS + 60_000),
            bob.post("bob, newer", ts=BASE_TS + 120_000),
        ],
    )
    return alice, bob


def test_algorithm_switcher_reorders_home_persists_and_explains(fresh_home: Path) -> None:
    _seed_ranked(fresh_home)

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            home = app.screen
            assert isinstance(home, HomeScreen)
            timeline = home.timeline
            await wait_for(pilot, lambda: len(timeline.items) == 2, "Home")
            assert texts(timeline) == ["bob, newer", "alice, trusted"]
            switcher = str(home.query_one("#algo-switcher", Label).render())
            assert "chronological" in switcher
            assert "trusted" in switcher
            # w on chronological Home: followed, newest first.
            timeline.index = 1
            await pilot.press("w")
            await wait_for(pilot, lambda: isinstance(app.screen, WhyScreen), "the panel")
            why = str(app.screen.query_one("#why-text", Label).content)
            assert "You follow alice" in why
            assert "newest first" in why
            await pilot.press("escape")
            # a cycles to the next algorithm, trusted: alice first.
            await pilot.press("a")
            await wait_for(pilot, lambda: app.settings.algorithm == "trusted", "trusted")
            await wait_for(pilot, lambda: texts(timeline)[:1] == ["alice, trusted"], "reordered")
            assert "trusted" in str(timeline.border_title)
            saved = json.loads((fresh_home / SETTINGS_FILENAME).read_text())
            assert saved["algorithm"] == "trusted"
            # The panel gives the algorithm's signals and weights for the item.
            timeline.index = 0
            await pilot.press("w")
            await wait_for(pilot, lambda: isinstance(app.screen, WhyScreen), "the panel")
            why = str(app.screen.query_one("#why-text", Label).content)
            ranked = home.ranking[str(timeline.items[0].id)]
            assert why.startswith("Ranked by trusted: place 1")
            assert ranked.reasons
            for reason in ranked.reasons:
                assert f"• {reason.signal}: " in why
                assert reason.text in why
            await pilot.press("escape")

        # Kept: the next start ranks Home the same way.
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            home = app.screen
            assert isinstance(home, HomeScreen)
            await wait_for(pilot, lambda: len(home.timeline.items) == 2, "Home")
            assert texts(home.timeline)[0] == "alice, trusted"
            # The palette has a command per algorithm: back to chronological.
            app.set_algorithm("chronological")
            await wait_for(pilot, lambda: texts(home.timeline)[0] == "bob, newer", "back")

    run(test, deadline=40)


def test_palette_offers_every_algorithm(fresh_home: Path) -> None:
    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            titles = [c.title for c in app.get_system_commands(app.screen)]
            for name in ("chronological", "trusted", "conversations", "fresh-voices"):
                assert f"Home algorithm: {name}" in titles

    run(test)


def test_why_names_the_rule_that_hid_an_item(fresh_home: Path) -> None:
    alice, _ = _seed_ranked(fresh_home)

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            home = app.screen
            assert isinstance(home, HomeScreen)
            backend = app.backend
            await backend.mute(alice.author)
            app.moderation_changed()
            await wait_for(pilot, lambda: texts(home.timeline) == ["bob, newer"], "hidden")
            await pilot.press("h")
            await wait_for(pilot, lambda: len(home.timeline.items) == 2, "shown")
            home.timeline.index = 1
            await pilot.press("w")
            await wait_for(pilot, lambda: isinstance(app.screen, WhyScreen), "the panel")
            why = str(app.screen.query_one("#why-text", Label).content)
            assert why.startswith("Hidden by your rules: muted (rule: mute).")

    run(test)


def test_deleting_my_post_asks_first_and_says_it_is_only_a_request(fresh_home: Path) -> None:
    alice = ChainBuilder(31)
    seed(fresh_home, follow=[alice], messages=[alice.post("alice's post", ts=BASE_TS)])

    async def post_mine() -> None:
        async with open_node(fresh_home) as node:
            await node.post("a typo of mine")

    trio.run(post_mine)

    async def test() -> None:
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            home = app.screen
            assert isinstance(home, HomeScreen)
            await wait_for(pilot, lambda: len(home.timeline.items) == 2, "both posts")
            assert texts(home.timeline)[0] == "a typo of mine"
            # Someone else's message is not mine to delete.
            await pilot.press("down", "x")
            await wait_for(
                pilot,
                lambda: any("Only your own" in n for n in notifications(app, "warning")),
                "the refusal",
            )
            assert app.screen is home
            await pilot.press("up", "x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
            said = str(app.screen.query_one("#confirm-explanation", Label).content)
            assert "request" in said
            assert "may keep a copy" in said
            await pilot.press("enter")
            await wait_for(
                pilot,
                lambda: any("Asked every node to drop it" in n for n in notifications(app)),
                "the answer",
            )

    run(test)

    async def check() -> None:
        async with open_node(fresh_home) as node:
            rows = node.reader.query("SELECT count(*) FROM messages WHERE kind = 8")
            assert rows[0][0] == 1  # one delete request, published
            assert "a typo of mine" not in [i.text for i in node.reader.global_feed()]

    trio.run(check)
