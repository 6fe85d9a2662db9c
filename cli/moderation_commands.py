"""The moderation commands: mute, block, filters, reposts, and moderation lists.

Every change goes through the node (the daemon's control socket when one runs, else the
node opened here), exactly like the other writing commands in :mod:`.commands`. What each
rule does, and what ``--show-hidden`` shows, is in docs/moderation.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.core.moderation import ListRef, Policy, SubscribedList, hidden_note, screen
from p2psocial.moderation import ListsOverview, lists_overview, load_settings
from p2psocial.store.queries import IndexReader, Item, ListInfo

from . import commands, render

_LIST_HELP = "a list, as AUTHOR/NAME (the author may be a unique prefix)"


def register(sub: Any) -> None:
    """Add the moderation commands to the subparsers object ``sub``."""

    def command(name: str, handler: Any, help_: str) -> argparse.ArgumentParser:
        commands.NAMES.append(name)
        parser: argparse.ArgumentParser = sub.add_parser(name, help=help_, description=help_)
        parser.set_defaults(run=handler)
        return parser

    def actions(parser: argparse.ArgumentParser) -> Any:
        return parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))

    def action(group: Any, name: str, handler: Any, help_: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = group.add_parser(name, help=help_, description=help_)
        parser.set_defaults(run=handler)
        return parser

    p = command("mute", cmd_mute, "hide an author from what you read (private, never published)")
    p.add_argument("author", help="author id or prefix")
    p = command("unmute", cmd_unmute, "stop muting an author")
    p.add_argument("author", help="author id or prefix")
    p = command(
        "block",
        cmd_block,
        "block an author: publish it, hide them, and stop storing and serving their posts",
    )
    p.add_argument("author", help="author id or prefix")
    p = command("unblock", cmd_unblock, "stop blocking an author (published)")
    p.add_argument("author", help="author id or prefix")

    p = command("filter", cmd_filters, "hide posts by word, phrase, #hashtag or regex")
    p.add_argument("--json", action="store_true", help="print JSON")
    group = actions(p)
    for name, handler, what in (
        ("add", cmd_filter_add, "add a filter"),
        ("remove", cmd_filter_remove, "remove a filter"),
    ):
        a = action(group, name, handler, what)
        a.add_argument(
            "text",
            help="a word or phrase (whole words, any case), a #hashtag, or with --regex a "
            "regular expression (any case)",
        )
        a.add_argument("--regex", action="store_true", help="TEXT is a regular expression")
    a = action(group, "list", cmd_filters, "list your filters (the default)")
    # SUPPRESS: unset here keeps a --json given before the action (filter --json list).
    a.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")

    p = command("hide-reposts", cmd_hide_reposts, "hide every repost, or show them again")
    p.add_argument("state", choices=("on", "off"), help="on: hide reposts; off: show them")

    p = command(
        "moderation", cmd_moderation, "show your mutes, blocks, filters and list subscriptions"
    )
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command("lists", cmd_lists, "moderation lists: yours, and those you subscribe to")
    p.add_argument("--json", action="store_true", help="print JSON")
    group = actions(p)
    a = action(group, "publish", cmd_list_publish, "publish (or republish) your list NAME whole")
    a.add_argument("name", help="lower-case letters, digits, '.', '_' or '-'")
    a = action(group, "add", cmd_list_add, "add an author or a message to your list, and publish")
    a.add_argument("name", help="your list's name")
    a.add_argument("target", metavar="AUTHOR|MESSAGE", help="author or message id, or prefix")
    a.add_argument("--reason", required=True, help="why, in one line (shown on what it hides)")
    a = action(group, "remove", cmd_list_remove, "take an entry off your list, and publish")
    a.add_argument("name", help="your list's name")
    a.add_argument("target", metavar="AUTHOR|MESSAGE", help="author or message id, or prefix")
    a = action(group, "show", cmd_list_show, "show the entries of a list")
    a.add_argument("list", metavar="[AUTHOR/]NAME", help="your list's NAME, or " + _LIST_HELP)
    a.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    a = action(group, "subscribe", cmd_list_subscribe, "hide what a list names, with its reasons")
    a.add_argument("list", metavar="AUTHOR/NAME", help=_LIST_HELP)
    a = action(group, "unsubscribe", cmd_list_unsubscribe, "stop applying a list")
    a.add_argument("list", metavar="AUTHOR/NAME", help=_LIST_HELP)


# --- what reading commands share ----------------------------------------------------------


def show_hidden_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--show-hidden`` to a reading command."""
    parser.add_argument(
        "--show-hidden",
        action="store_true",
        help="also show what your moderation rules hide, each labelled with the rule",
    )


def show_screened(
    args: argparse.Namespace,
    items: Sequence[Item],
    policy: Policy,
    *,
    empty: str,
    threaded: bool = False,
) -> None:
    """Print items as a reading command does, after the owner's moderation: hidden items
    are left out and counted (a thread keeps them as labelled stubs), or, with
    ``--show-hidden``, shown with the rule that hides them. With ``--json`` the count goes
    to standard error, so that standard output stays one JSON document."""
    screened = screen(items, policy.judge, show_hidden=args.show_hidden, keep_place=threaded)
    if args.json:
        render.print_json(render.screened_json(screened))
        if screened.hidden and not screened.revealed:
            sys.stderr.write(f"p2psocial: {hidden_note(screened.hidden)}\n")
    else:
        render.print_screened(screened, empty=empty, threaded=threaded)


def _short(text: str) -> str:
    return AuthorId.parse(text).short


def _target_short(text: str) -> str:
    kind = MessageId if MessageId.looks_like(text) else AuthorId
    return kind.parse(text).short


def _list_short(text: str) -> str:
    return ListRef.parse(text).short


def _entries(count: int) -> str:
    return f"{count} entr{'y' if count == 1 else 'ies'}"


# --- mute and block ------------------------------------------------------------------------


def cmd_mute(args: argparse.Namespace) -> int:
    result = commands._call(args, "mute", {"author": args.author})
    who = _short(result["author"])
    if result["changed"]:
        print(f"muted {who}: their messages are hidden from what you read (nothing is published)")
    else:
        print(f"{who} was already muted")
    return 0


def cmd_unmute(args: argparse.Namespace) -> int:
    result = commands._call(args, "unmute", {"author": args.author})
    print(f"unmuted {_short(result['author'])}")
    return 0


def cmd_block(args: argparse.Namespace) -> int:
    result = commands._call(args, "block", {"author": args.author})
    print(f"blocked {_short(result['author'])} ({result['id']})")
    print(
        "their posts are hidden, and this node no longer stores or serves their text; "
        "the block is public"
    )
    return 0


def cmd_unblock(args: argparse.Namespace) -> int:
    result = commands._call(args, "unblock", {"author": args.author})
    print(f"unblocked {_short(result['author'])} ({result['id']})")
    print("their messages show again; those that arrived while blocked stay without their text")
    return 0


# --- filters and reposts -------------------------------------------------------------------


def cmd_filter_add(args: argparse.Namespace) -> int:
    result = commands._call(args, "filter_add", {"text": args.text, "regex": args.regex})
    print(
        f"added {result['filter']}"
        if result["changed"]
        else f"{result['filter']} was already there"
    )
    return 0


def cmd_filter_remove(args: argparse.Namespace) -> int:
    result = commands._call(args, "filter_remove", {"text": args.text, "regex": args.regex})
    print(f"removed {result['filter']}")
    return 0


def cmd_filters(args: argparse.Namespace) -> int:
    settings = load_settings(args.home)
    if args.json:
        render.print_json(
            [{"kind": f.kind.value, "text": f.text, "label": f.label} for f in settings.filters]
        )
    elif not settings.filters:
        print("no filters: add one with `p2psocial filter add WORD`")
    else:
        print("\n".join(f.label for f in settings.filters))
    return 0


def cmd_hide_reposts(args: argparse.Namespace) -> int:
    hide = args.state == "on"
    result = commands._call(args, "hide_reposts", {"hide": hide})
    state = "hidden" if hide else "shown"
    print(f"reposts are {'now ' if result['changed'] else 'already '}{state}")
    return 0


# --- the whole picture ---------------------------------------------------------------------


def cmd_moderation(args: argparse.Namespace) -> int:
    def work(reader: IndexReader, me: AuthorId) -> None:
        settings = load_settings(args.home)
        blocked = sorted(reader.blocked_by(me), key=str)
        overview = lists_overview(args.home, reader, me)
        if args.json:
            render.print_json(
                {
                    "muted": [str(a) for a in settings.muted],
                    "blocked": [str(a) for a in blocked],
                    "filters": [
                        {"kind": f.kind.value, "text": f.text, "label": f.label}
                        for f in settings.filters
                    ],
                    "hide_reposts": settings.hide_reposts,
                    "subscriptions": [_subscription_json(s) for s in overview.subscribed],
                }
            )
            return
        print(f"muted:         {_names(reader, settings.muted)}")
        print(f"blocked:       {_names(reader, blocked)}")
        print(f"filters:       {', '.join(f.label for f in settings.filters) or '(none)'}")
        print(f"reposts:       {'hidden' if settings.hide_reposts else 'shown'}")
        subscribed = [_subscription_text(s) for s in overview.subscribed]
        print(f"subscribed to: {subscribed[0] if subscribed else '(no lists)'}")
        for line in subscribed[1:]:
            print(f"               {line}")

    commands._read(args, work)
    return 0


def _names(reader: IndexReader, authors: Any) -> str:
    names = []
    for author in authors:
        info = reader.author(author)
        names.append(f"{info.name} ({author.short})" if info and info.name else author.short)
    return ", ".join(names) or "(nobody)"


# --- lists ---------------------------------------------------------------------------------


def _subscription_json(subscribed: SubscribedList) -> dict[str, Any]:
    return {
        "list": str(subscribed.ref),
        "held": subscribed.held,
        "entries": len(subscribed.entries),
    }


def _subscription_text(subscribed: SubscribedList) -> str:
    if not subscribed.held:
        return f"{subscribed.ref.short}  not held yet: it applies once it arrives"
    return f"{subscribed.ref.short}  {_entries(len(subscribed.entries))}"


def _list_json(info: ListInfo) -> dict[str, Any]:
    return {
        "list": str(ListRef(info.author, info.name)),
        "id": str(info.id),
        "ts": info.ts,
        "entries": [
            {
                "author" if isinstance(e.target, AuthorId) else "message": str(e.target),
                "reason": e.reason,
            }
            for e in info.entries
        ],
    }


def cmd_lists(args: argparse.Namespace) -> int:
    def work(reader: IndexReader, me: AuthorId) -> ListsOverview:
        return lists_overview(args.home, reader, me)

    overview = commands._reading(args, work)
    if args.json:
        render.print_json(
            {
                "mine": [
                    {"list": str(ListRef(i.author, i.name)), "entries": len(i.entries)}
                    for i in overview.mine
                ],
                "subscribed": [_subscription_json(s) for s in overview.subscribed],
            }
        )
        return 0
    print("your lists:")
    for info in overview.mine:
        print(f"  {ListRef(info.author, info.name).short}  {_entries(len(info.entries))}")
    if not overview.mine:
        print("  (none: start one with `p2psocial lists publish NAME`)")
    print("subscribed to:")
    for subscribed in overview.subscribed:
        print(f"  {_subscription_text(subscribed)}")
    if not overview.subscribed:
        print("  (none: `p2psocial lists subscribe AUTHOR/NAME`)")
    return 0


def _subscribed_note(result: dict[str, Any]) -> None:
    if result.get("subscribed"):
        print(
            f"you now subscribe to {_list_short(result['list'])}, so it hides what it names "
            "from you too (`p2psocial lists unsubscribe` to stop)"
        )


def cmd_list_publish(args: argparse.Namespace) -> int:
    result = commands._call(args, "list_publish", {"name": args.name})
    print(
        f"published {_list_short(result['list'])} ({_entries(result['entries'])}): {result['id']}"
    )
    _subscribed_note(result)
    return 0


def cmd_list_add(args: argparse.Namespace) -> int:
    params = {"name": args.name, "target": args.target, "reason": args.reason}
    result = commands._call(args, "list_add", params)
    print(
        f"added {_target_short(result['target'])} to {_list_short(result['list'])}"
        f" ({_entries(result['entries'])}): published {result['id']}"
    )
    _subscribed_note(result)
    return 0


def cmd_list_remove(args: argparse.Namespace) -> int:
    result = commands._call(args, "list_remove", {"name": args.name, "target": args.target})
    print(
        f"removed {_target_short(result['target'])} from {_list_short(result['list'])}"
        f" ({_entries(result['entries'])}): published {result['id']}"
    )
    return 0


def cmd_list_show(args: argparse.Namespace) -> int:
    def work(reader: IndexReader, me: AuthorId) -> ListInfo | str:
        if "/" in args.list:
            author, name = ListRef.split(args.list)
            ref = ListRef(reader.resolve_author(author), name)
        else:
            ref = ListRef(me, args.list)
        info = reader.moderation_list(ref.author, ref.name)
        return info if info is not None else ref.short

    found = commands._reading(args, work)
    if isinstance(found, str):
        print(f"{found}: not held (nothing published under that name, or not arrived yet)")
        return 0
    if args.json:
        render.print_json(_list_json(found))
        return 0
    print(f"{ListRef(found.author, found.name).short}: {_entries(len(found.entries))}")
    for entry in found.entries:
        what = "author " if isinstance(entry.target, AuthorId) else "message"
        print(f"  {what} {entry.target.short}  {entry.reason}")
    return 0


def cmd_list_subscribe(args: argparse.Namespace) -> int:
    result = commands._call(args, "list_subscribe", {"list": args.list})
    ref = _list_short(result["list"])
    if not result["changed"]:
        print(f"you already subscribe to {ref}")
    elif result["held"]:
        print(f"subscribed to {ref} ({_entries(result['entries'])})")
    else:
        print(
            f"subscribed to {ref}: not held yet; it applies once it arrives "
            "(sync brings it from any peer that holds it)"
        )
    return 0


def cmd_list_unsubscribe(args: argparse.Namespace) -> int:
    result = commands._call(args, "list_unsubscribe", {"list": args.list})
    print(f"unsubscribed from {_list_short(result['list'])}")
    return 0
