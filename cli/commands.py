"""The subcommands. Each one is a small function of its parsed arguments.

Commands that change state go through the node: through the running daemon's control
socket when one answers (p2psocial.control; the daemon then gossips the change at once),
else by opening the node here (which takes the home's lock; what is written offline goes
out by sync when the node next runs). Both ways run the same control method, so they give
the same results and errors. Reading commands open the node too when the home is free, so
the index is caught up with the log; when another process holds the home they read its
index directly instead.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import trio

from p2psocial import control, keystore
from p2psocial.control import ControlClient, NotRunningError
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.core.moderation import hidden_note
from p2psocial.core.ranking import DEFAULT_ALGORITHM, resolve_settings
from p2psocial.daemon import run_daemon
from p2psocial.errors import (
    HomeLockedError,
    InputError,
    NotInitializedError,
    PassphraseRequiredError,
)
from p2psocial.feeds import default_registry, rank_feed
from p2psocial.home import HomePaths
from p2psocial.moderation import load_policy
from p2psocial.node import Node, init_home, open_node
from p2psocial.store.queries import MAX_LIMIT, IndexReader
from p2psocial.store.verify import verify_log

from . import moderation_commands, render

PASSPHRASE_ENV = "P2PSOCIAL_PASSPHRASE"
NAMES: list[str] = []
LONG_CALL_TIMEOUT = 3600.0
"""Seconds to wait for the daemon to finish an import, export or reindex."""
NOT_RUNNING = "no node running: start one with `p2psocial node`"

_T = TypeVar("_T")

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
    p = command(
        "delete",
        cmd_delete,
        "ask every node to drop one of your messages (a request: this node drops it at once,"
        " nodes that honour requests do too, others may keep a copy)",
    )
    p.add_argument("id", help="message id or prefix")
    p = command("follow", cmd_follow, "follow an author")
    p.add_argument("author", help="author id or prefix")
    p = command("unfollow", cmd_unfollow, "stop following an author")
    p.add_argument("author", help="author id or prefix")
    p = command("profile", cmd_profile, "set your name or bio, or show a profile")
    p.add_argument("author", nargs="?", help="whose profile to show (default: yours)")
    p.add_argument("--name", help="set your display name")
    p.add_argument("--bio", help="set your bio")
    p.add_argument(
        "--automated",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="declare that a program posts for this account (shown as [bot] by every"
        " reader), or with --no-automated that a person does",
    )
    json_flag(p)

    p = command("timeline", cmd_timeline, "show a feed, newest first or ranked by an algorithm")
    p.add_argument(
        "--feed",
        default="home",
        metavar="FEED",
        help="home (you and whom you follow; default), global, global:all, author:AUTHOR "
        "or tag:TAG",
    )
    p.add_argument(
        "--algo",
        metavar="NAME",
        help="rank your home feed with this algorithm (see 'p2psocial algos')",
    )
    p.add_argument(
        "--explain",
        action="store_true",
        help="follow each item with the reasons that placed it (chronological unless --algo)",
    )
    p.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        type=_setting,
        metavar="KEY=VALUE",
        help="override one of the algorithm's settings (repeatable)",
    )
    p.add_argument("--limit", type=_limit, default=20, help="how many items (default 20)")
    json_flag(p)
    moderation_commands.show_hidden_flag(p)
    p = command("algos", cmd_algos, "list the feed algorithms installed, one line each")
    json_flag(p)
    p = command("thread", cmd_thread, "show the conversation around a message")
    p.add_argument("id", help="message id or prefix")
    json_flag(p)
    moderation_commands.show_hidden_flag(p)
    p = command("mentions", cmd_mentions, "show posts that mention you")
    p.add_argument("--limit", type=_limit, default=20)
    json_flag(p)
    moderation_commands.show_hidden_flag(p)
    p = command("search", cmd_search, "full-text search of posts and replies")
    p.add_argument("text", help="words that must all appear ('word*' matches a prefix)")
    p.add_argument("--limit", type=_limit, default=20)
    json_flag(p)
    moderation_commands.show_hidden_flag(p)
    for name, what in (("followers", "who follows"), ("following", "whom follows")):
        p = command(name, cmd_graph, f"list {what} an author (default: you)")
        p.add_argument("author", nargs="?", help="author id or prefix")
        json_flag(p)

    p = command("node", cmd_node, "run the node: stay online, gossip and sync (stop: Ctrl-C)")
    p.add_argument(
        "--listen",
        action="append",
        default=None,
        metavar="MULTIADDR",
        help="listen here instead of the config's network.listen (repeatable), "
        "such as /ip4/0.0.0.0/tcp/4500",
    )
    p.add_argument(
        "--peer",
        dest="peers",
        action="append",
        default=[],
        metavar="MULTIADDR",
        help="also dial this peer, a full multiaddr with /p2p/<peer id> (repeatable)",
    )
    p.add_argument(
        "--no-mdns",
        dest="mdns",
        action="store_const",
        const=False,
        default=None,
        help="do not look for peers on the local network",
    )
    # Internal: the control socket without a network (tests, maintenance).
    p.add_argument("--offline", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(own_logging=True)
    p = command("tui", cmd_tui, "open the terminal app (runs the node here unless one is running)")
    p.add_argument(
        "--no-network",
        dest="network",
        action="store_false",
        help="do not go online: read and write locally only",
    )
    p.add_argument(
        "--listen",
        action="append",
        default=None,
        metavar="MULTIADDR",
        help="listen here instead of the config's network.listen (repeatable)",
    )
    p.add_argument(
        "--no-mdns",
        dest="mdns",
        action="store_const",
        const=False,
        default=None,
        help="do not look for peers on the local network",
    )
    p.set_defaults(own_logging=True)
    p = command(
        "demo",
        cmd_demo,
        "start a few local nodes with generated people and open the app among them",
    )
    p.add_argument(
        "--people", type=int, choices=range(2, 5), default=3, help="how many other nodes (2-4)"
    )
    p.add_argument("--keep", action="store_true", help="keep their homes afterwards")
    p = command("status", cmd_status, "show the node: running or not, log, network, sync")
    json_flag(p)
    p = command("peers", cmd_peers, "list the running node's peers")
    json_flag(p)
    p = command("connect", cmd_connect, "ask the running node to dial a peer")
    p.add_argument("addr", metavar="MULTIADDR", help="a full multiaddr with /p2p/<peer id>")

    p = command("verify", cmd_verify, "re-check every signature, hash and link in the log")
    json_flag(p)
    command("reindex", cmd_reindex, "rebuild the index from the log")
    p = command("export", cmd_export, "write every message held to a file")
    p.add_argument("file", type=Path)
    p = command("import", cmd_import, "validate and store the messages of an export file")
    p.add_argument("file", type=Path)
    moderation_commands.register(sub)


def _setting(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


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


def _on_node(args: argparse.Namespace, work: Callable[[Node], Awaitable[_T]]) -> _T:
    """Open the node here (taking the home's lock) and run ``work`` on it."""

    async def main() -> _T:
        async with open_node(args.home, passphrase=_passphrase_from_user) as node:
            return await work(node)

    return trio.run(main)


def _daemon(args: argparse.Namespace) -> ControlClient | None:
    """A connection to the daemon serving this home, or None when none runs."""
    return ControlClient.connect(args.home)


def _call(
    args: argparse.Namespace,
    method: str,
    params: dict[str, Any],
    *,
    timeout: float = control.CALL_TIMEOUT,
) -> Any:
    """Run a control method: through the daemon if one answers, else on the node here."""
    client = _daemon(args)
    if client is not None:
        with client:
            return client.call(method, params, timeout=timeout)

    async def work(node: Node) -> Any:
        return await control.call_local(node, method, params)

    return _on_node(args, work)


def _call_daemon(args: argparse.Namespace, method: str, params: dict[str, Any]) -> Any:
    """Run a control method that needs the daemon (the network lives there)."""
    client = _daemon(args)
    if client is None:
        raise NotRunningError(NOT_RUNNING)
    with client:
        return client.call(method, params)


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


def _reading(args: argparse.Namespace, work: Callable[[IndexReader, AuthorId], _T]) -> _T:
    """Read: through the node when the home is free, else from the index, read-only."""

    async def through_node(node: Node) -> _T:
        return await trio.to_thread.run_sync(work, node.reader, node.me)

    try:
        return _on_node(args, through_node)
    except HomeLockedError:
        with _reader(args) as (reader, me):
            return work(reader, me)


def _read(args: argparse.Namespace, work: Callable[[IndexReader, AuthorId], int | None]) -> int:
    """Run a reading command: through the node when the home is free, else read-only."""
    return int(_reading(args, work) or 0)


def _text_arg(text: str) -> str:
    if text != "-":
        return text
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8").rstrip("\n")
    except UnicodeDecodeError as exc:
        raise InputError(f"standard input is not valid UTF-8 (byte {exc.start})") from None


def _print_written(result: dict[str, Any], what: str) -> None:
    print(f"{what} {result['id']}")


def _short(text: str, kind: type[AuthorId] | type[MessageId]) -> str:
    return kind.parse(text).short


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
        data = control.whoami(args.home, reader, me)
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
    _print_written(_call(args, "post", {"text": text}), "posted")
    return 0


def cmd_reply(args: argparse.Namespace) -> int:
    text = _text_arg(args.text)
    _print_written(_call(args, "reply", {"parent": args.id, "text": text}), "replied")
    return 0


def cmd_react(args: argparse.Namespace) -> int:
    _print_written(_call(args, "react", {"target": args.id, "emoji": args.emoji}), "reacted")
    return 0


def cmd_repost(args: argparse.Namespace) -> int:
    _print_written(_call(args, "repost", {"target": args.id}), "reposted")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    result = _call(args, "delete", {"target": args.id})
    print(f"asked to delete {_short(result['target'], MessageId)} ({result['id']})")
    print(
        "this node dropped its text at once; the request goes to every node, and nodes that"
        " honour it drop the text too, but a node that does not honour requests may keep a"
        " copy, and so may anyone who saved one"
    )
    return 0


def cmd_follow(args: argparse.Namespace) -> int:
    result = _call(args, "follow", {"author": args.author})
    _print_written(result, f"following {_short(result['author'], AuthorId)}:")
    return 0


def cmd_unfollow(args: argparse.Namespace) -> int:
    result = _call(args, "unfollow", {"author": args.author})
    _print_written(result, f"unfollowed {_short(result['author'], AuthorId)}:")
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    if args.name is not None or args.bio is not None or args.automated is not None:
        if args.author is not None:
            raise InputError("you can only set your own profile (drop the AUTHOR argument)")

        given = (("name", args.name), ("bio", args.bio), ("automated", args.automated))
        params = {k: v for k, v in given if v is not None}
        _print_written(_call(args, "profile", params), "profile set:")
        return 0

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
        print(f"{name}{render.BOT if info and info.automated else ''}  {who}")
        if info and info.automated:
            print("automated: its profile says a program posts for this account")
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
    if args.algo is not None or args.explain or args.settings:
        return _ranked_timeline(args)

    def work(reader: IndexReader, me: AuthorId) -> None:
        policy = load_policy(args.home, reader, me)
        items = reader.feed(args.feed, me, limit=args.limit)
        empty = f"nothing in {args.feed} yet"
        moderation_commands.show_screened(args, items, policy, empty=empty)

    return _read(args, work)


def _ranked_timeline(args: argparse.Namespace) -> int:
    """``timeline --algo``: the home feed as an algorithm ranks it (docs/algorithms.md)."""
    name = args.algo or DEFAULT_ALGORITHM
    if args.feed != "home":
        raise InputError(
            f"--algo, --explain and --set rank your home feed; they cannot be used with "
            f"--feed {args.feed}"
        )
    registry = default_registry()
    settings = dict(args.settings)
    # An unknown or broken algorithm, or a bad setting, fails before the node is opened.
    resolve_settings(name, registry.get(name), settings)

    def work(reader: IndexReader, me: AuthorId) -> None:
        policy = load_policy(args.home, reader, me)
        page = rank_feed(
            reader,
            me,
            name,
            settings=settings,
            limit=args.limit,
            registry=registry,
            judge=policy.judge,
            show_hidden=args.show_hidden,
        )
        if args.json:
            render.print_json([render.feed_item_json(entry) for entry in page.items])
            if page.hidden and not args.show_hidden:
                sys.stderr.write(f"p2psocial: {hidden_note(page.hidden)}\n")
        else:
            render.print_feed(page, explain=args.explain)

    return _read(args, work)


def cmd_algos(args: argparse.Namespace) -> int:
    installed = default_registry().installed()
    if args.json:
        render.print_json([render.installed_json(i, DEFAULT_ALGORITHM) for i in installed])
    else:
        print(render.installed_text(installed, DEFAULT_ALGORITHM))
    return 0


def cmd_thread(args: argparse.Namespace) -> int:
    def work(reader: IndexReader, me: AuthorId) -> None:
        policy = load_policy(args.home, reader, me)
        items = reader.thread(reader.resolve_message(args.id))
        moderation_commands.show_screened(args, items, policy, empty="", threaded=True)

    return _read(args, work)


def cmd_mentions(args: argparse.Namespace) -> int:
    def work(reader: IndexReader, me: AuthorId) -> None:
        policy = load_policy(args.home, reader, me)
        items = reader.mentions(me, limit=args.limit)
        moderation_commands.show_screened(args, items, policy, empty="no mentions yet")

    return _read(args, work)


def cmd_search(args: argparse.Namespace) -> int:
    def work(reader: IndexReader, me: AuthorId) -> None:
        policy = load_policy(args.home, reader, me)
        items = reader.search(args.text, limit=args.limit)
        empty = f"nothing matches {args.text!r}"
        moderation_commands.show_screened(args, items, policy, empty=empty)

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
    result = _call(args, "reindex", {}, timeout=LONG_CALL_TIMEOUT)
    print(f"reindexed {result['count']} messages")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    path = str(args.file.absolute())
    result = _call(args, "export", {"path": path}, timeout=LONG_CALL_TIMEOUT)
    print(f"exported {result['count']} messages to {args.file}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    path = str(args.file.absolute())
    summary = _call(args, "import", {"path": path}, timeout=LONG_CALL_TIMEOUT)
    print(
        f"imported {summary['accepted']} new messages from {args.file} "
        f"({summary['duplicates']} already held, {summary['forks']} fork evidence)"
    )
    return 0


# --- the network ---------------------------------------------------------------------------


def cmd_node(args: argparse.Namespace) -> int:
    return run_daemon(
        args.home,
        listen=args.listen,
        peers=args.peers,
        mdns=args.mdns,
        passphrase=_passphrase_from_user,
        verbose=args.verbose,
        offline=args.offline,
    )


def cmd_tui(args: argparse.Namespace) -> int:
    # Imported here: Textual takes a while to import, and only this command needs it.
    from .tui.app import run_app  # noqa: PLC0415

    return run_app(args.home, network=args.network, listen=args.listen, mdns=args.mdns)


def cmd_demo(args: argparse.Namespace) -> int:
    # Imported here: the demo opens the app, and Textual takes a while to import.
    from .demo import run_demo  # noqa: PLC0415

    return run_demo(people=args.people, keep=args.keep)


def cmd_status(args: argparse.Namespace) -> int:
    """Through the daemon; with none running, what the home tells (exit 0 either way)."""
    client = _daemon(args)
    if client is not None:
        with client:
            status = client.call("status", {})
    else:
        status = _reading(args, partial(control.local_status, args.home))
    if args.json:
        render.print_json(status)
    else:
        print("\n".join(_status_lines(status)))
        if not status.get("running"):
            print(NOT_RUNNING)
    return 0


def cmd_peers(args: argparse.Namespace) -> int:
    """Through the daemon; with none running, a one-line error (exit 1)."""
    peers = _call_daemon(args, "peers", {})
    if args.json:
        render.print_json(peers)
    elif not peers:
        print("no peers yet")
    else:
        print("\n".join(line for peer in peers for line in _peer_lines(peer)))
    return 0


def cmd_connect(args: argparse.Namespace) -> int:
    result = _call_daemon(args, "connect", {"addr": args.addr})
    print(f"connected to {result['peer_id']}")
    return 0


def _status_lines(status: dict[str, Any]) -> list[str]:
    lines = []
    if status.get("running"):
        up = _duration(status["uptime_s"]) if "uptime_s" in status else "?"
        lines.append(f"node:      running (pid {status.get('pid')}, up {up})")
    lines += [
        f"home:      {status['home']}",
        f"author:    {status['author']}",
        f"log:       {status['log_bytes']} bytes: {status['messages']} messages from "
        f"{status['authors']} authors, {status['forks']} forks",
    ]
    network = status.get("network")
    if status.get("running") and network is None:
        lines.append("network:   none (the node runs offline)")
    if network:
        gossip = network.get("gossip", {})
        admission = network.get("admission", {})
        lines += [
            f"peer id:   {network.get('peer_id')}",
            *_column("listen:", network.get("listen") or ["(nothing)"]),
            *_column("topics:", network.get("topics") or ["(none)"]),
            f"peers:     {network.get('connected', 0)} connected, "
            f"{network.get('peers_holding_my_latest', 0)} hold my latest message "
            f"(seq {network.get('my_head_seq', 0)})",
            f"gossip:    {gossip.get('published', 0)} published, "
            f"{gossip.get('left_for_sync', 0)} left for sync, "
            f"{gossip.get('received', 0)} received",
            f"refused:   {admission.get('refused_postage', 0)} for postage, "
            f"{admission.get('refused_stranger_budget', 0)} over the strangers' budget, "
            f"{admission.get('over_author_limit', 0)} over an author's limit",
            *_column("syncing:", network.get("syncing") or ["(nothing now)"]),
        ]
    return lines


def _column(label: str, values: list[Any]) -> list[str]:
    return [f"{label if i == 0 else '':<10} {value}" for i, value in enumerate(values)]


def _duration(seconds: float) -> str:
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def _peer_lines(peer: dict[str, Any]) -> list[str]:
    facts = ["connected" if peer.get("connected") else "not connected"]
    if peer.get("gossip"):
        facts.append("gossip")
    holds = peer.get("holds_my_latest")
    if holds is not None:
        facts.append(f"holds my latest: {'yes' if holds else 'no'}")
    facts.append(
        f"synced {peer.get('sync_sessions', 0)}x "
        f"({peer.get('messages_received', 0)} in, {peer.get('messages_served', 0)} out)"
    )
    if peer.get("incidents"):
        facts.append(f"{peer['incidents']} incidents")
    return [f"{peer.get('peer_id')}  {', '.join(facts)}"] + [
        f"  {addr}" for addr in peer.get("addrs", [])
    ]
