"""The crash soak (tools/soak.py): its short form, and checks that its checks catch what
they claim to.

``make soak`` runs the full form (100 kills); here five kills of a real daemon, with a
feeder daemon on 127.0.0.1, every check after every restart. The seed is fixed so that this
run includes a kill while the daemon starts and injected torn tails.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
import trio

from p2psocial.core.ids import MessageId
from p2psocial.node import init_home, open_node
from tests.factories import ChainBuilder, message_id
from tools import soak
from tools.soak import Acked, SoakConfig, SoakFailure, Summary, check_store

SEED = 7


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_five_kills_lose_nothing(tmp_path: Path) -> None:
    config = SoakConfig(
        kills=5,
        seed=SEED,
        workdir=tmp_path / "soak",
        tear_rate=0.5,
        startup_kill_rate=0.25,
        max_writes=30,
    )
    summary = soak.run(config)
    print("\n".join(summary.lines()))
    assert summary.kills == 5
    assert summary.lost == 0
    assert summary.restarts_checked == summary.kills - summary.kills_during_start
    assert summary.kills_during_start >= 1
    assert summary.acked_own > 0
    assert summary.acked_imported > 0
    assert summary.acked_feeder > 0
    assert summary.torn_tails_injected >= 1
    assert summary.torn_tails_recovered == (
        summary.torn_tails_injected + summary.torn_tails_from_kills
    )
    assert len(summary.restart_seconds) == summary.restarts_checked + 1


# --- the checks catch what they claim to -------------------------------------------------


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, Acked]:
    """A closed home holding own posts and an imported chain, all acknowledged."""
    home = tmp_path / "home"
    init_home(home, passphrase=None)
    other = ChainBuilder(5)
    other.extend(4)
    acked = Acked(tmp_path / "acked.jsonl")

    async def fill() -> None:
        async with open_node(home) as node:
            for n in range(3):
                message = await node.post(f"post {n}")
                acked.add("own", [(message.id.raw, "post")])
            await node.ingest([m.to_bytes() for m in other.messages], source="import")
            acked.add("imported", [(m.id.raw, "post") for m in other.messages])

    trio.run(fill)
    return home, acked


def check(home: Path, acked: Acked, seen: set[bytes] | None = None) -> set[bytes]:
    return check_store(home, acked, seen or set(), Summary(seed=0))


def test_a_whole_store_passes(stored: tuple[Path, Acked]) -> None:
    home, acked = stored
    held = check(home, acked)
    assert held == set(acked.own) | set(acked.imported)
    soak.verify(home)


def test_an_acknowledged_message_missing_is_lost(stored: tuple[Path, Acked]) -> None:
    home, acked = stored
    acked.add("own", [(message_id(1).raw, "post")])
    with pytest.raises(SoakFailure, match="1 acknowledged messages are lost"):
        check(home, acked)


def test_a_message_seen_before_and_gone_is_caught(stored: tuple[Path, Acked]) -> None:
    home, acked = stored
    with pytest.raises(SoakFailure, match="showed before are gone"):
        check(home, acked, {message_id(2).raw})


def test_an_index_row_missing_or_wrong_is_caught(stored: tuple[Path, Acked]) -> None:
    home, acked = stored
    victim = next(iter(acked.imported))
    with sqlite3.connect(home / "index.sqlite3") as conn:
        conn.execute("UPDATE messages SET pos = pos + 1 WHERE id = ?", (victim,))
    with pytest.raises(SoakFailure, match="1 at another position"):
        check(home, acked)
    with sqlite3.connect(home / "index.sqlite3") as conn:
        conn.execute("DELETE FROM messages WHERE id = ?", (victim,))
    with pytest.raises(SoakFailure, match="1 records not indexed"):
        check(home, acked)


def test_an_author_head_that_differs_from_the_log_is_caught(stored: tuple[Path, Acked]) -> None:
    home, acked = stored
    with sqlite3.connect(home / "index.sqlite3") as conn:
        conn.execute("UPDATE authors SET held = held - 1 WHERE held = 4")
    with pytest.raises(SoakFailure, match="author heads or counts"):
        check(home, acked)


def test_verify_failing_fails_the_soak(stored: tuple[Path, Acked]) -> None:
    home, _ = stored
    segment = max((home / "log").glob("*.seg"))
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0x01
    segment.write_bytes(bytes(data))
    with pytest.raises(SoakFailure, match="verify failed"):
        soak.verify(home)


def test_an_injected_torn_tail_is_cut_off_by_the_next_open(stored: tuple[Path, Acked]) -> None:
    home, acked = stored
    before = soak.torn_files(home)
    soak.tear(home, random.Random(1))

    async def reopen() -> bool:
        async with open_node(home) as node:
            return node.recovery is not None

    assert trio.run(reopen)
    assert soak.torn_files(home) == before + 1
    assert check(home, acked)
    assert MessageId(next(iter(acked.own)))  # still there after the cut
