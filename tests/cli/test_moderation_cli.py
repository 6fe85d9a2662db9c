"""Moderation from the command line, run as the installed console script on real homes:
mute, block, filters, hidden reposts and moderation lists, what ``--show-hidden`` labels, that
nothing is hidden without saying so, and that every undo gives back exactly the same output.

The world (built once): Alice reads; Bob posts, replies to and reposts Alice, and mentions
her; Carol publishes the list ``spam`` naming Bob (and one of his posts). Each test works on
its own copy of Alice's home.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.test_cli import MESSAGE_ID, SHORT_LEN, failed, init, items, ok, run, written
from tests.cli.test_daemon import Daemon, start_daemon

__all__ = ["start_daemon"]  # a fixture, used by test_moderation_through_the_daemon

NOTE = "hidden by your moderation rules (see them with --show-hidden)"


@dataclass
class World:
    root: Path
    alice: Path
    bob: Path
    carol: Path
    a: str
    b: str
    c: str
    hello: str = ""
    crypto: str = ""
    garden: str = ""
    answer: str = ""
    shared: str = ""
    mention: str = ""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("moderation")
    alice, bob, carol = root / "alice", root / "bob", root / "carol"
    w = World(
        root,
        alice,
        bob,
        carol,
        a=init(alice, "--name", "Alice", "--no-passphrase"),
        b=init(bob, "--name", "Bob", "--no-passphrase"),
        c=init(carol, "--name", "Carol", "--no-passphrase"),
    )
    w.hello = written(run("post", "hello from alice", home=alice))
    ok(run("export", root / "alice.p2s", home=alice))
    ok(run("import", root / "alice.p2s", home=bob))
    w.crypto = written(run("post", "bob talks about Crypto", home=bob))
    w.garden = written(run("post", "my #Gardening tips", home=bob))
    w.answer = written(run("reply", w.hello, "bob answers alice", home=bob))
    w.shared = written(run("repost", w.hello, home=bob))
    w.mention = written(run("post", f"hey {w.a}", home=bob))
    ok(run("lists", "add", "spam", w.b, "--reason", "sells pills", home=carol))
    ok(run("lists", "add", "spam", w.garden, "--reason", "off topic", home=carol))
    for other in ("bob", "carol"):
        ok(run("export", root / f"{other}.p2s", home=root / other))
        ok(run("import", root / f"{other}.p2s", home=alice))
    return w


@pytest.fixture
def alice(world: World, tmp_path: Path) -> Path:
    """A private copy of Alice's home."""
    copy = tmp_path / "alice"
    shutil.copytree(world.alice, copy)
    return copy


def out(home: Path, *args: str) -> str:
    return ok(run(*args, home=home)).stdout


def labels(home: Path, *args: str) -> dict[str, str | None]:
    """Each item of a reading command's JSON with ``--show-hidden``: its label, or None."""
    found = items(home, *args, "--show-hidden")
    return {item["id"]: item["hidden"]["label"] if item["hidden"] else None for item in found}


GLOBAL = ("timeline", "--feed", "global")


# --- mute ----------------------------------------------------------------------------------


def test_mute_hides_says_so_labels_and_unmute_undoes(world: World, alice: Path) -> None:
    before = {
        args: out(alice, *args)
        for args in (GLOBAL, ("search", "bob"), ("mentions",), ("thread", world.hello))
    }
    settings = alice / "moderation.json"
    assert not settings.exists()

    muted = out(alice, "mute", world.b[:SHORT_LEN])
    assert muted == (
        f"muted {world.b[:SHORT_LEN]}: their messages are hidden from what you read"
        " (nothing is published)\n"
    )
    assert out(alice, "mute", world.b) == f"{world.b[:SHORT_LEN]} was already muted\n"
    assert settings.exists()

    timeline = out(alice, *GLOBAL)
    assert world.crypto[:SHORT_LEN] not in timeline
    assert timeline.rstrip("\n").endswith(f"5 items {NOTE}")
    shown = labels(alice, *GLOBAL)
    bobs = {world.crypto, world.garden, world.answer, world.shared, world.mention}
    assert {i for i, label in shown.items() if label == "muted"} == bobs
    revealed = out(alice, *GLOBAL, "--show-hidden")
    assert revealed.count("[hidden: muted]") == 5
    assert "bob talks about Crypto" in revealed

    # JSON stays one document on stdout; the count goes to stderr.
    result = run(*GLOBAL, "--json", home=alice)
    assert result.returncode == 0
    assert {item["id"] for item in json.loads(result.stdout)} == {world.hello}
    assert result.stderr == f"p2psocial: 5 items {NOTE}\n"

    assert out(alice, "search", "bob").strip() == f"2 items {NOTE}"
    assert out(alice, "mentions").strip() == f"1 item {NOTE}"
    thread = out(alice, "thread", world.hello)
    assert "[hidden: muted]" in thread  # the reply keeps its place, as a stub
    assert "bob answers alice" not in thread

    assert out(alice, "unmute", world.b) == f"unmuted {world.b[:SHORT_LEN]}\n"
    for args, text in before.items():
        assert out(alice, *args) == text, args
    failed(run("unmute", world.b, home=alice), "is not muted", code=1)


# --- block ---------------------------------------------------------------------------------


def test_block_is_published_hides_drops_bodies_and_unblock_restores(
    world: World, alice: Path
) -> None:
    before = out(alice, *GLOBAL)
    mine = ok(run("whoami", "--json", home=alice)).json()["messages"]
    blocked = ok(run("block", world.b[:SHORT_LEN], home=alice)).stdout.splitlines()
    assert blocked[0].startswith(f"blocked {world.b[:SHORT_LEN]} (p2sm1")
    assert blocked[1] == (
        "their posts are hidden, and this node no longer stores or serves their text;"
        " the block is public"
    )
    assert MESSAGE_ID.search(blocked[0])
    assert ok(run("whoami", "--json", home=alice)).json()["messages"] == mine + 1  # published

    shown = labels(alice, *GLOBAL)
    assert [label for label in shown.values() if label] == ["blocked"] * 5
    assert out(alice, "search", "crypto") == "nothing matches 'crypto'\n"  # not even indexed
    assert "bob talks about Crypto" not in out(alice, *GLOBAL, "--show-hidden")

    # Bob's next post arrives (here by import): stored without its body.
    later = written(run("post", "bob posts again", home=world.bob))
    ok(run("export", world.root / "bob-later.p2s", home=world.bob))
    ok(run("import", world.root / "bob-later.p2s", home=alice))
    [item] = [i for i in items(alice, *GLOBAL, "--show-hidden") if i["id"] == later]
    assert (item["has_body"], item["text"], item["hidden"]["label"]) == (False, None, "blocked")
    exported = alice.parent / "out.p2s"
    ok(run("export", exported, home=alice))
    assert b"bob talks about Crypto" not in exported.read_bytes()

    unblocked = out(alice, "unblock", world.b).splitlines()
    assert unblocked[0].startswith(f"unblocked {world.b[:SHORT_LEN]} (p2sm1")
    assert "stay without their text" in unblocked[1]
    after = out(alice, *GLOBAL)
    assert after.endswith(before)  # everything as it was, below Bob's newer post
    assert "[body not held]" in after.removesuffix(before)
    assert world.crypto in {i["id"] for i in items(alice, "search", "crypto")}
    failed(run("unblock", world.b, home=alice), "you do not block", code=1)


# --- filters and reposts -------------------------------------------------------------------


def test_filters_hide_with_their_labels_and_come_off(world: World, alice: Path) -> None:
    before = out(alice, *GLOBAL)
    assert out(alice, "filter") == "no filters: add one with `p2psocial filter add WORD`\n"
    assert out(alice, "filter", "add", "crypto") == 'added filter "crypto"\n'
    assert out(alice, "filter", "add", "crypto") == 'filter "crypto" was already there\n'
    assert out(alice, "filter", "add", "#gardening") == "added filter #gardening\n"
    assert out(alice, "filter", "add", "--regex", r"^bob answers\b") == (
        r"added filter /^bob answers\b/" + "\n"
    )
    assert out(alice, "filter", "list") == (
        'filter "crypto"\nfilter #gardening\n' + r"filter /^bob answers\b/" + "\n"
    )
    # --json before or after the action: the same JSON.
    listed = json.loads(out(alice, "filter", "--json", "list"))
    assert listed == json.loads(out(alice, "filter", "list", "--json"))
    assert len(listed) == 3
    shown = labels(alice, *GLOBAL)
    assert shown[world.crypto] == 'filter "crypto"'
    assert shown[world.garden] == "filter #gardening"
    assert shown[world.answer] == r"filter /^bob answers\b/"
    assert shown[world.hello] is None

    settings = (alice / "moderation.json").read_bytes()
    line = failed(run("filter", "add", "--regex", "(unclosed", home=alice), code=1)
    assert line == (
        "p2psocial: error: bad regex filter '(unclosed': missing ), unterminated subpattern"
        " at position 0"
    )
    failed(run("filter", "add", "  ", home=alice), "needs a word", code=1)
    failed(run("filter", "remove", "nothing", home=alice), 'there is no filter "nothing"')
    assert (alice / "moderation.json").read_bytes() == settings

    for args in (("crypto",), ("#gardening",), ("--regex", r"^bob answers\b")):
        ok(run("filter", "remove", *args, home=alice))
    assert out(alice, *GLOBAL) == before


def test_hide_reposts_on_and_off(world: World, alice: Path) -> None:
    before = out(alice, *GLOBAL)
    assert out(alice, "hide-reposts", "on") == "reposts are now hidden\n"
    assert out(alice, "hide-reposts", "on") == "reposts are already hidden\n"
    assert labels(alice, *GLOBAL)[world.shared] == "repost (reposts hidden)"
    assert out(alice, "hide-reposts", "off") == "reposts are now shown\n"
    assert out(alice, *GLOBAL) == before


# --- lists ---------------------------------------------------------------------------------


def test_a_subscribed_list_hides_with_its_reasons(world: World, alice: Path) -> None:
    before = out(alice, *GLOBAL)
    spam = f"{world.c[:SHORT_LEN]}/spam"
    assert out(alice, "lists", "subscribe", spam) == f"subscribed to {spam} (2 entries)\n"
    assert out(alice, "lists", "subscribe", f"{world.c}/spam") == (
        f"you already subscribe to {spam}\n"
    )
    shown = labels(alice, *GLOBAL)
    assert shown[world.garden] == f'list {spam}: "off topic"'  # the message entry first
    assert shown[world.crypto] == f'list {spam}: "sells pills"'
    assert shown[world.hello] is None
    assert f'[hidden: list {spam}: "sells pills"]' in out(alice, *GLOBAL, "--show-hidden")
    assert out(alice, "lists") == (
        f"your lists:\n  (none: start one with `p2psocial lists publish NAME`)\n"
        f"subscribed to:\n  {spam}  2 entries\n"
    )
    assert out(alice, "lists", "show", spam) == (
        f"{spam}: 2 entries\n"
        f"  author  {world.b[:SHORT_LEN]}  sells pills\n"
        f"  message {world.garden[:SHORT_LEN]}  off topic\n"
    )
    assert out(alice, "lists", "unsubscribe", spam) == f"unsubscribed from {spam}\n"
    assert out(alice, *GLOBAL) == before
    failed(run("lists", "unsubscribe", spam, home=alice), "you do not subscribe", code=1)
    failed(run("lists", "subscribe", "spam", home=alice), "AUTHOR/NAME", code=1)
    failed(run("lists", "subscribe", f"{world.c}/Spam", home=alice), "bad list name", code=1)


def test_a_list_not_held_yet_applies_once_it_arrives(world: World, alice: Path) -> None:
    dave = alice.parent / "dave"
    d = init(dave, "--no-passphrase")
    ok(run("lists", "add", "bots", world.b, "--reason", "a bot", home=dave))
    ref = f"{d[:SHORT_LEN]}/bots"
    assert out(alice, "lists", "subscribe", f"{d}/bots") == (
        f"subscribed to {ref}: not held yet; it applies once it arrives"
        " (sync brings it from any peer that holds it)\n"
    )
    assert f"{ref}  not held yet: it applies once it arrives" in out(alice, "lists")
    assert not any(labels(alice, *GLOBAL).values())
    ok(run("export", alice.parent / "dave.p2s", home=dave))
    ok(run("import", alice.parent / "dave.p2s", home=alice))
    assert labels(alice, *GLOBAL)[world.crypto] == f'list {ref}: "a bot"'


def test_my_own_list(world: World, alice: Path) -> None:
    mine = f"{world.a[:SHORT_LEN]}/mine"
    published = out(alice, "lists", "publish", "mine").splitlines()
    assert published[0].startswith(f"published {mine} (0 entries): p2sm1")
    assert published[1].startswith(f"you now subscribe to {mine}")
    added = out(alice, "lists", "add", "mine", world.crypto[:SHORT_LEN], "--reason", "hype")
    assert added.startswith(f"added {world.crypto[:SHORT_LEN]} to {mine} (1 entry): published")
    assert labels(alice, *GLOBAL)[world.crypto] == f'list {mine}: "hype"'
    shown = ok(run("lists", "show", "mine", "--json", home=alice)).json()
    assert shown["entries"] == [{"message": world.crypto, "reason": "hype"}]
    removed = out(alice, "lists", "remove", "mine", world.crypto)
    assert removed.startswith(f"removed {world.crypto[:SHORT_LEN]} from {mine} (0 entries)")
    assert labels(alice, *GLOBAL)[world.crypto] is None
    failed(run("lists", "publish", "Mine", home=alice), "bad list name", code=1)
    failed(run("lists", "add", "mine", "xyz", "--reason", "r", home=alice), "neither an author")
    failed(run("lists", "add", "mine", world.b, "--reason", " ", home=alice), "cannot be published")


def test_the_moderation_overview(world: World, alice: Path) -> None:
    ok(run("mute", world.c, home=alice))
    ok(run("block", world.b, home=alice))
    ok(run("filter", "add", "crypto", home=alice))
    ok(run("lists", "subscribe", f"{world.c}/spam", home=alice))
    facts = ok(run("moderation", "--json", home=alice)).json()
    assert facts == {
        "muted": [world.c],
        "blocked": [world.b],
        "filters": [{"kind": "keyword", "text": "crypto", "label": 'filter "crypto"'}],
        "hide_reposts": False,
        "subscriptions": [{"list": f"{world.c}/spam", "held": True, "entries": 2}],
    }
    text = out(alice, "moderation")
    assert f"muted:         Carol ({world.c[:SHORT_LEN]})" in text
    assert f"blocked:       Bob ({world.b[:SHORT_LEN]})" in text


# --- the settings file, the daemon, deletes -------------------------------------------------


def test_a_damaged_settings_file_is_one_clear_error(world: World, alice: Path) -> None:
    settings = alice / "moderation.json"
    settings.write_bytes(b'{"format": 1, "muted": 3}')
    for args in (GLOBAL, ("search", "bob"), ("mute", world.b), ("filter",)):
        line = failed(run(*args, home=alice), code=1)
        assert "moderation.json is damaged ('muted' must be a list of strings)" in line, args
    assert settings.read_bytes() == b'{"format": 1, "muted": 3}'


def test_moderation_through_the_daemon(
    world: World, alice: Path, start_daemon: Callable[..., Daemon]
) -> None:
    daemon = start_daemon(alice)
    ok(run("mute", world.b, home=alice))
    ok(run("block", world.c, home=alice))
    ok(run("lists", "subscribe", f"{world.c}/spam", home=alice))
    ok(run("filter", "add", "crypto", home=alice))
    log = daemon.node_log()
    for method in ("mute", "block", "list_subscribe", "filter_add"):
        assert f": {method} done" in log, method
    assert labels(alice, *GLOBAL)[world.crypto] == "muted"  # read while the daemon runs
    ok(run("unmute", world.b, home=alice))
    assert labels(alice, *GLOBAL)[world.crypto] == f'list {world.c[:SHORT_LEN]}/spam: "sells pills"'
    assert daemon.stop()[0] == 0


def test_delete_says_plainly_that_it_is_a_request(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init(home, "--no-passphrase")
    post = written(run("post", "soon gone", home=home))
    lines = out(home, "delete", post).splitlines()
    assert lines[0].startswith(f"asked to delete {post[:SHORT_LEN]} (p2sm1")
    assert lines[1] == (
        "this node dropped its text at once; the request goes to every node, and nodes that"
        " honour it drop the text too, but a node that does not honour requests may keep a"
        " copy, and so may anyone who saved one"
    )
    assert "a request" in out(home, "delete", "--help")
