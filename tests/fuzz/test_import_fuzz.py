"""Fuzz import files: the reader (p2psocial.store.exchange) and a real node importing them.

An export file is a header and framed messages. Files here are byte edits of real export
files, and files assembled frame by frame from valid messages, fork evidence, re-signed
mutations, random payloads, damaged frames and cut-off tails. The properties: reading
gives frames that make up exactly the file, or ImportFileError; importing gives a
summary that adds up, or ImportFileError with nothing in the home changed (an import is
all or nothing); and the log still verifies.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import trio
from hypothesis import event, example, given
from hypothesis import strategies as st

from p2psocial.core.message import decode_message
from p2psocial.errors import ImportFileError, ValidationError
from p2psocial.node import ImportSummary, open_node
from p2psocial.store.framing import EXPORT_HEADER, SEGMENT_HEADER, encode_frame
from p2psocial.store.verify import verify_log

from . import seeds
from .budget import budget
from .nodes import copy_home, log_end, make_home, snapshot
from .properties import check_export
from .strategies import mutated, resigned


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding an own post and some of the factory messages (so some are dups)."""
    return make_home(tmp_path_factory.mktemp("import"), share=6)


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """One frame of an export file."""
    kind = draw(st.sampled_from(["valid"] * 12 + ["fork", "resigned", "random", "damaged"]))
    if kind == "valid":
        payload = draw(st.sampled_from(seeds.valid_wires()))
    elif kind == "fork":
        payload = seeds.fork().to_bytes()
    elif kind == "resigned":
        payload = draw(resigned(seeds.valid_seeds()))
    elif kind == "random":
        payload = draw(st.binary(max_size=64))
    else:
        frame = bytearray(encode_frame(draw(st.sampled_from(seeds.valid_wires()))))
        frame[draw(st.integers(0, len(frame) - 1))] ^= 1 << draw(st.integers(0, 7))
        return bytes(frame)
    return encode_frame(payload)


@st.composite
def export_files(draw: st.DrawFn) -> bytes:
    """A whole file: mostly well framed, sometimes with a wrong header or a cut tail."""
    if draw(st.integers(0, 4)) == 0:
        return draw(mutated(seeds.export_files()))
    header = draw(st.sampled_from([EXPORT_HEADER] * 8 + [SEGMENT_HEADER, b"p2sexp\x00\x02", b""]))
    data = header + b"".join(draw(st.lists(frames(), max_size=6)))
    if draw(st.integers(0, 5)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return data


@budget(300)
@given(export_files())
@example(b"")
@example(EXPORT_HEADER + encode_frame(b""))
def test_reading_gives_every_frame_or_refuses(tmp_path: Path, data: bytes) -> None:
    with tempfile.TemporaryDirectory(dir=tmp_path) as directory:
        check_export(data, Path(directory) / "file.export")


async def import_one(home: Path, path: Path) -> ImportSummary | ImportFileError:
    async with open_node(home) as node:
        try:
            return await node.import_file(path)
        except ImportFileError as exc:
            return exc


@budget(60)
@given(export_files())
def test_an_import_adds_up_or_changes_nothing(tmp_path: Path, template: Path, data: bytes) -> None:
    example_dir = Path(tempfile.mkdtemp(dir=tmp_path))
    home = copy_home(template, example_dir)
    path = example_dir / "file.export"
    path.write_bytes(data)
    before, end_before = snapshot(home), log_end(home)
    outcome = trio.run(import_one, home, path)
    event(f"outcome: {type(outcome).__name__}")
    if isinstance(outcome, ImportFileError):
        assert snapshot(home) == before, "a refused import changed the home"
        return
    payloads = check_export(data, example_dir / "again.export")
    assert payloads is not None
    assert outcome.read == len(payloads)
    assert outcome.accepted + outcome.duplicates + outcome.forks == outcome.read
    assert (log_end(home) > end_before) == (outcome.accepted + outcome.forks > 0)
    for payload in payloads:
        try:
            decode_message(payload)
        except ValidationError:
            raise AssertionError("an import with an invalid message was accepted") from None
    report = verify_log(home / "log")
    assert report.ok, report.problems
