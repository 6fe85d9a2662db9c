"""How the command line shows things: plain text for people, JSON for programs.

JSON uses the one text form of ids (``p2sa1...``, ``p2sm1...``) and milliseconds since
the epoch for times; lists are JSON arrays, single things objects.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any, Final, TextIO

from p2psocial.core.bodies import Kind
from p2psocial.core.ids import MessageId
from p2psocial.core.moderation import Hidden, Screened, hidden_note
from p2psocial.core.ranking import Reason
from p2psocial.feeds import BUILT_IN, FeedItem, FeedPage, Installed
from p2psocial.store.queries import AuthorInfo, Item


def item_json(item: Item) -> dict[str, Any]:
    """An item as a JSON object."""
    return {
        "id": str(item.id),
        "author": str(item.author),
        "author_name": item.author_name,
        "seq": item.seq,
        "ts": item.ts,
        "kind": item.kind.value,
        "text": item.text,
        "root": _opt(item.root),
        "parent": _opt(item.parent),
        "target": _opt(item.target),
        "deleted": item.deleted,
        "has_body": item.has_body,
        "replies": item.replies,
        "reposts": item.reposts,
        "reactions": dict(item.reactions.counts),
        "reposted": item_json(item.reposted) if item.reposted else None,
        "depth": item.depth,
        "automated": item.automated,
        "folded": item.folded,
    }


def author_json(info: AuthorInfo) -> dict[str, Any]:
    """An author as a JSON object."""
    return {
        "id": str(info.id),
        "short": info.id.short,
        "name": info.name,
        "bio": info.bio,
        "head_seq": info.head_seq,
        "held": info.held,
        "forked": info.forked,
        "automated": info.automated,
    }


def print_json(value: object, out: TextIO | None = None) -> None:
    """Print one JSON document."""
    out = out or sys.stdout
    json.dump(value, out, ensure_ascii=False, indent=2)
    out.write("\n")


def when(ts_ms: int) -> str:
    """A timestamp in local time, to the minute."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts_ms / 1000))


BOT: Final = " [bot]"
"""Follows the name of an author whose profile says a program posts for it."""


def folded_note(count: int) -> str:
    """The line that stands for messages Global left out (:attr:`Item.folded`)."""
    what = "message" if count == 1 else "messages"
    return (
        f"⋯ {count} more {what} from accounts with no trust path to you"
        " (--feed global:all shows them)"
    )


def item_text(item: Item, *, indent: str = "") -> str:
    """An item as a few lines of text (after the note of what Global left out before it)."""
    bot = BOT if item.automated else ""
    head = f"{item.author_display}{bot} · {when(item.ts)} · {item.id.short}"
    if item.author_name:
        head = f"{item.author_name}{bot} ({item.author.short}) · {when(item.ts)} · {item.id.short}"
    lines = [folded_note(item.folded), ""] if item.folded else []
    lines.append(head)
    if item.kind is Kind.REPLY and item.parent is not None:
        lines.append(f"  ↳ reply to {item.parent.short}")
    if item.deleted:
        lines.append("  [deleted by its author]")
    elif item.kind is Kind.REPOST:
        target = item.reposted
        if target is None:
            lines.append(f"  ⟳ reposted {_short(item.target)} (not held)")
        else:
            bot = BOT if target.automated else ""
            lines.append(f"  ⟳ reposted {target.author_display}{bot} · {target.id.short}")
            lines.extend(f"  │ {line}" for line in (target.text or "").splitlines())
    elif item.text is None:
        lines.append("  [body not held]")
    else:
        lines.extend(f"  {line}" for line in item.text.splitlines() or [""])
    stats = []
    if item.replies:
        stats.append(f"↩ {item.replies}")
    if item.reposts:
        stats.append(f"⟳ {item.reposts}")
    stats.extend(f"{emoji} {n}" for emoji, n in item.reactions.counts)
    if stats:
        lines.append("  " + "  ".join(stats))
    return "\n".join(indent + line for line in lines)


def print_items(items: Sequence[Item], *, empty: str, threaded: bool = False) -> None:
    """Print items separated by blank lines, or ``empty`` when there are none."""
    if not items:
        print(empty)
        return
    blocks = [item_text(item, indent="    " * item.depth if threaded else "") for item in items]
    print("\n\n".join(blocks))


# --- ranked feeds (docs/algorithms.md) ---------------------------------------------------


def reason_json(reason: Reason) -> dict[str, Any]:
    """One reason as a JSON object."""
    return {
        "signal": reason.signal,
        "value": reason.value,
        "weight": reason.weight,
        "contribution": reason.contribution,
        "text": reason.text,
    }


def feed_item_json(entry: FeedItem) -> dict[str, Any]:
    """A ranked item: the item's JSON plus its position, score, reasons and hiding."""
    hidden = entry.hidden
    return {
        **item_json(entry.item),
        "position": entry.position,
        "score": entry.score,
        "reasons": [reason_json(r) for r in entry.reasons],
        "hidden": None if hidden is None else {"rule": hidden.rule, "label": hidden.label},
    }


def reasons_text(entry: FeedItem) -> list[str]:
    """Why an item is where it is: its score, then one line per reason (signal, value
    times weight, what it added, and the sentence)."""
    lines = [f"why #{entry.position + 1}: score {entry.score:.3f}"]
    width = max(len(r.signal) for r in entry.reasons) if entry.reasons else 0
    for r in entry.reasons:
        lines.append(
            f"  {r.signal:<{width}}  {r.value:.3f} × {r.weight:g} = {r.contribution:+.3f}  {r.text}"
        )
    return lines


def print_feed(page: FeedPage, *, explain: bool) -> None:
    """A ranked page: items separated by blank lines, each followed by its reasons when
    ``explain``, hidden ones labelled; then how many were hidden, if any."""
    if not page.items and not page.hidden:
        print(f"nothing for {page.algorithm} yet")
    blocks = []
    for entry in page.items:
        lines = [item_text(entry.item)]
        if entry.hidden is not None:
            lines.append(f"  [hidden: {entry.hidden.label}]")
        if explain:
            lines.extend("  " + line for line in reasons_text(entry))
        blocks.append("\n".join(lines))
    if blocks:
        print("\n\n".join(blocks))
    if page.hidden and any(entry.hidden for entry in page.items):
        print(f"\n({page.hidden} item{'s' if page.hidden != 1 else ''} shown and labelled)")
    elif page.hidden:
        print(("\n" if blocks else "") + hidden_note(page.hidden))


def installed_json(installed: Installed, default: str) -> dict[str, Any]:
    """An algorithm as ``algos --json`` lists it."""
    return {
        "name": installed.name,
        "description": installed.description,
        "source": installed.source,
        "default": installed.name == default and installed.problem is None,
        "problem": installed.problem,
        "settings": dict(installed.defaults),
    }


def installed_text(installed: Sequence[Installed], default: str) -> str:
    """The algorithms, one line each: name, description (or why it cannot be used), and
    where a plugin comes from."""
    width = max(len(i.name) for i in installed)
    lines = []
    for i in installed:
        if i.problem is not None:
            lines.append(f"{i.name:<{width}}  cannot be used: {i.problem} ({i.source})")
            continue
        line = f"{i.name:<{width}}  {i.description}"
        if i.name == default:
            line += " (default)"
        if i.source != BUILT_IN:
            line += f" ({i.source})"
        lines.append(line)
    return "\n".join(lines)


# --- moderation (docs/moderation.md) ------------------------------------------------------


def hidden_json(hidden: Hidden | None) -> dict[str, str] | None:
    """Why an item is hidden, as JSON: ``{"rule", "label"}``, or None."""
    return None if hidden is None else {"rule": hidden.rule, "label": hidden.label}


def screened_json(screened: Screened[Item]) -> list[dict[str, Any]]:
    """Screened items as JSON: each item's object plus ``hidden``; a stub (a hidden item
    kept only so that a thread keeps its shape) carries no text."""
    out = []
    for item, hidden in screened.pairs():
        value = item_json(item)
        if hidden is not None and not screened.revealed:
            value.update(text=None, reposted=None)
        out.append({**value, "hidden": hidden_json(hidden)})
    return out


def print_screened(screened: Screened[Item], *, empty: str, threaded: bool = False) -> None:
    """Screened items like :func:`print_items`, hidden ones labelled ``[hidden: LABEL]``
    (stubs without their text unless revealed); then how many the rules hid and how to
    see them, or ``empty`` when nothing was there at all."""
    blocks = []
    for item, hidden in screened.pairs():
        indent = "    " * item.depth if threaded else ""
        if hidden is None:
            blocks.append(item_text(item, indent=indent))
        elif screened.revealed:
            blocks.append(f"{item_text(item, indent=indent)}\n{indent}  [hidden: {hidden.label}]")
        else:
            blocks.append(_stub(item, hidden, indent))
    if blocks:
        print("\n\n".join(blocks))
    elif not screened.hidden:
        print(empty)
    if screened.hidden and not screened.revealed:
        print(("\n" if blocks else "") + hidden_note(screened.hidden))


def _stub(item: Item, hidden: Hidden, indent: str) -> str:
    """A hidden item that keeps its place: who and when, and why it is hidden; no text."""
    who = f"{item.author_name} ({item.author.short})" if item.author_name else item.author.short
    return f"{indent}{who} · {when(item.ts)} · {item.id.short}\n{indent}  [hidden: {hidden.label}]"


def author_text(info: AuthorInfo) -> str:
    """An author on one line."""
    flags = " [forked]" if info.forked else ""
    name = info.name or "(no name)"
    return f"{name}{BOT if info.automated else ''}  {info.id}{flags}"


def _opt(value: MessageId | None) -> str | None:
    return None if value is None else str(value)


def _short(value: MessageId | None) -> str:
    return "?" if value is None else value.short
