"""The app's own settings, kept in ``HOME/tui.json`` (owner-only).

Only what the app itself uses lives here: the node's settings are in ``config.toml``. Every
setting changes something visible at once (the Settings view applies it as it is changed).
A missing file means the defaults; a damaged one is logged and replaced by the defaults on
the next save, never a reason not to start.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Final

log = logging.getLogger(__name__)

SETTINGS_FILENAME: Final = "tui.json"
DARK: Final = "textual-dark"
LIGHT: Final = "textual-light"
TIMES: Final = ("relative", "absolute")


@dataclass(frozen=True, slots=True)
class Settings:
    """What the user chose in the Settings view (and where they left off)."""

    theme: str = DARK
    """A Textual theme name: ``textual-dark``, ``textual-light`` or another one chosen
    from the command palette."""
    times: str = "relative"
    """``relative`` (5m, 3h, 2d) or ``absolute`` (2024-05-01 14:03)."""
    show_ids: bool = True
    """Show the short author id beside each name (names are not unique; ids are)."""
    compact: bool = False
    """No blank line between messages: more on screen."""
    toasts: bool = True
    """Pop up a note when messages arrive from the network."""
    show_hidden: bool = False
    """Show what the owner's moderation rules hide, in place, labelled with the rule
    (otherwise it is left out and counted)."""
    algorithm: str = "chronological"
    """How Home is ranked: a name from ``p2psocial algos`` (an algorithm that is no longer
    installed falls back to chronological, with a note)."""
    seen_notifications: tuple[int, int] | None = None
    """The cursor of the newest notification shown in the Notifications view: newer ones
    are unread."""


DEFAULT: Final = Settings()


def load_settings(home: Path) -> Settings:
    """The saved settings, or the defaults (a damaged file is logged, not raised)."""
    path = home / SETTINGS_FILENAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DEFAULT
    except (OSError, ValueError) as exc:
        log.warning("ignored %s (%s): using the default settings", path, exc)
        return DEFAULT
    if not isinstance(raw, dict):
        log.warning("ignored %s (not a JSON object): using the default settings", path)
        return DEFAULT
    return _parse(raw, path)


def _parse(raw: dict[str, Any], path: Path) -> Settings:
    values: dict[str, Any] = {}
    for field in fields(Settings):
        if field.name not in raw:
            continue
        value = raw[field.name]
        default = getattr(DEFAULT, field.name)
        if field.name == "seen_notifications":
            ok = value is None or (
                isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value)
            )
            value = tuple(value) if ok and value is not None else value
        elif field.name == "times":
            ok = value in TIMES
        else:
            ok = type(value) is type(default)
        if ok:
            values[field.name] = value
        else:
            log.warning("ignored %s in %s: %r is not a valid value", field.name, path, value)
    return replace(DEFAULT, **values)


def save_settings(home: Path, settings: Settings) -> None:
    """Write the settings atomically, owner-only.

    Raises:
        OSError: The file cannot be written.
    """
    path = home / SETTINGS_FILENAME
    tmp = path.with_name(path.name + ".tmp")
    data = json.dumps(asdict(settings), indent=1) + "\n"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
