"""How the command line shows things: plain text for people, JSON for programs.

JSON uses the one text form of ids (``p2sa1...``, ``p2sm1...``) and milliseconds since
the epoch for times; lists are JSON arrays, single things objects.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from p2psocial.core.bodies import Kind
from p2psocial.core.ids import MessageId
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
    }


def print_json(value: object, out: TextIO | None = None) -> None:
    """Print one JSON document."""
    out = out or sys.stdout
    json.dump(value, out, ensure_ascii=False, indent=2)
    out.write("\n")


def when(ts_ms: int) -> str:
    """A timestamp in local time, to the minute."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts_ms / 1000))


def item_text(item: Item, *, indent: str = "") -> str:
    """An item as a few lines of text."""
    head = f"{item.author_display} · {when(item.ts)} · {item.id.short}"
    if item.author_name:
        head = f"{item.author_name} ({item.author.short}) · {when(item.ts)} · {item.id.short}"
    lines = [head]
    if item.kind is Kind.REPLY and item.parent is not None:
        lines.append(f"  ↳ reply to {item.parent.short}")
    if item.deleted:
        lines.append("  [deleted by its author]")
    elif item.kind is Kind.REPOST:
        target = item.reposted
        if target is None:
            lines.append(f"  ⟳ reposted {_short(item.target)} (not held)")
        else:
            lines.append(f"  ⟳ reposted {target.author_display} · {target.id.short}")
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


def author_text(info: AuthorInfo) -> str:
    """An author on one line."""
    flags = " [forked]" if info.forked else ""
    name = info.name or "(no name)"
    return f"{name}  {info.id}{flags}"


def _opt(value: MessageId | None) -> str | None:
    return None if value is None else str(value)


def _short(value: MessageId | None) -> str:
    return "?" if value is None else value.short
