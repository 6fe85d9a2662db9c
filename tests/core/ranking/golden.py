"""Committed expected rankings: compare, or deliberately rewrite them.

Each built-in algorithm's ranking of the scenario (:mod:`.scenario`) is kept as JSON in
``tests/core/ranking/expected/<algorithm>.json``: every item's position, message, score
and reasons. A test fails when any of it changes. When a change is meant (a new weight,
a better sentence), regenerate the files and review the diff like code::

    P2PSOCIAL_UPDATE_EXPECTED=1 .venv/bin/python -m pytest -q tests/core/ranking tests/test_feeds.py
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from p2psocial.core.ranking import Ranked, Reason

EXPECTED_DIR: Final = Path(__file__).with_name("expected")
UPDATE_ENV: Final = "P2PSOCIAL_UPDATE_EXPECTED"
DECIMALS: Final = 6


def reason_json(reason: Reason) -> dict[str, Any]:
    return {
        "signal": reason.signal,
        "value": round(reason.value, DECIMALS),
        "weight": reason.weight,
        "text": reason.text,
    }


def snapshot(
    items: Iterable[tuple[int, str, str, str, str | None, float, tuple[Reason, ...]]],
) -> list[dict[str, Any]]:
    """Rows of (position, message short id, author, kind, text, score, reasons) as JSON."""
    return [
        {
            "position": position,
            "id": short,
            "author": author,
            "kind": kind,
            "text": text,
            "score": round(score, DECIMALS),
            "reasons": [reason_json(r) for r in reasons],
        }
        for position, short, author, kind, text, score, reasons in items
    ]


def ranked_snapshot(ranked: list[Ranked]) -> list[dict[str, Any]]:
    """A core ranking as JSON."""
    return snapshot(
        (
            i,
            r.candidate.id.short,
            r.candidate.author_display,
            r.candidate.kind.value,
            r.candidate.text,
            r.score,
            r.reasons,
        )
        for i, r in enumerate(ranked)
    )


def check(name: str, actual: list[dict[str, Any]]) -> None:
    """Compare ``actual`` with the committed file, or write it when asked to."""
    path = EXPECTED_DIR / f"{name}.json"
    text = json.dumps(actual, ensure_ascii=False, indent=1) + "\n"
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no expected ranking {path}: run with {UPDATE_ENV}=1 to write it"
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert actual == expected, f"the {name} ranking changed; if meant, rerun with {UPDATE_ENV}=1"
