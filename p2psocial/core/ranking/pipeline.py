"""Running an algorithm: settings, the time, ordering, checking its output, and paging.

:func:`run` gives an algorithm its context, checks what it returns (a plugin may be
wrong) and puts the items in their one order: by score, highest first, scores equal to
:data:`SCORE_DECIMALS` decimal places counting as ties, and ties broken by message id
(bytes, ascending). :func:`page` then cuts a page out of that order and lets a judge
(moderation) take items out or mark them, without moving anything else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from .graph import SocialGraph
from .interface import (
    Algorithm,
    AlgorithmError,
    BrokenAlgorithmError,
    Candidate,
    Context,
    Hidden,
    Judge,
    Ranked,
    Reason,
    Setting,
    SettingError,
)

SCORE_DECIMALS: Final = 9
"""Scores are compared rounded to this many decimals, so that the last bits of a float
(which can differ between platforms' maths libraries) never reorder a feed."""


def sort_key(ranked: Ranked) -> tuple[float, bytes]:
    """The feed order: score descending, then message id ascending."""
    return (-round(ranked.score, SCORE_DECIMALS), ranked.candidate.id.raw)


def resolve_settings(
    name: str, algorithm: Algorithm, given: Mapping[str, Setting] | None = None
) -> dict[str, Setting]:
    """The algorithm's defaults overridden by ``given``.

    Text values (from a command line) are parsed to the default's type: ``true`` or
    ``false`` for booleans, numbers for numbers. An int is accepted where the default is
    a float.

    Raises:
        SettingError: A key the algorithm does not read, or a value of the wrong type.
    """
    settings = dict(algorithm.defaults)
    for key, value in (given or {}).items():
        if key not in settings:
            known = ", ".join(sorted(settings)) or "none"
            raise SettingError(f"algorithm {name!r} has no setting {key!r} (its settings: {known})")
        settings[key] = _coerce(name, key, value, settings[key])
    return settings


def _coerce(name: str, key: str, value: Setting, default: Setting) -> Setting:
    where = f"algorithm {name!r} setting {key!r}"
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(value, bool):
            return value
        raise SettingError(f"{where} must be true or false, got {value!r}")
    if isinstance(default, int | float):
        if isinstance(value, str):
            try:
                value = int(value) if isinstance(default, int) else float(value)
            except ValueError:
                raise SettingError(f"{where} must be a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingError(f"{where} must be a number, got {value!r}")
        if isinstance(default, int) and not isinstance(value, int):
            raise SettingError(f"{where} must be a whole number, got {value!r}")
        if not math.isfinite(value):
            raise SettingError(f"{where} must be finite, got {value!r}")
        return float(value) if isinstance(default, float) else value
    if not isinstance(value, str):
        raise SettingError(f"{where} must be text, got {value!r}")
    return value


def run(
    name: str,
    algorithm: Algorithm,
    candidates: Sequence[Candidate],
    graph: SocialGraph,
    *,
    settings: Mapping[str, Setting] | None = None,
    now: int | None = None,
) -> list[Ranked]:
    """Rank ``candidates`` with ``algorithm`` and return them in feed order.

    Args:
        name: The algorithm's name, for errors.
        algorithm: What to run.
        candidates: What the node gathered for it (its :class:`Sources`).
        graph: The social graph seen from the feed's owner.
        settings: Overrides of the algorithm's defaults.
        now: The time to rank at (ms); default: the newest candidate's ``ts``.

    Raises:
        SettingError: A bad setting (given, or found bad by the algorithm).
        BrokenAlgorithmError: The algorithm raised, or returned something it may not:
            not a :class:`Ranked`, a candidate it was not given, one twice, or a score
            that is not a finite number.
    """
    resolved = resolve_settings(name, algorithm, settings)
    if now is None:
        now = max((c.ts for c in candidates), default=0)
    context = Context(graph=graph, now=now, settings=MappingProxyType(resolved))
    try:
        produced = list(algorithm.rank(candidates, context))
    except SettingError as exc:
        raise SettingError(f"algorithm {name!r}: {exc}") from exc
    except AlgorithmError:
        raise
    except Exception as exc:
        raise BrokenAlgorithmError(
            f"algorithm {name!r} failed while ranking: {type(exc).__name__}: {exc}"
        ) from exc
    _check(name, produced, candidates)
    return sorted(produced, key=sort_key)


def _check(name: str, produced: list[Ranked], candidates: Sequence[Candidate]) -> None:
    given = {c.id: c for c in candidates}
    seen: set[object] = set()
    for item in produced:
        problem = None
        if not isinstance(item, Ranked):
            problem = f"returned {type(item).__name__}, not Ranked"
        elif (known := given.get(item.candidate.id)) is not item.candidate and (
            known != item.candidate
        ):
            problem = f"placed a message it was not given ({item.candidate.id.short})"
        elif item.candidate.id in seen:
            problem = f"placed {item.candidate.id.short} twice"
        elif (
            isinstance(item.score, bool)
            or not isinstance(item.score, int | float)
            or not math.isfinite(item.score)
        ):
            problem = f"gave {item.candidate.id.short} the score {item.score!r}"
        elif not isinstance(item.reasons, tuple) or not all(
            isinstance(r, Reason) for r in item.reasons
        ):
            problem = f"gave {item.candidate.id.short} reasons that are not a tuple of Reason"
        if problem is not None:
            raise BrokenAlgorithmError(f"algorithm {name!r} {problem}")
        seen.add(item.candidate.id)


@dataclass(frozen=True, slots=True)
class Placed:
    """An item on a page: where the algorithm put it, and whether a judge hid it."""

    ranked: Ranked
    position: int
    """Its place in the whole ranking, from 0."""
    hidden: Hidden | None = None
    """Why it is hidden; only set on pages asked for with ``show_hidden``."""


@dataclass(frozen=True, slots=True)
class RankedPage:
    """One page of a ranking.

    Attributes:
        placed: The items, in feed order.
        hidden: How many items the judge hid within the span this page covers (left
            out, or marked when ``show_hidden``).
        next_offset: The ``offset`` of the next page, or None after the last.
        total: How many items the whole ranking holds, hidden ones included.
    """

    placed: tuple[Placed, ...]
    hidden: int
    next_offset: int | None
    total: int


def page(
    ranked: Sequence[Ranked],
    *,
    offset: int = 0,
    limit: int = 50,
    judge: Judge | None = None,
    show_hidden: bool = False,
) -> RankedPage:
    """Up to ``limit`` visible items from position ``offset`` of ``ranked``.

    Each item is put to ``judge``. A hidden item is left out and counted, or, with
    ``show_hidden``, kept where it stands and marked with its :class:`Hidden`; either
    way the visible items and their order are the same, and ``limit`` counts only them.

    Raises:
        ValueError: ``offset`` is negative or ``limit`` is below 1.
    """
    if offset < 0 or limit < 1:
        raise ValueError(f"offset must be >= 0 and limit >= 1, got {offset} and {limit}")
    placed: list[Placed] = []
    visible = hidden = 0
    position = offset
    while position < len(ranked) and visible < limit:
        item = ranked[position]
        verdict = judge(item.candidate) if judge is not None else None
        if verdict is None:
            placed.append(Placed(item, position))
            visible += 1
        else:
            hidden += 1
            if show_hidden:
                placed.append(Placed(item, position, verdict))
        position += 1
    next_offset = position if position < len(ranked) else None
    return RankedPage(tuple(placed), hidden, next_offset, len(ranked))
