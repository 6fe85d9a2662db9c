"""Synthetic but plausible text for the corpus: posts, names, bios, reactions.

Everything is a pure function of a :class:`random.Random` (or an integer seed), so the
signing workers can build the same bodies the planner decided on, and a corpus is the same
bytes on every run.
"""

from __future__ import annotations

import random
from itertools import accumulate
from typing import Final


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


MIN_TEXT: Final = 40
MAX_TEXT: Final = 280
MODE_TEXT: Final = 90
"""Post lengths follow a triangular distribution: most are short, a few use it all."""

WORDS: Final = _words(
    """
    the of and to in is it you that he was for on are with as his they be at one have
    this from or had by hot word but what some we can out other were all there when up
    use your how said an each she which do their time if will way about many then them
    write would like so these her long make thing see him two has look more day could go
    come did number sound no most people my over know water than call first who may down
    side been now find any new work part take get place made live where after back little
    only round man year came show every good me give our under name very through just form
    sentence great think say help low line differ turn cause much mean before move right
    boy old too same tell does set three want air well also play small end put home read
    hand port large spell add even land here must big high such follow act why ask men
    change went light kind off need house picture try us again animal point mother world
    near build self earth father head stand own page should country found answer school
    grow study still learn plant cover food sun four between state keep eye never last let
    thought city tree cross farm hard start might story saw far sea draw left late run
    network peer node gossip sync relay key signature log index feed timeline thread
    coffee music garden bike train rain winter summer weekend release bug patch deploy
    """
)
TAGS: Final = _words(
    """
    p2p python rust linux opensource privacy music art photography coffee books running
    cycling climbing travel food cooking gardening science space climate energy cities
    design typography security crypto sqlite databases networking gossip localfirst
    selfhosting homelab retrocomputing gaming boardgames chess football tennis cinema
    poetry writing history maths physics birds cats dogs hiking sailing weather news
    """
)
EMOJI: Final = (
    "\N{THUMBS UP SIGN}",
    "\N{HEAVY BLACK HEART}",
    "\N{FACE WITH TEARS OF JOY}",
    "\N{FIRE}",
    "\N{PARTY POPPER}",
    "\N{THINKING FACE}",
    "\N{EYES}",
    "+1",
)
FIRST_NAMES: Final = _words(
    """
    ada alan amara ben chen dara eli fatima grace hana ivan jonas kai lea luis maya nadia
    noor omar priya quinn rosa sam tariq uma vera wei xena yusuf zoe
    """
)

_TAG_WEIGHTS: Final = tuple(accumulate(1.0 / (rank + 1) for rank in range(len(TAGS))))
_EMOJI_WEIGHTS: Final = tuple(accumulate((40, 25, 12, 8, 5, 4, 3, 3)))
_TAG_COUNTS: Final = ((0, 0.62), (1, 0.25), (2, 0.09), (3, 0.04))


def post_text(rng: random.Random, mention_names: tuple[str, ...] = ()) -> str:
    """A post or reply text of 40-280 characters, sometimes with ``#tags`` and ``@names``.

    Args:
        rng: The source of randomness.
        mention_names: Display names to address with ``@name`` at the start.
    """
    target = int(rng.triangular(MIN_TEXT, MAX_TEXT, MODE_TEXT))
    lead = [f"@{name}" for name in mention_names]
    tags = [f"#{tag}" for tag in _pick_tags(rng)]
    words: list[str] = []
    size = sum(len(w) + 1 for w in lead + tags)
    while size < target:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    if words:
        words[0] = words[0].capitalize()
    text = " ".join(lead + words + tags)
    return _fit(text)


def _pick_tags(rng: random.Random) -> list[str]:
    roll, count = rng.random(), 0
    for n, share in _TAG_COUNTS:
        if roll < share:
            count = n
            break
        roll -= share
    if count == 0:
        return []
    return list(dict.fromkeys(rng.choices(TAGS, cum_weights=_TAG_WEIGHTS, k=count)))


def _fit(text: str) -> str:
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT].rstrip()
    while len(text) < MIN_TEXT:
        text += " ok"
    return text


def display_name(author: int) -> str:
    """The display name of the corpus author with this index (stable, at most 64 bytes)."""
    return f"{FIRST_NAMES[author % len(FIRST_NAMES)]}{author}"


def bio(rng: random.Random) -> str:
    """A short profile bio."""
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 20)))


def emoji(rng: random.Random) -> str:
    """A reaction, mostly one of a few popular emoji."""
    return rng.choices(EMOJI, cum_weights=_EMOJI_WEIGHTS, k=1)[0]
