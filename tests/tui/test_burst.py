"""Typing while a burst of 1,000 messages arrives: nothing typed is lost, nothing stored is
missed. (How fast is for bench/tui.py; this test asserts no timings.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

from p2psocial_cli.tui.backend import LocalBackend
from p2psocial_cli.tui.dialogs.compose import ComposeScreen
from p2psocial_cli.tui.screens.feed import HomeScreen
from p2psocial_cli.tui.widgets.items import Timeline

from tests.factories import authors

from .conftest import SIZE, offline_app, ready, run, seed, stored_texts, wait_for

BURST = 1000
BATCH = 25
TYPED = "typing through a burst of a thousand messages, one key at a time"


def test_typing_survives_a_burst_of_1000_messages(fresh_home: Path) -> None:
    people = authors(5)
    seed(fresh_home, follow=people, messages=[p.post("before the burst") for p in people])
    burst = [people[n % len(people)].post(f"burst {n}") for n in range(BURST)]

    typed = ""

    async def test() -> None:
        nonlocal typed
        app = offline_app(fresh_home)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            backend = app.backend
            assert isinstance(backend, LocalBackend)
            node = backend.node
            home = app.screen
            assert isinstance(home, HomeScreen)
            await wait_for(pilot, lambda: len(home.query_one(Timeline).items) == 5, "home")
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, ComposeScreen), "the composer")
            compose = app.screen
            assert isinstance(compose, ComposeScreen)

            async def ingest() -> None:
                for start in range(0, BURST, BATCH):
                    batch = burst[start : start + BATCH]
                    results = await backend.call(lambda b=batch: node.ingest(b, source="network"))
                    assert all(r.error is None for r in results), results

            arriving = asyncio.create_task(ingest())
            pressed: list[str] = []
            during = 0
            # Type until the burst is stored and the sentence complete: keys land while
            # messages arrive.
            while not arriving.done() or len(pressed) < len(TYPED):
                char = TYPED[len(pressed) % len(TYPED)]
                during += not arriving.done()
                await pilot.press("space" if char == " " else char)
                pressed.append(char)
                assert compose.text == "".join(pressed)
            await arriving
            assert during > 0
            typed = "".join(pressed)
            assert compose.text == typed
            # Every message reached the index, and Home (under the dialog) shows the newest.
            assert (await backend.counts())["messages"] == 5 + 5 + BURST  # posts + follows
            await wait_for(
                pilot,
                lambda: (
                    home.query_one(Timeline).items[:1]
                    and home.query_one(Timeline).items[0].text == f"burst {BURST - 1}"
                ),
                "the newest in Home",
            )
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen), "posted")
        assert stored_texts(fresh_home)[0] == typed.strip()

    run(test, deadline=60)
