"""The node's async API: writing, events, keys, import/export and the documented example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio

import p2psocial
from p2psocial import keystore
from p2psocial.core.bodies import Kind
from p2psocial.errors import (
    AlreadyInitializedError,
    ImportFileError,
    InputError,
    MalformedBodyError,
    NotFoundError,
    NotInitializedError,
    OversizeError,
    PassphraseRequiredError,
    WrongPassphraseError,
)
from p2psocial.node import EVENT_BUFFER, EventsMissed, NewMessage, Node, init_home, open_node
from p2psocial.store.exchange import write_export
from tests.factories import ChainBuilder

FAST_KDF = keystore.KdfParams(
    keystore.nacl.pwhash.argon2id.OPSLIMIT_MIN, keystore.nacl.pwhash.argon2id.MEMLIMIT_MIN
)


async def test_own_messages_form_a_chain(node: Node) -> None:
    first = await node.post("one")
    second = await node.post("two")
    assert (first.seq, second.seq) == (1, 2)
    assert first.header.prev is None
    assert second.header.prev == first.id
    assert [i.text for i in await node.timeline("home")] == ["two", "one"]


async def test_every_kind_of_write(node: Node) -> None:
    other = ChainBuilder(7)
    theirs = other.post("a post by someone else")
    await node.ingest([theirs.to_bytes()], source="network")
    await node.follow(other.author)
    assert [a.id for a in await node.following()] == [other.author]
    reply = await node.reply(theirs.id, "nice")
    assert reply.body.root == theirs.id  # type: ignore[union-attr]
    nested = await node.reply(reply.id, "and another thing")
    assert nested.body.root == theirs.id  # type: ignore[union-attr]
    await node.react(theirs.id, "🔥")
    await node.repost(theirs.id)
    item = await node.get(theirs.id)
    assert item is not None
    assert (item.replies, item.reposts, item.reactions.counts) == (1, 1, (("🔥", 1),))
    home_kinds = {i.kind for i in await node.timeline("home")}
    assert home_kinds == {Kind.POST, Kind.REPLY, Kind.REPOST}
    await node.unfollow(other.author)
    assert await node.following() == []


async def test_profile_keeps_the_field_not_given(node: Node) -> None:
    await node.set_profile(name="alice", bio="first bio")
    await node.set_profile(bio="second bio")
    info = await node.author(node.me)
    assert info is not None
    assert (info.name, info.bio) == ("alice", "second bio")


async def test_mentions_written_in_text_are_found(node: Node) -> None:
    bob = ChainBuilder(2)
    message = await node.post(f"hey {bob.author}, look")
    assert message.body.mentions == (bob.author,)  # type: ignore[union-attr]


async def test_delete_only_own_messages(node: Node) -> None:
    other = ChainBuilder(7)
    theirs = other.post("theirs")
    await node.ingest([theirs.to_bytes()], source="network")
    with pytest.raises(InputError, match="only the author"):
        await node.delete(theirs.id)
    mine = await node.post("mine")
    await node.delete(mine.id)
    assert await node.timeline("home") == []


async def test_bad_writes_raise_and_store_nothing(node: Node) -> None:
    with pytest.raises(MalformedBodyError):
        await node.post("   ")
    with pytest.raises(OversizeError):
        await node.post("x" * 2049)
    with pytest.raises(MalformedBodyError, match="control character"):
        await node.post("\x1b[2J")
    with pytest.raises(NotFoundError):
        await node.reply(p2psocial.MessageId(b"\x05" * 32), "to nothing")
    with pytest.raises(InputError, match="yourself"):
        await node.follow(node.me)
    assert await node.counts() == {"messages": 0, "authors": 0, "forks": 0}


async def test_subscribers_see_local_and_ingested_messages(node: Node) -> None:
    other = ChainBuilder(7)
    async with node.subscribe() as events:
        await node.post("local")
        await node.ingest(other.extend(2) and other.wire(), source="network")
        seen = []
        with trio.fail_after(5):
            async for event in events:
                assert isinstance(event, NewMessage)
                seen.append((event.source, event.message.seq))
                if len(seen) == 3:
                    break
    assert seen == [("local", 1), ("network", 1), ("network", 2)]


async def test_a_slow_subscriber_is_told_what_it_missed(node: Node) -> None:
    other = ChainBuilder(7)
    other.extend(EVENT_BUFFER + 5)
    async with node.subscribe() as events:
        await node.ingest(other.wire(), source="network")
        await node.post("lost in the flood")
        received = []
        with trio.fail_after(5):
            async for event in events:
                received.append(event)
                if isinstance(event, EventsMissed):
                    break
        # In order: what fit, then one notice of the gap, then live events again.
        assert all(isinstance(e, NewMessage) for e in received[:-1])
        assert len(received) - 1 == EVENT_BUFFER
        assert received[-1] == EventsMissed(5 + 1)
        await node.post("after the flood")
        with trio.fail_after(5):
            event = await events.__anext__()
        assert isinstance(event, NewMessage)
        assert event.source == "local"


async def test_encrypted_key_is_unlocked_once_and_only_to_sign(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(home, passphrase="correct horse", kdf=FAST_KDF)
    asked = []

    def ask() -> str:
        asked.append(1)
        return "correct horse"

    async with open_node(home, passphrase=ask) as node:
        assert await node.timeline("home") == []
        assert asked == []
        await node.post("one")
        await node.post("two")
        assert asked == [1]


async def test_wrong_or_missing_passphrase(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(home, passphrase="right", kdf=FAST_KDF)
    async with open_node(home, passphrase="wrong") as node:
        with pytest.raises(WrongPassphraseError):
            await node.post("never stored")
        assert await node.counts() == {"messages": 0, "authors": 0, "forks": 0}
    async with open_node(home) as node:
        with pytest.raises(PassphraseRequiredError):
            await node.post("never stored")


async def test_home_must_be_initialised_once(tmp_path: Path, home: Path) -> None:
    with pytest.raises(NotInitializedError):
        async with open_node(tmp_path / "elsewhere"):
            pass
    with pytest.raises(AlreadyInitializedError):
        init_home(home, passphrase=None)


async def test_export_then_import_elsewhere(node: Node, tmp_path: Path) -> None:
    await node.post("travels on a USB stick")
    await node.set_profile(name="alice")
    exported = tmp_path / "alice.p2s"
    assert await node.export_file(exported) == 2
    other_home = tmp_path / "other"
    init_home(other_home, passphrase=None)
    async with open_node(other_home) as other:
        summary = await other.import_file(exported)
        assert (summary.read, summary.accepted, summary.duplicates) == (2, 2, 0)
        [item] = await other.timeline("global")
        assert (item.text, item.author_name) == ("travels on a USB stick", "alice")
        again = await other.import_file(exported)
        assert (again.accepted, again.duplicates) == (0, 2)


async def test_import_is_all_or_nothing(node: Node, tmp_path: Path) -> None:
    alice = ChainBuilder(1)
    alice.extend(3)
    wire = alice.wire()
    broken = bytearray(wire[2])
    broken[-3] ^= 0xFF  # inside the body: its hash no longer matches
    path = tmp_path / "bad.p2s"
    write_export(path, [wire[0], wire[1], bytes(broken)])
    with pytest.raises(ImportFileError, match=r"message 3 is invalid \(invalid\.body_hash\)"):
        await node.import_file(path)
    assert await node.counts() == {"messages": 0, "authors": 0, "forks": 0}


async def test_documented_example_runs() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "embedding.md").read_text()
    [code] = re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL)
    code = code.replace("trio.run(main)", "")
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/embedding.md", "exec"), namespace)
    main = namespace["main"]
    assert callable(main)
    with trio.fail_after(30):
        await main()


async def test_targets_must_be_of_a_kind_that_makes_sense(node: Node) -> None:
    post = await node.post("a post")
    reaction = await node.react(post.id, "👍")
    with pytest.raises(InputError, match="only react to a post, reply or repost"):
        await node.react(reaction.id, "👍")
    with pytest.raises(InputError, match="only repost a post or reply"):
        await node.repost(reaction.id)
    with pytest.raises(InputError, match="only reply to a post or reply"):
        await node.reply(reaction.id, "to a reaction")


async def test_text_that_is_not_utf8_is_refused(node: Node) -> None:
    with pytest.raises(MalformedBodyError, match="not valid UTF-8"):
        await node.post("caf\udce9")


async def test_own_timestamps_increase_even_if_the_clock_does_not(home: Path) -> None:
    async with open_node(home, clock=lambda: 1_700_000_000_000) as node:
        stamps = [(await node.post(f"same millisecond {i}")).header.ts for i in range(3)]
    assert stamps == [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_002]


async def test_unlock_checks_the_passphrase_once_up_front(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(home, passphrase="right", kdf=FAST_KDF)
    async with open_node(home, passphrase="wrong") as node:
        with pytest.raises(WrongPassphraseError):
            await node.unlock()
    asked: list[int] = []

    def ask() -> str:
        asked.append(1)
        return "right"

    async with open_node(home, passphrase=ask) as node:
        await node.unlock()
        await node.post("no second derivation")
    assert asked == [1]
