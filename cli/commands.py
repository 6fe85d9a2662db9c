"""The subcommands. Each one is a small function of its parsed arguments.

Commands that change state open the node (which takes the home's lock) and go through
its API. Reading commands open the node too when the home is free, so the index is
caught up with the log; when another process holds the home they read its index
directly instead.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import trio

from p2psocial import keystore
from p2psocial.core.ids import AuthorId
from p2psocial.core.message import Message
from p2psocial.errors import (
    HomeLockedError,
    InputError,
    NotInitializedError,
    PassphraseRequiredError,
)
from p2psocial.home import HomePaths
from p2psocial.node import Node, init_home, open_node
from p2psocial.store.queries import MAX_LIMIT, IndexReader
from p2psocial.store.verify import verify_log

from . import render

PASSPHRASE_ENV = "P2PSOCIAL_PASSPHRASE"
NAMES: list[str] = []

Handler = Callable[[argparse.Namespace], int | None]


def register(sub: Any) -> None:
    """Add every subcommand to the subparsers object ``sub``."""

    def command(name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
        NAMES.append(name)
        parser: argparse.ArgumentParser = sub.add_parser(name, help=help_, description=help_)
        parser.set_defaults(run=handler)
        return parser

    def json_flag(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="print JSON")

    p = command("init", cmd_init, "create your identity in the home directory")
    p.add_argument("--name", help="display name to publish in your profile")
    p.add_argument(
        "--no-passphrase",
        action="store_true",
        help="store the key unencrypted (owner-only file) instead of asking for a passphrase",
    )
    p = command("whoami", cmd_whoami, "show your author id and profile")
    json_flag(p)

    p = command("post", cmd_post, "post a message")
    p.add_argument("text", help="the text ('-' reads it from standard input)")
    p = command("reply", cmd_reply, "reply to a message")
    p.add_argument("id", help="message id (or a unique prefix, such as its short form)")
    p.add_argument("text", help="the text ('-' reads it from standard input)")
    p = command("react", cmd_react, "react to a message with an emoji")
    p.add_argument("id", help="message id or prefix")
    p.add_argument("emoji")
    p = command("repost", cmd_repost, "repost a message to your followers")
    p.add_argument("id", help="message id or prefix")
    p = command("delete", cmd_delete, "ask every node to drop one of your messages")
    p.add_argument("id", help="message id or prefix")
    p = command("follow", cmd_follow, "follow an author")
    p.add_argument("author", help="author id or prefix")
    p = command("unfollow", cmd_unfollow, "stop following an author")
    p.add_argument("author", help="author id or prefix")
    p = command("profile", cmd_profile, "set your name or bio, or show a profile")
    p.add_argument("author", nargs="?", help="whose profile to show (default: yours)")
    p.add_argument("--name", help="set your display name")
    p.add_argument("--bio", help="set your bio")
    json_flag(p)

    p = command("timeline", cmd_timeline, "show a feed, newest first")
    p.add_argument(
        "--feed",
        default="home",
        metavar="FEED",
        help="home (you and whom you follow; default), global, author:AUTHOR or tag:TAG",
    )
    p.add_argument("--limit", type=_limit, default=20, help="how many items (default 20)")
    json_flag(p)
    p = command("thread", cmd_thread, "show the conversation around a message")
    p.add_argument("id", help="message id or prefix")
    json_flag(p)
    p = command("mentions", cmd_mentions, "show posts that mention you")
    p.add_argument("--limit", type=_limit, default=20)
    json_flag(p)
    p = command("search", cmd_search, "full-text search of posts and replies")
    p.add_argument("text", help="words that must all appear ('word*' matches a prefix)")
    p.add_argument("--limit", type=_limit, default=20)
    json_flag(p)
    for name, what in (("followers", "who follows"), ("following", "whom follows")):
        p = command(name, cmd_graph, f"list {what} an author (default: you)")
        p.add_argument("author", nargs="?", help="author id or prefix")
        json_flag(p)

    p = command("verify", cmd_verify, "re-check every signature, hash and link in the log")
    json_flag(p)
    command("reindex", cmd_reindex, "rebuild the index from the log")
    p = command("export", cmd_export, "write every message held to a file")
    p.add_argument("file", type=Path)
    p = command("import", cmd_import, "validate and store the messages of an export file")
    p.add_argument("file", type=Path)


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LIMIT}")
    return value


# --- plumbing ------------------------------------------------------------------------------


def _passphrase_from_user(*, confirm: bool = False) -> str:
    env = os.environ.get(PASSPHRASE_ENV)
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise PassphraseRequiredError(
            f"a passphrase is needed: set {PASSPHRASE_ENV} or run in a terminal"
        )
    first = getpass.getpass("Passphrase: ")
    if confirm:
        if not first:
            raise InputError("an empty passphrase is not allowed (use --no-passphrase)")
        if getpass.getpass("Passphrase again: ") != first:
            raise InputError("the passphrases do not match")
    return first


def _with_node(args: argparse.Namespace, work: Callable[[Node], Awaitable[int | None]]) -> int:
    async def main() -> int | None:
        async with open_node(args.home, passphrase=_passphrase_from_user) as node:
            return await work(node)

    return int(trio.run(main) or 0)


@contextmanager
def _reader(args: argparse.Namespace) -> Iterator[tuple[IndexReader, AuthorId]]:
    """Read access for reading commands, whether or not another process holds the home."""
    me = AuthorId(keystore.read_public_key(args.home))
    index = HomePaths(args.home).index
    if not index.exists():
        raise NotInitializedError(f"{args.home} has no index yet")
    reader = IndexReader.open(index)
    try:
        yield reader, me
    finally:
        reader.close()


def _read(args: argparse.Namespace, work: Callable[[IndexReader, AuthorId], int | None]) -> int:
    """Run a reading command: through the node when the home is free, else read-only."""

    async def through_node(node: Node) -> int | None:
        return await trio.to_thread.run_sync(work, node.reader, node.me)

    try:
        return _with_node(args, through_node)
    except HomeLockedError:
        with _reader(args) as (reader, me):
            return int(work(reader, me) or 0)


def _text_arg(text: str) -> str:
    if text != "-":
        return text
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8").rstrip("\n")
    except UnicodeDecodeError as exc:
        raise InputError(f"standard input is not valid UTF-8 (byte {exc.start})") from None


def _print_written(message: Message, what: str) -> None:
    print(f"{what} {message.id}")


# --- identity --------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    passphrase = None if args.no_passphrase else _passphrase_from_user(confirm=True)
    author = init_home(args.home, passphrase=passphrase)
    print(f"created your identity in {args.home}")
    print(f"your author id: {author}")
    if args.name is not None:

        async def publish_name(node: Node) -> None:
            await node.set_profile(name=args.name)

        async def main() -> None:
            async with open_node(args.home, passphrase=passphrase) as node:
                await publish_name(node)

        trio.run(main)
        print(f"your name: {args.name}")
    return 0


def cmd_whoami(args: argparse.Namespace) -> int:
    def work(reader: IndexReader, me: AuthorId) -> int:
        info = reader.author(me)
        data = {
            "id": str(me),
            "short": me.short,
            "name": info.name if info else None,
            "bio": info.bio if info else None,
            "messages": info.held if info else 0,
            "home": str(args.home),
            "encrypted": keystore.is_encrypted(args.home),
        }
        if args.json:
            render.print_json(data)
        else:
            print(f"{data['name'] or '(no name yet)'}  {me}")
            print(f"short id: {me.short}   messages: {data['messages']}   home: {args.home}")
        return 0

    return _read(args, work)


# --- writing ---------------------------------------------------------------------------


def cmd_post(args: argparse.Namespace) -> int:
    text = _text_arg(args.text)

    async def work(node: Node) -> None:
        _print_written(await node.post(text), "posted")

    return _with_node(args, work)


def cmd_reply(args: argparse.Namespace) -> int:
    text = _text_arg(args.text)

    async def work(node: Node) -> None:
        parent = await node.resolve_message(args.id)
        _print_written(await node.reply(parent, text), "replied")

    return _with_node(args, work)


def cmd_react(args: argparse.Namespace) -> int:
    async def work(node: Node) -> None:
        target = await node.resolve_message(args.id)
        _print_written(await node.react(target, args.emoji), "reacted")

    return _with_node(args, work)


def cmd_repost(args: argparse.Namespace) -> int:
    async def work(node: Node) -> None:
        target = await node.resolve_message(args.id)
        _print_written(await node.repost(target), "reposted")

    return _with_node(args, work)


def cmd_delete(args: argparse.Namespace) -> int:
    async def work(node: Node) -> None:
        target = await node.resolve_message(args.id)
        message = await node.delete(target)
        print(f"asked to delete {target.short} ({message.id})")
        print(
            "this node no longer shows, exports or serves its text; deletion is a request"
            " that other nodes may not honour"
        )

    return _with_node(args, work)


def cmd_follow(args: argparse.Namespace) -> int:
    async def work(node: Node) -> None:
        author = await _author_arg(node, args.author)
        _print_written(await node.follow(author), f"following {author.short}:")

    return _with_node(args, work)


def cmd_unfollow(args: argparse.Namespace) -> int:
    async def work(node: Node) -> None:
        author = await _author_arg(node, args.author)
        _print_written(await node.unfollow(author), f"unfollowed {author.short}:")

    return _with_node(args, work)


async def _author_arg(node: Node, text: str) -> AuthorId:
    """A full author id need not be known yet (follow someone new); a prefix must be."""
    if AuthorId.looks_like(text) and len(text.strip()) == len(str(node.me)):
        return AuthorId.parse(text)
    return await node.resolve_author(text)


def cmd_profile(args: argparse.Namespace) -> int:
    if args.name is not None or args.bio is not None:
        if args.author is not None:
            raise InputError("you can only set your own profile (drop the AUTHOR argument)")

        async def work(node: Node) -> None:
            _print_written(await node.set_profile(name=args.name, bio=args.bio), "profile set:")

        return _with_node(args, work)

    def show(reader: IndexReader, me: AuthorId) -> int:
        who = reader.resolve_author(args.author) if args.author else me
        info = reader.author(who)
        following, followers = reader.following(who), reader.followers(who)
        if args.json:
            render.print_json(
                {
                    **(render.author_json(info) if info else {"id": str(who), "name": None}),
                    "following": len(following),
                    "followers": len(followers),
                }
            )
            return 0
        name = info.name if info and info.name else "(no name)"
        print(f"{name}  {who}")
        if info and info.bio:
            print(info.bio)
        held = info.held if info else 0
        print(f"messages held: {held}   following: {len(following)}   followers: {len(followers)}")
        if info and info.forked:
            print("warning: this author has signed two different messages for one seq (forked)")
        return 0

    return _read(args, show)


# --- reading ---------------------------------------------------------------------------


def cmd_timeline(args: argparse.Namespace) -> int:
    def work(reader: IndexReader, me: AuthorId) -> None:
        items = reader.feed(args.feed, me, limit=args.limit)
        _show_items(args, items, empty=f"nothing in {args.feed} yet")

    return _read(args, work)


def cmd_thread(args: argparse.Namespace) -> int:
    def work(reader: IndexReader, _me: AuthorId) -> None:
        items = reader.thread(reader.resolve_message(args.id))
        _show_items(args, items, empty="", threaded=True)

    return _read(args, work)


def cmd_mentions(args: argparse.Namespace) -> int:
    def work(reader: IndexReader, me: AuthorId) -> None:
        _show_items(args, reader.mentions(me, limit=args.limit), empty="no mentions yet")

    return _read(args, work)


def cmd_search(args: argparse.Namespace) -> int:
    def work(reader: IndexReader, _me: AuthorId) -> None:
        items = reader.search(args.text, limit=args.limit)
        _show_items(args, items, empty=f"nothing matches {args.text!r}")

    return _read(args, work)


def cmd_graph(args: argparse.Namespace) -> int:
    def work(reader: IndexReader, me: AuthorId) -> None:
        who = reader.resolve_author(args.author) if args.author else me
        people = reader.followers(who) if args.command == "followers" else reader.following(who)
        if args.json:
            render.print_json([render.author_json(p) for p in people])
        elif not people:
            print("nobody yet")
        else:
            print("\n".join(render.author_text(p) for p in people))

    return _read(args, work)


def _show_items(
    args: argparse.Namespace, items: list[Any], *, empty: str, threaded: bool = False
) -> None:
    if args.json:
        render.print_json([render.item_json(item) for item in items])
    else:
        render.print_items(items, empty=empty, threaded=threaded)


# --- maintenance -----------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> int:
    keystore.read_public_key(args.home)  # a clear error for a home that is not one
    report = verify_log(HomePaths(args.home).log)
    if args.json:
        render.print_json(
            {
                "ok": report.ok,
                "records": report.records,
                "authors": report.authors,
                "problems": [
                    {"position": p.position, "code": p.code, "detail": p.detail}
                    for p in report.problems
                ],
                "forks": [{"author": str(a), "seq": s} for a, s in report.forks],
                "gaps": {str(a): ranges for a, ranges in report.gaps.items()},
            }
        )
    else:
        for problem in report.problems:
            print(f"PROBLEM at log position {problem.position}: {problem.code}: {problem.detail}")
        for author, seq in report.forks:
            print(f"fork evidence: {author.short} signed two messages for seq {seq}")
        verdict = "OK" if report.ok else f"FAILED: {len(report.problems)} problem(s)"
        print(f"{verdict}: {report.records} records from {report.authors} authors checked")
    return 0 if report.ok else 1


def cmd_reindex(args: argparse.Namespace) -> int:
    async def work(node: Node) -> None:
        count = await node.reindex()
        print(f"reindexed {count} messages")

    return _with_node(args, work)


def cmd_export(args: argparse.Namespace) -> int:
    async def work(node: Node) -> None:
        count = await node.export_file(args.file)
        print(f"exported {count} messages to {args.file}")

    return _with_node(args, work)


def cmd_import(args: argparse.Namespace) -> int:
    async def work(node: Node) -> None:
        summary = await node.import_file(args.file)
        print(
            f"imported {summary.accepted} new messages from {args.file} "
            f"({summary.duplicates} already held, {summary.forks} fork evidence)"
        )

    return _with_node(args, work)
