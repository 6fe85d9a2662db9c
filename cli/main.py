"""The ``p2psocial`` command: parsing, dispatch, and errors as one line, never a traceback."""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from p2psocial import __version__
from p2psocial.errors import P2PSocialError
from p2psocial.home import HOME_ENV, default_home

from . import commands

PROG = "p2psocial"
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line with a hint, and typos get suggestions."""

    def error(self, message: str) -> NoReturn:
        if "invalid choice" in message and self._subparsers is not None:
            choice = message.split("'")[1] if "'" in message else ""
            close = difflib.get_close_matches(choice, commands.NAMES, n=1)
            if close:
                message = f"unknown command {choice!r}; did you mean {close[0]!r}?"
            else:
                message = f"unknown command {choice!r}"
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = _Parser(
        prog=PROG,
        description="A peer-to-peer social network node: your posts, signed by you, "
        "kept in your own log.",
        epilog=f"The home directory holds your identity, log and index: --home, "
        f"${HOME_ENV}, or {default_home()}.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"home directory (default: ${HOME_ENV} or {default_home()})",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    raw = sys.argv[1:] if argv is None else list(argv)
    for arg in raw:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            sys.stderr.write(f"{PROG}: error: an argument is not valid UTF-8 text: {arg!r}\n")
            return EXIT_USAGE
    args = parser.parse_args(raw)
    if not getattr(args, "own_logging", False):  # the daemon sets up its own logging
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING,
            format=f"{PROG}: %(levelname)s: %(message)s",
            stream=sys.stderr,
        )
    if args.command is None:
        parser.print_help()
        return 0
    args.home = (args.home or default_home()).expanduser()
    try:
        return int(args.run(args) or 0)
    except P2PSocialError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Output piped into `head` and the like: not an error worth a word.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        sys.stderr.write(f"{PROG}: error:{where}: {exc.strerror or exc}\n")
        return EXIT_ERROR
