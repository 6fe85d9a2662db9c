"""Issue 5 in the app: labels, moderation from a profile, show-hidden, "why is this here".

Each test runs the app on a real node in a temporary home (no network), seeded with signed
messages from generated authors.
"""

from __future__ import annotations

from pathlib import Path

from p2psocial_cli.tui.screens.feed import GlobalScreen, HomeScreen
from p2psocial_cli.tui.widgets.items import ItemView, Timeline

from tests.factories import BASE_TS, authors

from .conftest import SIZE, offline_app, ready, run, seed, wait_for


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
