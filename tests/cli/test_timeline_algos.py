"""``p2psocial timeline --algo`` and ``p2psocial algos`` as the installed console script runs
them, on a real home holding the generated network of tests/core/ranking/scenario.py
(imported with ``p2psocial import``), whose identity is that network's ``me``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from p2psocial import keystore
from p2psocial.core.ranking import BUILTINS, Reason
from p2psocial.home import HomePaths
from p2psocial.store.exchange import write_export
from tests.cli.test_cli import SHORT_LEN, failed, items, ok, run, snapshot
from tests.core.ranking import golden, scenario
from tests.test_feeds import documented, documented_entry_points, install_distribution


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("algos")
    world = scenario.build()
    path = root / "home"
    HomePaths(path).ensure()
    keystore.create_keystore(path, passphrase=None, seed=bytes(world.people["me"].key))
    write_export(root / "world.p2s", world.wire())
    imported = ok(run("import", root / "world.p2s", home=path)).stdout
    assert f"imported {len(world.messages)} new messages" in imported
    return path


@pytest.fixture(scope="module")
def plugins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose PYTHONPATH holds the documented plugin and a broken one."""
    site = tmp_path_factory.mktemp("site")
    entry_points = documented_entry_points()
    install_distribution(
        site, "p2psocial-lively", {"lively_feed": documented("lively_feed.py")}, entry_points
    )
    install_distribution(
        site, "p2p-broken", {"broken_feed": "import no_such_module\n"}, {"broken": "broken_feed:X"}
    )
    return {"PYTHONPATH": str(site)}


def from_json(
    value: dict[str, Any],
) -> tuple[int, str, str, str, str | None, float, tuple[Reason, ...]]:
    reasons = tuple(
        Reason(r["signal"], r["value"], r["weight"], r["text"]) for r in value["reasons"]
    )
    author = value["author_name"] or value["author"][:SHORT_LEN]
    short = value["id"][:SHORT_LEN]
    return value["position"], short, author, value["kind"], value["text"], value["score"], reasons


@pytest.mark.parametrize("name", list(BUILTINS))
def test_json_carries_the_committed_ranking_and_reasons(name: str, home: Path) -> None:
    ranked = items(home, "timeline", "--algo", name, "--limit", "1000")
    for value in ranked:
        for reason in value["reasons"]:
            assert reason["contribution"] == pytest.approx(reason["value"] * reason["weight"])
        assert value["hidden"] is None
    golden.check(name, golden.snapshot(from_json(v) for v in ranked))


def test_explain_follows_each_item_with_its_reasons(home: Path) -> None:
    ranked = items(home, "timeline", "--algo", "trusted", "--limit", "5")
    text = ok(run("timeline", "--algo", "trusted", "--explain", "--limit", "5", home=home)).stdout
    blocks = text.rstrip("\n").split("\n\n")
    assert len(blocks) == len(ranked) == 5
    for n, (block, value) in enumerate(zip(blocks, ranked, strict=True), start=1):
        lines = block.splitlines()
        assert value["id"][:SHORT_LEN] in lines[0]
        why = lines.index(f"  why #{n}: score {value['score']:.3f}")
        reasons = lines[why + 1 :]
        assert len(reasons) == len(value["reasons"]) == 2
        for line, reason in zip(reasons, value["reasons"], strict=True):
            assert line.startswith(f"    {reason['signal']}")
            assert f"{reason['value']:.3f} × {reason['weight']:g}" in line
            assert line.endswith(reason["text"])
    first = blocks[0].splitlines()
    assert first[-2] == (
        "    trust    1.000 × 1 = +1.000  alice has trust 1.00 from your follow graph"
        " (you follow them, and so do 3 of the 6 people you follow)"
    )


def test_without_explain_there_are_no_reasons_in_the_text(home: Path) -> None:
    text = ok(run("timeline", "--algo", "conversations", home=home)).stdout
    assert "why #" not in text
    assert "what makes a feed fair?" in text.split("\n\n")[0]


def test_explain_alone_ranks_chronologically(home: Path) -> None:
    explained = items(home, "timeline", "--explain", "--limit", "1000")
    assert explained == items(home, "timeline", "--algo", "chronological", "--limit", "1000")
    plain = items(home, "timeline", "--limit", "1000")
    assert "reasons" not in plain[0]  # the plain timeline is unchanged
    assert [v["id"] for v in plain] == [v["id"] for v in explained]


def test_settings_change_the_ranking(home: Path) -> None:
    by_trust = items(home, "timeline", "--algo", "trusted", "--limit", "1000")
    by_time = items(
        home, "timeline", "--algo", "trusted", "--set", "trust_weight=0", "--limit", "1000"
    )
    chronological = items(home, "timeline", "--algo", "chronological", "--limit", "1000")
    assert [v["id"] for v in by_time] == [v["id"] for v in chronological]
    assert [v["id"] for v in by_trust] != [v["id"] for v in by_time]
    assert {v["reasons"][0]["weight"] for v in by_time} == {0.0}


def test_mistakes_are_one_line_and_change_nothing(home: Path) -> None:
    before = snapshot(home)
    failed(
        run("timeline", "--algo", "trustd", home=home),
        "no feed algorithm 'trustd'; did you mean 'trusted'?",
        code=1,
    )
    failed(run("timeline", "--algo", "zzz", home=home), "no feed algorithm 'zzz'", code=1)
    failed(
        run("timeline", "--algo", "trusted", "--set", "speed=2", home=home),
        "algorithm 'trusted' has no setting 'speed'",
        code=1,
    )
    failed(
        run("timeline", "--algo", "trusted", "--set", "half_life_hours=soon", home=home),
        "'half_life_hours' must be a number, got 'soon'",
        code=1,
    )
    failed(
        run("timeline", "--algo", "trusted", "--set", "half_life_hours=0", home=home),
        "algorithm 'trusted': half_life_hours must be above 0",
        code=1,
    )
    failed(run("timeline", "--set", "nokey", home=home), "expected KEY=VALUE", code=2)
    failed(
        run("timeline", "--algo", "trusted", "--feed", "global", home=home),
        "--algo, --explain and --set rank your home feed",
        code=1,
    )
    failed(
        run("timeline", "--explain", "--feed", "global", home=home),
        "cannot be used with --feed global",
        code=1,
    )
    assert snapshot(home) == before


def test_algos_lists_what_is_installed(home: Path) -> None:
    listed = ok(run("algos", home=home)).stdout.splitlines()
    assert [line.split()[0] for line in listed] == list(BUILTINS)
    assert listed[0].endswith("(default)")
    assert all(BUILTINS[line.split()[0]].description in line for line in listed)
    as_json = ok(run("algos", "--json", home=home)).json()
    assert [a["name"] for a in as_json] == list(BUILTINS)
    assert as_json[1]["settings"]["half_life_hours"] == 24.0
    assert [a["default"] for a in as_json] == [True, False, False, False]


def test_plugins_are_listed_and_used_and_a_broken_one_is_named(
    home: Path, plugins: dict[str, str]
) -> None:
    listed = ok(run("algos", home=home, env=plugins)).stdout.splitlines()
    assert [line.split()[0] for line in listed] == [*BUILTINS, "broken", "lively"]
    assert listed[-2] == (
        "broken         cannot be used: it failed to load: ModuleNotFoundError: No module named"
        " 'no_such_module' (p2p-broken 1.0, broken_feed:X)"
    )
    assert listed[-1].startswith("lively         home posts people are talking about")
    assert listed[-1].endswith("(p2psocial-lively 1.0, lively_feed:ALGORITHM)")

    lively = ok(run("timeline", "--algo", "lively", "--json", home=home, env=plugins)).json()
    assert lively[0]["text"] == "thinking about trust"
    assert [r["signal"] for r in lively[0]["reasons"]] == ["replies", "reactions", "recency"]
    failed(
        run("timeline", "--algo", "broken", home=home, env=plugins),
        "algorithm 'broken' (p2p-broken 1.0, broken_feed:X) cannot be used: it failed to load:"
        " ModuleNotFoundError: No module named 'no_such_module'",
        code=1,
    )
    ok(run("timeline", "--algo", "trusted", home=home, env=plugins))
