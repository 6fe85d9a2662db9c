"""End-to-end tests of the ``p2psocial`` command, run as the installed console script.

Every test runs the real script in a subprocess, in temporary homes, with a scrubbed
environment (``HOME`` points into the temporary directory too) and no terminal on stdin.
Homes that tests only read are built once per module (:func:`world`); tests that change or
damage a home work on their own home or on a copy.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

_SCRIPT = shutil.which("p2psocial", path=str(Path(sys.executable).parent))
TIMEOUT = 30.0
PASSPHRASE_ENV = "P2PSOCIAL_PASSPHRASE"
HOME_ENV = "P2PSOCIAL_HOME"
PASSPHRASE = "correct horse battery staple"

BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
MESSAGE_ID = re.compile(rf"\bp2sm1[{BECH32}]{{58}}\b")
AUTHOR_ID = re.compile(rf"\bp2sa1[{BECH32}]{{58}}\b")
SHORT_LEN = len("p2sm1") + 8

SEGMENT_HEADER = b"p2slog\x00\x01"
EXPORT_HEADER = b"p2sexp\x00\x01"
FILE_HEADER = 8
FRAME_HEADER = 12


# --- running the command -----------------------------------------------------------------


def script() -> str:
    """The console script of the venv running the tests."""
    if _SCRIPT is None:
        pytest.fail(f"no p2psocial console script next to {sys.executable}")
    return _SCRIPT


@dataclass(frozen=True)
class Result:
    """What one run of the command did."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def err_lines(self) -> list[str]:
        return self.stderr.splitlines()

    def json(self) -> Any:
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError as exc:
            pytest.fail(f"{self.describe()}\nstdout is not JSON: {exc}")

    def describe(self) -> str:
        return (
            f"$ {' '.join(self.argv)}\nexit {self.returncode}\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )


def scrubbed_env(user_home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: nothing of the real user's, ``HOME`` in the test's tmp dir."""
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.defpath}",
        "HOME": str(user_home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra or {})
    return env


def run(
    *args: str | Path,
    home: Path | None,
    input: str | bytes | None = None,
    env: Mapping[str, str] | None = None,
    user_home: Path | None = None,
) -> Result:
    """Run ``p2psocial [--home HOME] ARGS...`` and return what it did.

    ``HOME`` is ``user_home``, else a ``user`` directory next to ``home``; ``env`` adds
    variables to the scrubbed environment.
    """
    if user_home is None:
        if home is None:
            raise ValueError("give user_home when no home is given")
        user_home = home.parent / "user"
    argv = [script(), *(["--home", str(home)] if home is not None else []), *map(str, args)]
    data = input.encode() if isinstance(input, str) else input
    proc = subprocess.run(
        argv,
        input=data,
        stdin=subprocess.DEVNULL if data is None else None,
        capture_output=True,
        env=scrubbed_env(user_home, env),
        timeout=TIMEOUT,
        check=False,
    )
    return Result(
        tuple(a.replace(str(home), "<home>") if home else a for a in argv[1:]),
        proc.returncode,
        proc.stdout.decode("utf-8", "backslashreplace"),
        proc.stderr.decode("utf-8", "backslashreplace"),
    )


def ok(result: Result) -> Result:
    """Assert a run succeeded quietly (nothing on stderr, no traceback)."""
    assert result.returncode == 0, result.describe()
    assert result.stderr == "", result.describe()
    return result


def failed(result: Result, *fragments: str, code: int | None = None) -> str:
    """Assert a run failed with exactly one line on stderr; return that line."""
    assert "Traceback" not in result.stdout + result.stderr, result.describe()
    assert result.returncode != 0, result.describe()
    if code is not None:
        assert result.returncode == code, result.describe()
    assert len(result.err_lines) == 1, result.describe()
    assert result.stdout == "", result.describe()
    line = result.err_lines[0]
    assert line.startswith("p2psocial"), result.describe()
    for fragment in fragments:
        assert fragment.lower() in line.lower(), result.describe()
    return line


def written(result: Result) -> str:
    """The id of the message a writing command printed."""
    ok(result)
    found: list[str] = MESSAGE_ID.findall(result.stdout)
    assert found, result.describe()
    return found[-1]


def items(home: Path, *args: str) -> list[dict[str, Any]]:
    """Run a reading command with ``--json`` and return its list of items."""
    value = ok(run(*args, "--json", home=home)).json()
    assert isinstance(value, list)
    return value


def ids(values: Sequence[dict[str, Any]]) -> list[str]:
    return [v["id"] for v in values]


def global_feed(home: Path) -> list[dict[str, Any]]:
    return items(home, "timeline", "--feed", "global", "--limit", "1000")


def init(home: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Create an identity; return the author id it printed."""
    created = ok(run("init", *args, home=home, env=env))
    [author] = AUTHOR_ID.findall(created.stdout)
    return str(author)


# --- files -------------------------------------------------------------------------------


def snapshot(home: Path) -> dict[str, bytes]:
    """Every byte stored in ``home``'s log directory, and its keystore."""
    files = {}
    if (home / "identity.json").exists():
        files["identity.json"] = (home / "identity.json").read_bytes()
    if (home / "log").exists():
        for path in sorted((home / "log").rglob("*")):
            if path.is_file():
                files[str(path.relative_to(home))] = path.read_bytes()
    return files


def segment(home: Path) -> Path:
    [seg] = sorted((home / "log").glob("*.seg"))
    return seg


def frames(data: bytes) -> list[tuple[int, int]]:
    """(offset, payload length) of each frame after the 8-byte file header."""
    found = []
    offset = FILE_HEADER
    while offset < len(data):
        assert data[offset : offset + 4] == b"P2SR"
        (length,) = struct.unpack(">I", data[offset + 4 : offset + 8])
        found.append((offset, length))
        offset += FRAME_HEADER + length
    assert offset == len(data)
    return found


def flip(data: bytes, position: int, mask: int = 0x01) -> bytes:
    damaged = bytearray(data)
    damaged[position] ^= mask
    return bytes(damaged)


def typo(full_id: str, position: int = 20) -> str:
    """``full_id`` with one data character changed to another bech32 character."""
    old = full_id[position]
    new = BECH32[(BECH32.index(old) + 1) % len(BECH32)]
    return full_id[:position] + new + full_id[position + 1 :]


# --- a populated world, built once -------------------------------------------------------


@dataclass
class World:
    """Alice and Bob, with a little of everything; Carol exists but nobody knows her."""

    root: Path
    alice: Path
    bob: Path
    carol: Path
    a: str
    b: str
    c: str
    hello: str = ""
    hello_short: str = ""
    multi: str = ""
    reply1: str = ""
    reply2: str = ""
    reply3: str = ""
    repost: str = ""
    doomed: str = ""
    doomed_reply: str = ""
    bob_post: str = ""
    export: Path = field(default_factory=Path)
    exported: int = 0
    known: list[str] = field(default_factory=list)

    def home_feed(self) -> list[str]:
        """Alice's home feed as it must be: newest first, the deleted post gone."""
        return [
            self.bob_post,
            self.doomed_reply,
            self.repost,
            self.reply2,
            self.reply3,
            self.reply1,
            self.multi,
            self.hello,
        ]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("world")
    alice, bob, carol = root / "alice", root / "bob", root / "carol"
    w = World(
        root,
        alice,
        bob,
        carol,
        a=init(alice, "--name", "Alice", "--no-passphrase"),
        b=init(bob, "--name", "Bob", "--no-passphrase"),
        c=init(carol, "--no-passphrase"),
    )

    def alice_wrote(*args: str, input: str | None = None) -> str:
        message = written(run(*args, home=alice, input=input))
        w.known.append(message)
        return message

    w.hello = alice_wrote("post", "hello #world from alice")
    w.multi = alice_wrote("post", "-", input="multi\nline #world\n\n")
    timeline = ok(run("timeline", home=alice)).stdout
    shorts = [
        s for s in re.findall(rf"\bp2sm1[{BECH32}]{{8}}\b", timeline) if s != w.multi[:SHORT_LEN]
    ]
    assert shorts == [w.hello[:SHORT_LEN]], timeline
    w.hello_short = shorts[0]
    w.reply1 = alice_wrote("reply", w.hello_short, "first reply")
    w.reply3 = alice_wrote("reply", w.hello, "second direct reply")
    w.reply2 = alice_wrote("reply", w.reply1, "nested reply")
    alice_wrote("react", w.hello, "👍")
    w.repost = alice_wrote("repost", w.hello)
    w.doomed = alice_wrote("post", "doomed zebra")
    w.doomed_reply = alice_wrote("reply", w.doomed, "reply under the doomed post")
    deleted = ok(run("delete", w.doomed, home=alice))
    assert deleted.stdout.startswith(f"asked to delete {w.doomed[:SHORT_LEN]} (p2sm1")
    w.known.append(MESSAGE_ID.findall(deleted.stdout)[-1])
    # Bob is unknown to Alice's node when she follows him by his full id.
    failed(run("profile", w.b[:SHORT_LEN], home=alice), "no author matches", code=1)
    alice_wrote("follow", w.b)
    w.bob_post = written(run("post", f"hi {w.a}, see #news gizmo", home=bob))
    w.known.append(w.bob_post)
    ok(run("export", root / "bob.p2s", home=bob))
    imported = ok(run("import", root / "bob.p2s", home=alice)).stdout
    assert "imported 2 new messages" in imported  # Bob's profile and post
    alice_wrote("profile", "--bio", "builds p2p things")
    # An ambiguous one-character prefix is all but certain among these ids; make sure.
    while not _ambiguous_prefix(w.known):
        alice_wrote("post", f"filler {len(w.known)}")
    w.export = root / "alice.p2s"
    exported = ok(run("export", w.export, home=alice)).stdout
    count = re.fullmatch(rf"exported (\d+) messages to {re.escape(str(w.export))}\n", exported)
    assert count, exported
    w.exported = int(count.group(1))
    return w


def _ambiguous_prefix(known: Sequence[str]) -> str | None:
    firsts = [m[: len("p2sm1") + 1] for m in known]
    return next((p for p in firsts if firsts.count(p) > 1), None)


@pytest.fixture(scope="module")
def empty_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised home holding nothing (no name, no posts), opened once.

    The first node to open a home creates its (empty) log: that is not what the tests
    using this home look for.
    """
    home = tmp_path_factory.mktemp("empty") / "home"
    init(home, "--no-passphrase")
    assert ok(run("whoami", "--json", home=home)).json()["messages"] == 0
    return home


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose key is encrypted under :data:`PASSPHRASE`, with one post."""
    home = tmp_path_factory.mktemp("encrypted") / "home"
    init(home, env={PASSPHRASE_ENV: PASSPHRASE})
    ok(
        run(
            "post", "first, signed with the passphrase", home=home, env={PASSPHRASE_ENV: PASSPHRASE}
        )
    )
    return home


@pytest.fixture
def alice_copy(world: World, tmp_path: Path) -> Path:
    """A private copy of Alice's home, to damage."""
    copy = tmp_path / "alice"
    shutil.copytree(world.alice, copy)
    return copy


# --- the "done when" -------------------------------------------------------------


def test_init_post_timeline_json_shows_the_post(tmp_path: Path) -> None:
    home = tmp_path / "home"
    created = ok(run("init", "--no-passphrase", home=home))
    posted = written(run("post", "hi", home=home))
    timeline = items(home, "timeline")
    me = ok(run("whoami", "--json", home=home)).json()

    assert AUTHOR_ID.fullmatch(me["id"]), me
    assert me["id"] in created.stdout
    assert me["short"] == me["id"][:SHORT_LEN]
    assert me["encrypted"] is False
    assert len(timeline) == 1
    [item] = timeline
    assert MESSAGE_ID.fullmatch(item["id"]), item
    assert len(item["id"]) == 63
    assert item["id"] == posted
    assert item["author"] == me["id"]
    assert item["text"] == "hi"
    assert item["kind"] == "post"
    assert item["seq"] == 1
    assert item["deleted"] is False
    assert me["messages"] == 1


def test_post_size_limit_counts_bytes_not_characters(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init(home, "--no-passphrase")
    at_limit = "é" * 1024  # 2048 bytes of UTF-8
    posted = written(run("post", at_limit, home=home))
    failed(run("post", at_limit + "a", home=home), "2049", code=1)
    assert ids(items(home, "timeline")) == [posted]
    assert items(home, "timeline")[0]["text"] == at_limit


def test_home_from_environment_variable_and_default(tmp_path: Path) -> None:
    user = tmp_path / "user"
    home = tmp_path / "from-env"
    env = {HOME_ENV: str(home)}
    created = ok(run("init", "--no-passphrase", home=None, env=env, user_home=user))
    assert (home / "identity.json").is_file()
    posted = written(run("post", "via the environment", home=None, env=env, user_home=user))
    timeline = ok(run("timeline", "--json", home=None, env=env, user_home=user)).json()
    assert ids(timeline) == [posted]
    me = ok(run("whoami", "--json", home=None, env=env, user_home=user)).json()
    assert me["id"] in created.stdout
    assert not user.exists(), "P2PSOCIAL_HOME given, yet something was written under HOME"

    # --home wins over the environment variable.
    other = tmp_path / "other"
    ok(run("init", "--no-passphrase", home=other, env=env))
    assert items(other, "timeline") == []

    # Neither: the platform default under $HOME (which is in tmp_path here).
    ok(run("init", "--no-passphrase", home=None, user_home=user))
    assert (user / ".local" / "share" / "p2psocial" / "identity.json").is_file()


# --- identity and passphrases ------------------------------------------------------------


def test_init_with_passphrase_encrypts_the_key(encrypted: Path) -> None:
    keystore = json.loads((encrypted / "identity.json").read_text())
    assert keystore["cipher"] != "none"
    assert "kdf" in keystore
    me = ok(run("whoami", "--json", home=encrypted)).json()
    assert me["encrypted"] is True
    assert keystore["public_key"] not in keystore["secret"]


def test_right_passphrase_signs(encrypted: Path) -> None:
    before = items(encrypted, "timeline")
    posted = written(run("post", "second", home=encrypted, env={PASSPHRASE_ENV: PASSPHRASE}))
    after = items(encrypted, "timeline")  # reading needs no passphrase
    assert ids(after) == [posted, *ids(before)]


def test_wrong_passphrase_is_one_line_and_stores_nothing(encrypted: Path) -> None:
    before, timeline = snapshot(encrypted), items(encrypted, "timeline")
    result = run("post", "never stored", home=encrypted, env={PASSPHRASE_ENV: "wrong"})
    failed(result, "wrong passphrase", code=1)
    assert snapshot(encrypted) == before
    assert items(encrypted, "timeline") == timeline


def test_missing_passphrase_without_a_terminal_says_how(encrypted: Path) -> None:
    before = snapshot(encrypted)
    failed(run("post", "never stored", home=encrypted), PASSPHRASE_ENV, code=1)
    assert snapshot(encrypted) == before


def test_init_twice_leaves_the_identity_alone(encrypted: Path) -> None:
    before = snapshot(encrypted)
    failed(run("init", "--no-passphrase", home=encrypted), "already", code=1)
    failed(run("init", "--name", "X", home=encrypted, env={PASSPHRASE_ENV: "x"}), "already")
    assert snapshot(encrypted) == before
    assert json.loads((encrypted / "identity.json").read_text())["cipher"] != "none"


def test_init_name_publishes_a_profile(world: World) -> None:
    alice = ok(run("whoami", "--json", home=world.alice)).json()
    assert alice["name"] == "Alice"
    assert alice["id"] == world.a
    text = ok(run("whoami", home=world.alice)).stdout
    assert text.startswith(f"Alice  {world.a}\n")
    # Bob's name travelled with his messages.
    [bob_post] = items(world.alice, "timeline", "--feed", f"author:{world.b}")
    assert bob_post["author_name"] == "Bob"


# --- writing and reading -----------------------------------------------------------------


def test_home_feed_newest_first_without_the_deleted_post(world: World) -> None:
    feed = items(world.alice, "timeline")
    assert ids(feed) == world.home_feed()
    [multi] = [item for item in feed if item["id"] == world.multi]
    assert multi["text"] == "multi\nline #world"  # from stdin, trailing newlines dropped
    stamps = [item["ts"] for item in feed]
    assert stamps == sorted(stamps, reverse=True)
    assert world.doomed not in ids(global_feed(world.alice))
    assert ids(items(world.alice, "timeline", "--limit", "2")) == world.home_feed()[:2]


def test_replies_reactions_reposts(world: World) -> None:
    by_id = {item["id"]: item for item in global_feed(world.alice)}
    hello, reply1, reply2 = by_id[world.hello], by_id[world.reply1], by_id[world.reply2]
    assert hello["replies"] == 2
    assert hello["reactions"] == {"👍": 1}
    assert hello["reposts"] == 1
    assert reply1["kind"] == "reply"
    assert reply1["parent"] == reply1["root"] == world.hello  # replied by short prefix
    assert reply2["parent"] == world.reply1
    assert reply2["root"] == world.hello
    repost = by_id[world.repost]
    assert repost["kind"] == "repost"
    assert repost["target"] == world.hello
    assert repost["reposted"]["id"] == world.hello
    assert repost["reposted"]["text"] == "hello #world from alice"


def test_thread_is_depth_first_with_depths(world: World) -> None:
    thread = items(world.alice, "thread", world.hello)
    assert ids(thread) == [world.hello, world.reply1, world.reply2, world.reply3]
    assert [item["depth"] for item in thread] == [0, 1, 2, 1]
    # From anywhere in it, by full id or prefix, the same conversation.
    assert items(world.alice, "thread", world.reply2[:20]) == thread
    text = ok(run("thread", world.hello, home=world.alice)).stdout
    assert "\n        Alice (" in text  # reply2, two levels in
    assert text.index("nested reply") < text.index("second direct reply")


def test_deleted_post_shows_as_deleted_in_its_thread(world: World) -> None:
    thread = items(world.alice, "thread", world.doomed)
    assert ids(thread) == [world.doomed, world.doomed_reply]
    assert thread[0]["deleted"] is True
    assert thread[0]["text"] is None
    assert thread[1]["deleted"] is False
    text = ok(run("thread", world.doomed, home=world.alice)).stdout
    assert "[deleted by its author]" in text
    assert "zebra" not in text
    assert items(world.alice, "search", "zebra") == []


def test_feeds(world: World) -> None:
    alice_items = [m for m in world.home_feed() if m != world.bob_post]
    assert ids(global_feed(world.alice)) == world.home_feed()
    assert ids(items(world.alice, "timeline", "--feed", f"author:{world.b}")) == [world.bob_post]
    by_prefix = items(world.alice, "timeline", "--feed", f"author:{world.a[:SHORT_LEN]}")
    assert ids(by_prefix) == alice_items
    assert ids(items(world.alice, "timeline", "--feed", "tag:world")) == [world.multi, world.hello]
    limited = items(world.alice, "timeline", "--feed", "tag:world", "--limit", "1")
    assert ids(limited) == [world.multi]
    assert ids(items(world.alice, "timeline", "--feed", "tag:news")) == [world.bob_post]
    assert ok(run("timeline", "--feed", "tag:nothing", home=world.alice)).stdout == (
        "nothing in tag:nothing yet\n"
    )
    # Bob follows nobody and imported nothing: his home and global feeds are his own.
    assert ids(items(world.bob, "timeline", "--feed", "global")) == [world.bob_post]


def test_mentions(world: World) -> None:
    [mention] = items(world.alice, "mentions")
    assert mention["id"] == world.bob_post
    assert world.a in mention["text"]
    assert mention["author"] == world.b
    assert ok(run("mentions", home=world.bob)).stdout == "no mentions yet\n"


def test_search(world: World) -> None:
    assert ids(items(world.alice, "search", "hello")) == [world.hello]
    assert ids(items(world.alice, "search", "hel*")) == [world.hello]
    assert ids(items(world.alice, "search", "gizmo")) == [world.bob_post]
    assert items(world.alice, "search", "hello gizmo") == []  # every word must appear
    assert items(world.alice, "search", "hel") == []  # a word, not a substring
    none = ok(run("search", "qqqq", home=world.alice)).stdout
    assert none == "nothing matches 'qqqq'\n"
    text = ok(run("search", "nested", home=world.alice)).stdout
    assert "nested reply" in text
    assert world.reply2[:SHORT_LEN] in text


def test_followers_and_following(world: World) -> None:
    [followed] = items(world.alice, "following")
    assert followed["id"] == world.b
    assert followed["name"] == "Bob"
    [follower] = items(world.alice, "followers", world.b[:SHORT_LEN])
    assert follower["id"] == world.a
    assert follower["name"] == "Alice"
    assert ok(run("followers", home=world.alice)).stdout == "nobody yet\n"
    assert ok(run("following", home=world.alice)).stdout == f"Bob  {world.b}\n"


def test_follow_and_unfollow_an_unknown_author(world: World) -> None:
    failed(run("profile", world.c[:SHORT_LEN], home=world.alice), "no author", code=1)
    followed = ok(run("follow", world.c, home=world.alice)).stdout
    assert f"following {world.c[:SHORT_LEN]}" in followed
    assert sorted(ids(items(world.alice, "following"))) == sorted([world.b, world.c])
    assert world.a in ids(items(world.alice, "followers", world.c))
    ok(run("unfollow", world.c, home=world.alice))
    assert ids(items(world.alice, "following")) == [world.b]
    assert items(world.alice, "followers", world.c) == []


def test_profile(world: World) -> None:
    mine = ok(run("profile", "--json", home=world.alice)).json()
    assert mine["id"] == world.a
    assert mine["name"] == "Alice"  # kept when only the bio changed
    assert mine["bio"] == "builds p2p things"
    assert (mine["following"], mine["followers"]) == (1, 0)
    bob = ok(run("profile", world.b[:SHORT_LEN], "--json", home=world.alice)).json()
    assert (bob["id"], bob["name"], bob["followers"]) == (world.b, "Bob", 1)
    text = ok(run("profile", home=world.alice)).stdout.splitlines()
    assert text[:2] == [f"Alice  {world.a}", "builds p2p things"]


def test_profile_set_name_and_bio(world: World) -> None:
    home = world.carol
    ok(run("profile", "--name", "Dora", "--bio", "first bio", home=home))
    ok(run("profile", "--bio", "second bio", home=home))
    me = ok(run("whoami", "--json", home=home)).json()
    assert (me["name"], me["bio"]) == ("Dora", "second bio")


READING_COMMANDS: list[tuple[str, Callable[[World], list[str]], type]] = [
    ("whoami", lambda w: ["whoami"], dict),
    ("profile", lambda w: ["profile"], dict),
    ("timeline", lambda w: ["timeline"], list),
    ("thread", lambda w: ["thread", w.hello_short], list),
    ("mentions", lambda w: ["mentions", "--limit", "5"], list),
    ("search", lambda w: ["search", "reply"], list),
    ("followers", lambda w: ["followers", w.b], list),
    ("following", lambda w: ["following"], list),
    ("verify", lambda w: ["verify"], dict),
]


@pytest.mark.parametrize(
    ("args", "kind"),
    [pytest.param(args, kind, id=name) for name, args, kind in READING_COMMANDS],
)
def test_every_reading_command_speaks_json(
    world: World, args: Callable[[World], list[str]], kind: type
) -> None:
    value = ok(run(*args(world), "--json", home=world.alice)).json()
    assert isinstance(value, kind)


def test_reindex_changes_nothing_visible(world: World) -> None:
    queries = [
        ["timeline", "--feed", "global", "--limit", "1000"],
        ["thread", world.doomed],
        ["profile", world.b],
    ]
    before = [ok(run(*q, "--json", home=world.alice)).stdout for q in queries]
    records = len(frames(segment(world.alice).read_bytes()))
    result = ok(run("reindex", home=world.alice))
    assert result.stdout == f"reindexed {records} messages\n"
    after = [ok(run(*q, "--json", home=world.alice)).stdout for q in queries]
    assert after == before


def test_export_then_import_into_another_home(world: World) -> None:
    carol = world.carol
    assert world.exported == len(frames(world.export.read_bytes()))
    first = ok(run("import", world.export, home=carol)).stdout
    assert f"imported {world.exported} new messages" in first
    assert "(0 already held" in first
    carol_global = global_feed(carol)
    assert ids(carol_global) == world.home_feed()
    assert {i["author"] for i in carol_global} == {world.a, world.b}
    assert ok(run("timeline", home=carol)).stdout == "nothing in home yet\n"
    again = ok(run("import", world.export, home=carol)).stdout
    assert f"imported 0 new messages from {world.export} ({world.exported} already held" in again
    assert ok(run("verify", home=carol)).stdout.startswith("OK: ")


def test_export_leaves_out_deleted_bodies(world: World) -> None:
    assert b"doomed zebra" not in world.export.read_bytes()


def test_export_error_names_the_target(world: World, tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "out.p2s"
    failed(run("export", target, home=world.alice), str(target), code=1)
    assert not target.parent.exists()


# --- bad input ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    """One bad invocation: its arguments, what stdin holds, what the error must say."""

    args: Callable[[World], list[str | Path]]
    code: int
    says: str = ""
    input: str | bytes | None = None


def _unknown_prefix(w: World) -> str:
    prefix = w.hello[:16]
    return typo(prefix, position=15)


BAD_INPUT: dict[str, Bad] = {
    "unknown-command": Bad(lambda w: ["pots", "hi"], 2, "did you mean 'post'"),
    "unknown-command-no-suggestion": Bad(lambda w: ["xyzzy"], 2, "unknown command"),
    "missing-argument": Bad(lambda w: ["post"], 2, "required"),
    "missing-second-argument": Bad(lambda w: ["reply", w.hello], 2, "required"),
    "limit-zero": Bad(lambda w: ["timeline", "--limit", "0"], 2, "--limit"),
    "limit-not-a-number": Bad(lambda w: ["search", "x", "--limit", "many"], 2, "--limit"),
    "limit-too-big": Bad(lambda w: ["mentions", "--limit", "1001"], 2, "--limit"),
    "malformed-id": Bad(lambda w: ["thread", "notanid"], 1, "not a valid message id"),
    "malformed-id-characters": Bad(lambda w: ["react", "p2sm1bio", "👍"], 1, "not a valid"),
    "author-id-for-a-message": Bad(lambda w: ["repost", w.a], 1, "not a valid message id"),
    "checksum-typo-message": Bad(lambda w: ["reply", typo(w.hello), "hi"], 1, "not a valid"),
    "checksum-typo-author": Bad(lambda w: ["follow", typo(w.b)], 1, "checksum"),
    "ambiguous-prefix": Bad(
        lambda w: ["react", str(_ambiguous_prefix(w.known)), "👍"], 1, "matches several"
    ),
    "unknown-message-prefix": Bad(lambda w: ["repost", _unknown_prefix(w)], 1, "no message"),
    "unknown-author-prefix": Bad(lambda w: ["followers", typo(w.c[:16], 15)], 1, "no author"),
    "unknown-feed": Bad(lambda w: ["timeline", "--feed", "friends"], 1, "unknown feed"),
    "unknown-author-feed": Bad(lambda w: ["timeline", "--feed", "author:"], 1, "feed"),
    "empty-post": Bad(lambda w: ["post", ""], 1, "empty"),
    "empty-post-from-stdin": Bad(lambda w: ["post", "-"], 1, "empty", input="\n"),
    "blank-reply": Bad(lambda w: ["reply", w.hello, "   "], 1, "empty"),
    "post-over-2048-bytes": Bad(lambda w: ["post", "é" * 1025], 1, "2050 bytes"),
    "control-character": Bad(lambda w: ["post", "\x1b[31mred"], 1, "control character"),
    "control-character-in-reply": Bad(lambda w: ["reply", w.hello, "a\x07b"], 1, "control"),
    "emoji-with-a-space": Bad(lambda w: ["react", w.hello, "👍 👍"], 1, "space"),
    "follow-yourself": Bad(lambda w: ["follow", w.a], 1, "yourself"),
    "delete-someone-elses": Bad(lambda w: ["delete", w.bob_post], 1, "only the author"),
    "set-someone-elses-profile": Bad(lambda w: ["profile", w.b, "--name", "X"], 1, "own"),
    "empty-search": Bad(lambda w: ["search", " "], 1, "word"),
    "name-too-long": Bad(lambda w: ["profile", "--name", "n" * 65], 1, "64"),
}

BAD_INPUT.update(
    {
        "checksum-typo-message-says-checksum": Bad(
            lambda w: ["thread", typo(w.hello)], 1, "checksum"
        ),
        "undecodable-argument": Bad(lambda w: ["post", os.fsdecode(b"caf\xe9")], 2, "UTF-8"),
        "undecodable-stdin": Bad(lambda w: ["post", "-"], 1, "UTF-8", input=b"caf\xe9\n"),
        "undecodable-search": Bad(lambda w: ["search", os.fsdecode(b"\xff")], 2, "UTF-8"),
    }
)


@pytest.mark.parametrize(
    "bad",
    [pytest.param(bad, id=name) for name, bad in BAD_INPUT.items()],
)
def test_bad_input_is_one_line_and_changes_nothing(world: World, bad: Bad) -> None:
    before = snapshot(world.alice)
    result = run(*bad.args(world), home=world.alice, input=bad.input)
    failed(result, bad.says, code=bad.code)
    assert snapshot(world.alice) == before


@pytest.fixture(scope="module")
def bad_exports(world: World) -> dict[str, Path]:
    """Damaged copies of Alice's export; the damage is always in its last record."""
    data = world.export.read_bytes()
    assert data.startswith(EXPORT_HEADER)
    last, length = frames(data)[-1]
    out = world.root / "bad-exports"
    out.mkdir()

    def save(name: str, content: bytes) -> Path:
        path = out / name
        path.write_bytes(content)
        return path

    payload = last + FRAME_HEADER + length // 2
    resealed = bytearray(flip(data, payload))
    crc = zlib.crc32(resealed[last + 4 : last + 8] + resealed[last + FRAME_HEADER :])
    resealed[last + 8 : last + 12] = struct.pack(">I", crc)
    return {
        "missing": out / "no-such-file.p2s",
        "not-an-export": save("notes.txt", b"these are my notes, not an export\n" * 4),
        "a-log-segment": save("segment.seg", SEGMENT_HEADER + data[FILE_HEADER:]),
        "truncated": save("truncated.p2s", data[: last + FRAME_HEADER + length // 2]),
        "flipped-byte": save("flipped.p2s", flip(data, payload)),
        "flipped-byte-crc-fixed": save("resealed.p2s", bytes(resealed)),
    }


BAD_IMPORTS: dict[str, list[str]] = {
    "missing": ["cannot read", "no-such-file.p2s"],
    "not-an-export": ["not a p2psocial export file"],
    "a-log-segment": ["export file"],
    "truncated": ["truncated", "record {n}"],
    "flipped-byte": ["record {n}"],
    "flipped-byte-crc-fixed": ["message {n}", "nothing was imported"],
}


@pytest.mark.parametrize("which", list(BAD_IMPORTS))
def test_bad_import_is_one_line_and_imports_nothing(
    world: World, empty_home: Path, bad_exports: dict[str, Path], which: str
) -> None:
    records = len(frames(world.export.read_bytes()))
    before = snapshot(empty_home)
    result = run("import", bad_exports[which], home=empty_home)
    failed(result, *(s.format(n=records) for s in BAD_IMPORTS[which]), code=1)
    assert snapshot(empty_home) == before


def test_bad_import_leaves_feeds_empty(
    world: World, empty_home: Path, bad_exports: dict[str, Path]
) -> None:
    failed(run("import", bad_exports["flipped-byte-crc-fixed"], home=empty_home), code=1)
    assert global_feed(empty_home) == []
    assert ok(run("whoami", "--json", home=empty_home)).json()["messages"] == 0


@pytest.mark.parametrize(
    ("args", "exists"),
    [
        (["post", "hi"], False),
        (["post", "hi"], True),
        (["timeline"], True),
        (["whoami", "--json"], False),
        (["verify"], False),
        (["import", "x.p2s"], True),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else ("empty-dir" if v else "no-dir"),
)
def test_uninitialised_home(tmp_path: Path, args: list[str], exists: bool) -> None:
    never = tmp_path / "never"
    if exists:
        never.mkdir()
    failed(run(*args, home=never), "no identity", "p2psocial init", code=1)
    assert never.exists() == exists
    assert not exists or list(never.iterdir()) == []


# --- verify and recovery -----------------------------------------------------------------


def test_verify_finds_every_flipped_byte(alice_copy: Path) -> None:
    good = ok(run("verify", "--json", home=alice_copy)).json()
    assert good["ok"] is True
    assert good["problems"] == []
    seg = segment(alice_copy)
    original = seg.read_bytes()
    layout = frames(original)
    assert good["records"] == len(layout)
    (first, first_len), (middle, middle_len) = layout[0], layout[len(layout) // 2]
    last, last_len = layout[-1]
    flips = {
        "segment header magic": (0, 0),
        "segment header version": (7, 0),
        "first frame magic": (first + 1, first),
        "first frame length": (first + 7, first),
        "first frame crc": (first + 10, first),
        "first frame payload": (first + FRAME_HEADER + 3, first),
        "middle frame length": (middle + 6, middle),
        "middle frame payload": (middle + FRAME_HEADER + middle_len // 2, middle),
        "last frame payload": (last + FRAME_HEADER + last_len - 1, last),
    }
    assert first_len > 4
    for where, (position, reported) in flips.items():
        damaged = flip(original, position, 0x10)
        seg.write_bytes(damaged)
        result = run("verify", "--json", home=alice_copy)
        assert result.returncode == 1, f"{where}\n{result.describe()}"
        report = result.json()
        assert report["ok"] is False, where
        assert report["problems"], where
        assert reported in [p["position"] for p in report["problems"]], (where, report)
        assert seg.read_bytes() == damaged, f"verify changed the log ({where})"
    text = run("verify", home=alice_copy)
    assert text.returncode == 1
    assert "PROBLEM at log position" in text.stdout
    assert text.stdout.splitlines()[-1].startswith("FAILED: 1 problem")
    seg.write_bytes(original)
    assert ok(run("verify", home=alice_copy)).stdout.startswith(f"OK: {len(layout)} records")


def _tear_last_record(home: Path) -> bytes:
    """Cut the log in the middle of its last record; return the bytes cut off."""
    seg = segment(home)
    data = seg.read_bytes()
    last, length = frames(data)[-1]
    cut = last + FRAME_HEADER + length // 2
    seg.write_bytes(data[:cut])
    return data[last:cut]


def test_torn_tail_is_recovered_by_the_next_write(alice_copy: Path) -> None:
    last_words = written(run("post", "last words before the crash", home=alice_copy))
    before = {item["id"]: item for item in global_feed(alice_copy)}
    kept = _tear_last_record(alice_copy)
    assert run("verify", home=alice_copy).returncode == 1

    result = run("post", "after the crash", home=alice_copy)
    assert result.returncode == 0, result.describe()
    assert "Traceback" not in result.stderr
    assert "recovered" in result.stderr
    after_crash = MESSAGE_ID.findall(result.stdout)[-1]

    after = {item["id"]: item for item in global_feed(alice_copy)}
    del before[last_words]
    assert after.pop(after_crash)["text"] == "after the crash"
    assert after == before
    assert ok(run("verify", home=alice_copy)).stdout.startswith("OK: ")
    torn = list((alice_copy / "log" / "torn").iterdir())
    assert [p.read_bytes() for p in torn] == [kept]


def test_torn_tail_recovery_is_reported_once(alice_copy: Path) -> None:
    _tear_last_record(alice_copy)
    result = run("post", "after the crash", home=alice_copy)
    assert result.returncode == 0, result.describe()
    about = [line for line in result.err_lines if re.search("recover|torn|dropped", line)]
    assert len(about) == 1, result.describe()
    assert len(result.err_lines) == 1, result.describe()


def test_damaged_index_is_rebuilt(alice_copy: Path) -> None:
    feed = global_feed(alice_copy)
    (alice_copy / "index.sqlite3").write_bytes(b"this is not a database\n" * 100)
    result = run("timeline", "--feed", "global", "--limit", "1000", "--json", home=alice_copy)
    assert "Traceback" not in result.stderr, result.describe()
    assert result.returncode == 0, result.describe()
    assert result.json() == feed


# --- a second process -------------------------------------------------------------------

_HOLDER = """
import sys
from pathlib import Path

import trio

from p2psocial.node import open_node


async def main() -> None:
    async with open_node(Path(sys.argv[1])):
        print("ready", flush=True)
        await trio.to_thread.run_sync(sys.stdin.read)


trio.run(main)
"""


@pytest.fixture
def held(world: World) -> Iterator[Path]:
    """Alice's home, opened by a node in another process until the test ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(world.alice)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=scrubbed_env(world.root / "user"),
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT)
        assert ready, "the holder did not open the node in time"
        assert proc.stdout.readline() == b"ready\n"
        yield world.alice
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=TIMEOUT)
        finally:
            if proc.returncode is None:
                proc.kill()
                proc.wait(timeout=TIMEOUT)
            proc.stdout.close()
            assert proc.stderr is not None
            errors = proc.stderr.read().decode()
            proc.stderr.close()
    assert proc.returncode == 0, errors


def test_second_writer_is_refused_while_readers_carry_on(world: World, held: Path) -> None:
    before = snapshot(held)
    failed(run("post", "while it is held", home=held), "in use", code=1)
    failed(run("follow", world.c, home=held), "in use", code=1)
    assert snapshot(held) == before

    thread = ok(run("thread", world.hello_short, "--json", home=held)).json()
    assert ids(thread) == [world.hello, world.reply1, world.reply2, world.reply3]
    found = ok(run("search", "hello", "--json", home=held)).json()
    assert ids(found) == [world.hello]
    me = ok(run("whoami", "--json", home=held)).json()
    assert me["id"] == world.a
    assert ids(ok(run("timeline", "--json", home=held)).json()) == world.home_feed()
    assert ok(run("verify", home=held)).stdout.startswith("OK: ")
