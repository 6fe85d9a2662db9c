"""Tests of the identity keystore, on real files in a temporary directory."""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash.argon2id
import nacl.secret
import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psocial import keystore as ks
from p2psocial.errors import (
    AlreadyInitializedError,
    KeystoreCorruptError,
    KeystoreError,
    NotInitializedError,
    P2PSocialError,
    PassphraseRequiredError,
    WrongPassphraseError,
)

FAST = ks.KdfParams(nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN)
SEED = bytes(range(32))
PUBLIC_KEY = bytes(nacl.signing.SigningKey(SEED).verify_key)
PASSPHRASE = "correct horse battery staple"
GIB = 1024**3

Mutation = Callable[[dict[str, Any]], object]


def keystore_file(home: Path) -> Path:
    return home / ks.KEYSTORE_FILENAME


def read_json(home: Path) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(keystore_file(home).read_text())
    return obj


def write_json(home: Path, obj: object) -> None:
    keystore_file(home).write_text(json.dumps(obj, indent=2) + "\n")


def seed_of(key: nacl.signing.SigningKey) -> bytes:
    return bytes(key)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def encrypted(home: Path) -> Path:
    ks.create_keystore(home, passphrase=PASSPHRASE, kdf=FAST, seed=SEED)
    return home


@pytest.fixture
def unencrypted(home: Path) -> Path:
    ks.create_keystore(home, passphrase=None, seed=SEED)
    return home


@pytest.fixture
def no_kdf(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Make any argon2id run fail the test; returns the list of attempted calls."""
    calls: list[object] = []

    def refuse(*args: object, **kwargs: object) -> bytes:
        calls.append((args, kwargs))
        raise AssertionError("argon2id must not run here")

    monkeypatch.setattr(nacl.pwhash.argon2id, "kdf", refuse)
    return calls


@pytest.fixture
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run the test under the umask given by indirect parametrization (default 0)."""
    mask: int = getattr(request, "param", 0)
    old = os.umask(mask)
    try:
        yield mask
    finally:
        os.umask(old)


# --- round trips ----------------------------------------------------------------------


def test_encrypted_round_trip(home: Path) -> None:
    public_key = ks.create_keystore(home, passphrase=PASSPHRASE, kdf=FAST, seed=SEED)

    assert public_key == PUBLIC_KEY
    assert ks.read_public_key(home) == PUBLIC_KEY
    assert ks.is_encrypted(home) is True
    assert seed_of(ks.unlock(home, PASSPHRASE)) == SEED
    obj = read_json(home)
    assert list(obj) == ["format", "version", "public_key", "cipher", "kdf", "secret"]
    assert obj["format"] == "p2psocial-keystore"
    assert obj["version"] == 1
    assert obj["public_key"] == PUBLIC_KEY.hex()
    assert obj["cipher"] == "argon2id-xsalsa20poly1305"
    assert obj["kdf"]["opslimit"] == FAST.opslimit
    assert obj["kdf"]["memlimit"] == FAST.memlimit
    assert len(bytes.fromhex(obj["kdf"]["salt"])) == 16
    assert len(bytes.fromhex(obj["secret"])) == 24 + 16 + 32
    assert SEED.hex() not in keystore_file(home).read_text()


def test_unencrypted_round_trip(home: Path) -> None:
    public_key = ks.create_keystore(home, passphrase=None, kdf=FAST, seed=SEED)

    assert public_key == PUBLIC_KEY
    assert ks.read_public_key(home) == PUBLIC_KEY
    assert ks.is_encrypted(home) is False
    assert seed_of(ks.unlock(home, None)) == SEED
    assert read_json(home) == {
        "format": "p2psocial-keystore",
        "version": 1,
        "public_key": PUBLIC_KEY.hex(),
        "cipher": "none",
        "secret": SEED.hex(),
    }


def test_generated_keys_are_fresh_and_unlock(tmp_path: Path) -> None:
    first = ks.create_keystore(tmp_path / "a", passphrase=PASSPHRASE, kdf=FAST)
    second = ks.create_keystore(tmp_path / "b", passphrase=PASSPHRASE, kdf=FAST)

    assert first != second
    assert len(first) == 32
    assert bytes(ks.unlock(tmp_path / "a", PASSPHRASE).verify_key) == first
    assert bytes(ks.unlock(tmp_path / "b", PASSPHRASE).verify_key) == second


def test_each_write_uses_a_fresh_salt_and_nonce(tmp_path: Path) -> None:
    ks.create_keystore(tmp_path / "a", passphrase=PASSPHRASE, kdf=FAST, seed=SEED)
    ks.create_keystore(tmp_path / "b", passphrase=PASSPHRASE, kdf=FAST, seed=SEED)

    a, b = read_json(tmp_path / "a"), read_json(tmp_path / "b")
    assert a["kdf"]["salt"] != b["kdf"]["salt"]
    assert a["secret"][:48] != b["secret"][:48]  # the nonce


def test_signature_by_unlocked_key_verifies_with_read_public_key(encrypted: Path) -> None:
    signed = ks.unlock(encrypted, PASSPHRASE).sign(b"hello, peers")
    verify_key = nacl.signing.VerifyKey(ks.read_public_key(encrypted))

    assert verify_key.verify(signed) == b"hello, peers"
    with pytest.raises(nacl.exceptions.BadSignatureError):
        verify_key.verify(b"hello, peerz", signed.signature)


def test_default_kdf_round_trip(home: Path) -> None:
    ks.create_keystore(home, passphrase=PASSPHRASE, seed=SEED)

    kdf = read_json(home)["kdf"]
    assert (kdf["opslimit"], kdf["memlimit"]) == (
        nacl.pwhash.argon2id.OPSLIMIT_MODERATE,
        nacl.pwhash.argon2id.MEMLIMIT_MODERATE,
    )
    assert ks.KdfParams(kdf["opslimit"], kdf["memlimit"]) == ks.DEFAULT_KDF
    assert seed_of(ks.unlock(home, PASSPHRASE)) == SEED


def test_file_built_by_hand_from_the_documented_format_unlocks(home: Path) -> None:
    # Independent of keystore.py's writer: the module docstring's recipe, step by step.
    salt, nonce = bytes(range(100, 116)), bytes(range(200, 224))
    passphrase = "caf\u00e9"  # NFC; the key is derived from its UTF-8 bytes
    key = nacl.pwhash.argon2id.kdf(32, passphrase.encode("utf-8"), salt, opslimit=2, memlimit=16384)
    sealed = bytes(nacl.secret.SecretBox(key).encrypt(SEED, nonce))
    assert sealed[:24] == nonce
    home.mkdir(mode=0o700)
    write_json(
        home,
        {
            "format": "p2psocial-keystore",
            "version": 1,
            "public_key": PUBLIC_KEY.hex(),
            "cipher": "argon2id-xsalsa20poly1305",
            "kdf": {"opslimit": 2, "memlimit": 16384, "salt": salt.hex()},
            "secret": sealed.hex(),
        },
    )
    keystore_file(home).chmod(0o600)

    assert seed_of(ks.unlock(home, passphrase)) == SEED
    assert seed_of(ks.unlock(home, unicodedata.normalize("NFD", passphrase))) == SEED


# --- passphrases ----------------------------------------------------------------------


def test_wrong_passphrase(encrypted: Path) -> None:
    with pytest.raises(WrongPassphraseError, match="wrong passphrase for") as info:
        ks.unlock(encrypted, "correct horse battery stapler")

    assert str(keystore_file(encrypted)) in str(info.value)
    assert "stapler" not in str(info.value)


def test_missing_passphrase(encrypted: Path) -> None:
    with pytest.raises(PassphraseRequiredError, match="is encrypted"):
        ks.unlock(encrypted, None)


def test_passphrase_given_for_unencrypted_keystore_is_refused(unencrypted: Path) -> None:
    with pytest.raises(WrongPassphraseError, match="not encrypted"):
        ks.unlock(unencrypted, PASSPHRASE)


def test_empty_passphrase_is_refused_and_nothing_is_created(home: Path) -> None:
    with pytest.raises(KeystoreError, match="empty passphrase"):
        ks.create_keystore(home, passphrase="", kdf=FAST, seed=SEED)

    assert not home.exists()


def test_unicode_passphrase(home: Path) -> None:
    passphrase = "pässwörd 🔑 日本語 Ωμέγα"
    ks.create_keystore(home, passphrase=passphrase, kdf=FAST, seed=SEED)

    assert seed_of(ks.unlock(home, passphrase)) == SEED
    with pytest.raises(WrongPassphraseError):
        ks.unlock(home, "passwort 🔑 日本語 Ωμέγα")


def test_passphrase_is_compared_after_nfc_normalization(home: Path) -> None:
    nfc = unicodedata.normalize("NFC", "Ångström café")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    ks.create_keystore(home, passphrase=nfd, kdf=FAST, seed=SEED)

    assert seed_of(ks.unlock(home, nfc)) == SEED


def test_unencodable_passphrase_is_a_keystore_error(home: Path) -> None:
    with pytest.raises(KeystoreError, match="not valid Unicode") as info:
        ks.create_keystore(home, passphrase="bad \ud800 half", kdf=FAST, seed=SEED)

    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    assert not keystore_file(home).exists()


# --- the files on disk ----------------------------------------------------------------


def test_file_is_0600_and_new_home_is_0700(tmp_path: Path, umask: int) -> None:
    home = tmp_path / "parent" / "home"
    ks.create_keystore(home, passphrase=PASSPHRASE, kdf=FAST, seed=SEED)

    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE(keystore_file(home).stat().st_mode) == 0o600
    assert sorted(p.name for p in home.iterdir()) == ["identity.json"]


@pytest.mark.parametrize("umask", [0o277], indirect=True, ids=["umask-0277"])
def test_modes_are_exact_even_under_a_umask_that_removes_owner_bits(home: Path, umask: int) -> None:
    # umask is requested after home, so that pytest's tmp_path exists before it applies.
    ks.create_keystore(home, passphrase=None, seed=SEED)

    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE(keystore_file(home).stat().st_mode) == 0o600
    assert seed_of(ks.unlock(home, None)) == SEED


def test_existing_home_directory_is_used_as_it_is(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o750)
    home.chmod(0o750)
    (home / "other").write_text("kept")

    ks.create_keystore(home, passphrase=None, seed=SEED)

    assert stat.S_IMODE(home.stat().st_mode) == 0o750
    assert (home / "other").read_text() == "kept"


def test_home_that_is_a_file_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a directory")

    with pytest.raises(KeystoreError, match="not a directory"):
        ks.create_keystore(home, passphrase=None, seed=SEED)


@pytest.mark.parametrize("passphrase", [PASSPHRASE, None])
def test_existing_identity_is_never_overwritten(
    encrypted: Path, no_kdf: list[object], passphrase: str | None
) -> None:
    before = keystore_file(encrypted).read_bytes()

    with pytest.raises(AlreadyInitializedError, match="already has an identity"):
        ks.create_keystore(encrypted, passphrase=passphrase, kdf=FAST, seed=bytes(32))

    assert no_kdf == []  # refused up front, before the costly key derivation
    assert keystore_file(encrypted).read_bytes() == before
    assert sorted(p.name for p in encrypted.iterdir()) == ["identity.json"]


def test_identity_created_during_create_is_not_overwritten(
    encrypted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process creates the identity after our existence check: the final link
    # still refuses to replace it.
    before = keystore_file(encrypted).read_bytes()
    monkeypatch.setattr(os.path, "lexists", lambda path: False)

    with pytest.raises(AlreadyInitializedError):
        ks.create_keystore(encrypted, passphrase=None, seed=bytes(32))

    assert keystore_file(encrypted).read_bytes() == before
    assert sorted(p.name for p in encrypted.iterdir()) == ["identity.json"]


def test_create_works_without_hard_links(
    home: Path, umask: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_link(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)

    ks.create_keystore(home, passphrase=PASSPHRASE, kdf=FAST, seed=SEED)

    assert seed_of(ks.unlock(home, PASSPHRASE)) == SEED
    assert stat.S_IMODE(keystore_file(home).stat().st_mode) == 0o600
    assert sorted(p.name for p in home.iterdir()) == ["identity.json"]


def test_writes_are_durable(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home.mkdir()
    home_inode = home.stat().st_ino
    events: list[str] = []
    real_fsync, real_link, real_replace = os.fsync, os.link, os.replace

    def fsync(fd: int) -> None:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            events.append("fsync home" if st.st_ino == home_inode else "fsync other dir")
        else:
            events.append("fsync file")
        real_fsync(fd)

    def link(src: str, dst: str) -> None:
        events.append("link")
        real_link(src, dst)

    def replace(src: str, dst: str) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(os, "replace", replace)

    ks.create_keystore(home, passphrase=None, seed=SEED)
    assert events == ["fsync file", "link", "fsync home"]
    events.clear()
    ks.change_passphrase(home, None, PASSPHRASE, kdf=FAST)
    assert events == ["fsync file", "replace", "fsync home"]


def test_failed_write_leaves_the_file_and_no_temporary(
    encrypted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = keystore_file(encrypted).read_bytes()

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)

    with pytest.raises(KeystoreError, match="cannot write"):
        ks.change_passphrase(encrypted, PASSPHRASE, "new passphrase", kdf=FAST)

    assert keystore_file(encrypted).read_bytes() == before
    assert sorted(p.name for p in encrypted.iterdir()) == ["identity.json"]


def test_failed_create_leaves_no_identity(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home.mkdir()

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)

    with pytest.raises(KeystoreError, match="cannot write"):
        ks.create_keystore(home, passphrase=None, seed=SEED)

    assert list(home.iterdir()) == []


@pytest.mark.parametrize(
    "call",
    [
        ks.read_public_key,
        ks.is_encrypted,
        lambda home: ks.unlock(home, PASSPHRASE),
        lambda home: ks.change_passphrase(home, PASSPHRASE, "x", kdf=FAST),
    ],
    ids=["read_public_key", "is_encrypted", "unlock", "change_passphrase"],
)
@pytest.mark.parametrize("exists", [True, False], ids=["empty-home", "no-home"])
def test_not_initialized(home: Path, call: Callable[[Path], object], exists: bool) -> None:
    if exists:
        home.mkdir()

    with pytest.raises(NotInitializedError, match="has no identity"):
        call(home)


def test_group_readable_file_warns_but_still_unlocks(
    encrypted: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = keystore_file(encrypted)
    path.chmod(0o644)
    caplog.set_level(logging.WARNING, logger="p2psocial.keystore")

    assert seed_of(ks.unlock(encrypted, PASSPHRASE)) == SEED

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(path) in warnings[0].getMessage()
    assert "0644" in warnings[0].getMessage()
    assert warnings[0].args  # formatted lazily, by logging


def test_private_file_does_not_warn(encrypted: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="p2psocial.keystore")

    ks.unlock(encrypted, PASSPHRASE)
    ks.read_public_key(encrypted)

    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.timeout(10)
def test_fifo_instead_of_file_is_refused_without_hanging(home: Path) -> None:
    home.mkdir()
    os.mkfifo(keystore_file(home), 0o600)

    with pytest.raises(KeystoreCorruptError, match="not a regular file"):
        ks.read_public_key(home)


def test_directory_instead_of_file_is_refused(home: Path) -> None:
    keystore_file(home).mkdir(parents=True)

    with pytest.raises(KeystoreCorruptError, match="not a regular file"):
        ks.unlock(home, None)


# --- damaged and hostile files --------------------------------------------------------


def _set(path: str, value: object) -> Mutation:
    def mutate(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            obj = obj[key]
        obj[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            obj = obj[key]
        del obj[last]

    return mutate


CORRUPT_ENCRYPTED: list[tuple[str, Mutation, str]] = [
    ("format-other", _set("format", "something-else"), '"format" is not'),
    ("format-missing", _delete("format"), '"format" is not'),
    ("version-2", _set("version", 2), "unsupported version 2"),
    ("version-string", _set("version", "1"), '"version" is missing or not an integer'),
    ("version-bool", _set("version", True), '"version" is missing or not an integer'),
    ("version-missing", _delete("version"), '"version" is missing or not an integer'),
    ("cipher-unknown", _set("cipher", "aes-256-gcm"), "unknown cipher 'aes-256-gcm'"),
    ("cipher-missing", _delete("cipher"), "unknown cipher None"),
    ("secret-missing", _delete("secret"), 'missing "secret"'),
    ("public-key-missing", _delete("public_key"), 'missing "public_key"'),
    ("extra-key", _set("comment", "hi"), "unexpected 'comment'"),
    ("kdf-missing", _delete("kdf"), 'missing "kdf"'),
    ("kdf-not-object", _set("kdf", [1, 2, 3]), '"kdf" is not a JSON object'),
    ("kdf-salt-missing", _delete("kdf.salt"), 'missing "kdf.salt"'),
    ("kdf-extra-key", _set("kdf.parallelism", 4), "unexpected 'kdf.parallelism'"),
    ("opslimit-string", _set("kdf.opslimit", "3"), '"kdf.opslimit" is not an integer'),
    ("opslimit-bool", _set("kdf.opslimit", True), '"kdf.opslimit" is not an integer'),
    ("opslimit-float", _set("kdf.opslimit", 2.0), '"kdf.opslimit" is not an integer'),
    ("opslimit-zero", _set("kdf.opslimit", 0), "opslimit must be between 1 and 64, got 0"),
    ("opslimit-hostile", _set("kdf.opslimit", 2**32 - 1), "opslimit must be between"),
    ("memlimit-negative", _set("kdf.memlimit", -1), "memlimit must be between"),
    ("memlimit-below-min", _set("kdf.memlimit", 8191), "memlimit must be between"),
    ("memlimit-hostile", _set("kdf.memlimit", 4 * GIB + 1), "memlimit must be between"),
    ("memlimit-huge", _set("kdf.memlimit", 2**70), "memlimit must be between"),
    ("salt-short", _set("kdf.salt", "00" * 15), '"kdf.salt" has 30 hex digits, expected 32'),
    ("salt-uppercase", _set("kdf.salt", "AB" * 16), '"kdf.salt" is not lowercase hex'),
    ("salt-not-hex", _set("kdf.salt", "zz" * 16), '"kdf.salt" is not lowercase hex'),
    ("salt-spaces", _set("kdf.salt", " " + "0" * 31), '"kdf.salt" is not lowercase hex'),
    ("salt-number", _set("kdf.salt", 12), '"kdf.salt" is not a string'),
    ("public-key-short", _set("public_key", "ab" * 31), '"public_key" has 62 hex digits'),
    ("public-key-not-hex", _set("public_key", "x" * 64), '"public_key" is not lowercase hex'),
    ("public-key-null", _set("public_key", None), '"public_key" is not a string'),
    ("secret-short", _set("secret", "00" * 32), '"secret" has 64 hex digits, expected 144'),
    ("secret-odd", _set("secret", "0" * 143), '"secret" has 143 hex digits'),
    ("secret-list", _set("secret", ["00"]), '"secret" is not a string'),
]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [pytest.param(m, msg, id=name) for name, m, msg in CORRUPT_ENCRYPTED],
)
def test_damaged_encrypted_file_is_corrupt(
    encrypted: Path, no_kdf: list[object], mutate: Mutation, message: str
) -> None:
    obj = read_json(encrypted)
    mutate(obj)
    write_json(encrypted, obj)

    with pytest.raises(KeystoreCorruptError, match=message):
        ks.read_public_key(encrypted)
    with pytest.raises(KeystoreCorruptError, match=message):
        ks.unlock(encrypted, PASSPHRASE)
    assert no_kdf == []  # rejected before any costly (or hostile) key derivation


CORRUPT_UNENCRYPTED: list[tuple[str, Mutation, str]] = [
    ("kdf-present", _set("kdf", {"opslimit": 1, "memlimit": 8192, "salt": "00" * 16}), "'kdf'"),
    ("secret-short", _set("secret", SEED.hex()[:-2]), '"secret" has 62 hex digits'),
    ("secret-other-key", _set("secret", "11" * 32), "secret does not match public_key"),
    ("public-key-other", _set("public_key", "11" * 32), "secret does not match public_key"),
]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [pytest.param(m, msg, id=name) for name, m, msg in CORRUPT_UNENCRYPTED],
)
def test_damaged_unencrypted_file_is_corrupt(
    unencrypted: Path, mutate: Mutation, message: str
) -> None:
    obj = read_json(unencrypted)
    mutate(obj)
    write_json(unencrypted, obj)

    with pytest.raises(KeystoreCorruptError, match=message):
        ks.read_public_key(unencrypted)
    with pytest.raises(KeystoreCorruptError, match=message):
        ks.unlock(unencrypted, None)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"", "not JSON", id="empty"),
        pytest.param(b"hello", "not JSON", id="not-json"),
        pytest.param(b"\xff\xfe{}", "not UTF-8", id="not-utf8"),
        pytest.param(b"[]", "not a JSON object", id="array"),
        pytest.param(b"null", "not a JSON object", id="null"),
        pytest.param(b"[" * 60_000, "not JSON", id="deep-nesting"),
        pytest.param(b'{"version": ' + b"9" * 5000 + b"}", "not JSON", id="long-int"),
        pytest.param(b"{}" + b" " * (64 * 1024), "larger than 65536 bytes", id="too-large"),
    ],
)
def test_garbage_file_is_corrupt(home: Path, content: bytes, message: str) -> None:
    home.mkdir()
    keystore_file(home).write_bytes(content)

    with pytest.raises(KeystoreCorruptError, match=message):
        ks.unlock(home, PASSPHRASE)


def test_duplicate_key_is_corrupt(encrypted: Path) -> None:
    path = keystore_file(encrypted)
    text = path.read_text()
    path.write_text(text.replace('"version": 1,', '"version": 1,\n  "version": 1,', 1))

    with pytest.raises(KeystoreCorruptError, match="duplicate key 'version'"):
        ks.unlock(encrypted, PASSPHRASE)


def test_every_truncation_is_corrupt(encrypted: Path) -> None:
    path = keystore_file(encrypted)
    content = path.read_bytes()
    assert content.endswith(b"}\n")

    for length in range(len(content) - 1):  # drop at least the closing brace
        path.write_bytes(content[:length])
        with pytest.raises(KeystoreCorruptError):
            ks.read_public_key(encrypted)


def test_hostile_memlimit_allocates_nothing(encrypted: Path, no_kdf: list[object]) -> None:
    obj = read_json(encrypted)
    obj["kdf"]["memlimit"] = 1024 * GIB
    write_json(encrypted, obj)

    with pytest.raises(KeystoreCorruptError, match="memlimit"):
        ks.unlock(encrypted, PASSPHRASE)
    assert no_kdf == []


def test_largest_allowed_kdf_params_are_accepted() -> None:
    assert ks.KdfParams(64, 4 * GIB) == ks.KdfParams(opslimit=64, memlimit=4 * GIB)


def _flip_hex_digit(text: str, index: int) -> str:
    return text[:index] + ("1" if text[index] == "0" else "0") + text[index + 1 :]


@pytest.mark.parametrize(
    ("field", "index"),
    [
        pytest.param("secret", 0, id="nonce"),
        pytest.param("secret", 24 * 2, id="mac"),
        pytest.param("secret", 143, id="ciphertext"),
        pytest.param("kdf.salt", 5, id="salt"),
    ],
)
def test_tampered_ciphertext_or_salt_fails_as_wrong_passphrase(
    encrypted: Path, field: str, index: int
) -> None:
    obj = read_json(encrypted)
    if field == "secret":
        obj["secret"] = _flip_hex_digit(obj["secret"], index)
    else:
        obj["kdf"]["salt"] = _flip_hex_digit(obj["kdf"]["salt"], index)
    write_json(encrypted, obj)

    with pytest.raises(WrongPassphraseError):
        ks.unlock(encrypted, PASSPHRASE)


def test_tampered_kdf_params_fail_as_wrong_passphrase(encrypted: Path) -> None:
    obj = read_json(encrypted)
    obj["kdf"]["opslimit"] += 1
    write_json(encrypted, obj)

    with pytest.raises(WrongPassphraseError):
        ks.unlock(encrypted, PASSPHRASE)


def test_tampered_public_key_is_caught_by_unlock(encrypted: Path) -> None:
    other = bytes(nacl.signing.SigningKey(bytes(32)).verify_key)
    obj = read_json(encrypted)
    obj["public_key"] = other.hex()
    write_json(encrypted, obj)

    with pytest.raises(KeystoreCorruptError, match="does not match public_key"):
        ks.unlock(encrypted, PASSPHRASE)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    home = tmp_path_factory.mktemp("pristine")
    ks.create_keystore(home, passphrase=PASSPHRASE, kdf=FAST, seed=SEED)
    return keystore_file(home).read_bytes()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("scratch")
    home.chmod(0o700)
    return home


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_one_byte_change_unlocks_the_same_key_or_raises_a_keystore_error(
    pristine: bytes, scratch: Path, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(pristine) - 1), label="index")
    value = data.draw(st.integers(0, 255), label="value")
    content = bytearray(pristine)
    content[index] = value
    keystore_file(scratch).write_bytes(bytes(content))
    os.chmod(keystore_file(scratch), 0o600)

    try:
        key = ks.unlock(scratch, PASSPHRASE)
    except KeystoreError:
        return
    assert seed_of(key) == SEED


# --- changing the passphrase ----------------------------------------------------------


def test_change_passphrase(encrypted: Path) -> None:
    before = read_json(encrypted)

    ks.change_passphrase(encrypted, PASSPHRASE, "new and longer passphrase", kdf=FAST)

    after = read_json(encrypted)
    assert seed_of(ks.unlock(encrypted, "new and longer passphrase")) == SEED
    with pytest.raises(WrongPassphraseError):
        ks.unlock(encrypted, PASSPHRASE)
    assert after["public_key"] == before["public_key"]
    assert after["kdf"]["salt"] != before["kdf"]["salt"]
    assert after["secret"] != before["secret"]
    assert stat.S_IMODE(keystore_file(encrypted).stat().st_mode) == 0o600
    assert sorted(p.name for p in encrypted.iterdir()) == ["identity.json"]


def test_change_passphrase_records_the_new_kdf(encrypted: Path) -> None:
    ks.change_passphrase(encrypted, PASSPHRASE, "new", kdf=ks.KdfParams(2, 16384))

    assert read_json(encrypted)["kdf"]["opslimit"] == 2
    assert read_json(encrypted)["kdf"]["memlimit"] == 16384
    assert seed_of(ks.unlock(encrypted, "new")) == SEED


def test_change_passphrase_to_none_decrypts(encrypted: Path) -> None:
    ks.change_passphrase(encrypted, PASSPHRASE, None)

    assert ks.is_encrypted(encrypted) is False
    assert read_json(encrypted)["secret"] == SEED.hex()
    assert seed_of(ks.unlock(encrypted, None)) == SEED


def test_change_passphrase_from_none_encrypts(unencrypted: Path) -> None:
    ks.change_passphrase(unencrypted, None, PASSPHRASE, kdf=FAST)

    assert ks.is_encrypted(unencrypted) is True
    with pytest.raises(PassphraseRequiredError):
        ks.unlock(unencrypted, None)
    assert seed_of(ks.unlock(unencrypted, PASSPHRASE)) == SEED


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        pytest.param("not it", "new", WrongPassphraseError, id="wrong-old"),
        pytest.param(None, "new", PassphraseRequiredError, id="missing-old"),
        pytest.param(PASSPHRASE, "", KeystoreError, id="empty-new"),
    ],
)
def test_failed_change_passphrase_changes_nothing(
    encrypted: Path, old: str | None, new: str, error: type[Exception]
) -> None:
    before = keystore_file(encrypted).read_bytes()

    with pytest.raises(error):
        ks.change_passphrase(encrypted, old, new, kdf=FAST)

    assert keystore_file(encrypted).read_bytes() == before
    assert sorted(p.name for p in encrypted.iterdir()) == ["identity.json"]


# --- arguments ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [b"", bytes(31), bytes(33)], ids=lambda seed: f"{len(seed)}-bytes")
def test_seed_must_be_32_bytes(home: Path, seed: bytes) -> None:
    with pytest.raises(KeystoreError, match="32 bytes"):
        ks.create_keystore(home, passphrase=None, seed=seed)

    assert not home.exists()


@pytest.mark.parametrize(
    ("opslimit", "memlimit", "message"),
    [
        (0, 8192, "opslimit must be between"),
        (65, 8192, "opslimit must be between"),
        (1, 8191, "memlimit must be between"),
        (1, 4 * GIB + 1, "memlimit must be between"),
        (True, 8192, "opslimit must be an int"),
        (1, 8192.0, "memlimit must be an int"),
    ],
)
def test_kdf_params_out_of_range_are_refused(opslimit: int, memlimit: int, message: str) -> None:
    with pytest.raises(KeystoreError, match=message):
        ks.KdfParams(opslimit, memlimit)


# --- secrets stay secret --------------------------------------------------------------


def test_no_secret_in_logs_messages_or_reprs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="p2psocial.keystore")
    secret_passphrase = "s3cret-Passphrase"
    texts: list[str] = []
    enc, clear = tmp_path / "enc", tmp_path / "clear"

    ks.create_keystore(enc, passphrase=secret_passphrase, kdf=FAST, seed=SEED)
    ks.create_keystore(clear, passphrase=None, kdf=FAST, seed=SEED)
    keystore_file(clear).chmod(0o644)
    texts.append(repr(ks.unlock(enc, secret_passphrase)))
    texts.append(repr(ks.unlock(clear, None)))
    texts.append(repr(ks._read_record(keystore_file(clear))))
    for call in (
        lambda: ks.unlock(enc, secret_passphrase + "x"),
        lambda: ks.unlock(clear, secret_passphrase),
        lambda: ks.change_passphrase(enc, secret_passphrase + "x", "y", kdf=FAST),
        lambda: ks.create_keystore(clear, passphrase=secret_passphrase, seed=SEED),
    ):
        with pytest.raises(P2PSocialError) as info:
            call()
        texts.append(str(info.value))
        texts.append(repr(info.value))
    ks.change_passphrase(enc, secret_passphrase, None)
    texts.extend(record.getMessage() for record in caplog.records)

    assert len(caplog.records) >= 5
    for text in texts:
        assert secret_passphrase not in text
        assert SEED.hex() not in text
        assert repr(SEED)[2:-1] not in text
