"""The node's identity key on disk, encrypted at rest.

A home directory holds one identity: an Ed25519 signing key in ``<home>/identity.json``.
The public key is stored in clear, so that a node can say who it is without the
passphrase; the 32-byte Ed25519 seed (from which libsodium derives the full signing key)
is stored either encrypted under a passphrase or, when the owner asks for it explicitly,
in clear.

File format, version 1
----------------------

One UTF-8 JSON object (at most 64 KiB), written with these keys and no others::

    {
      "format": "p2psocial-keystore",
      "version": 1,
      "public_key": "<64 hex digits: the 32-byte Ed25519 public key>",
      "cipher": "none" | "argon2id-xsalsa20poly1305",
      "kdf": {                                  (only when cipher is not "none")
        "opslimit": <int>,
        "memlimit": <int, bytes>,
        "salt": "<32 hex digits: 16 random bytes>"
      },
      "secret": "<hex>"
    }

- Hex is lowercase, with no prefix, separators or whitespace.
- ``"cipher": "none"``: ``secret`` is the 32-byte Ed25519 seed (64 hex digits) and there is
  no ``kdf`` key.
- ``"cipher": "argon2id-xsalsa20poly1305"``: the passphrase is normalized to Unicode NFC
  and encoded as UTF-8 (so that the same passphrase typed on any system unlocks the file);
  ``key = crypto_pwhash_argon2id(32 bytes, passphrase, salt, opslimit, memlimit)``; and
  ``secret`` is ``nonce (24 bytes) || crypto_secretbox_xsalsa20poly1305(seed, nonce, key)``
  (MAC 16 bytes, then the 32-byte encrypted seed): 72 bytes, 144 hex digits. This is what
  PyNaCl's ``SecretBox(key).encrypt(seed)`` returns, with a fresh random salt and nonce
  at every write.
- ``opslimit`` must lie in [1, 64] and ``memlimit`` in [8 KiB, 4 GiB]: the lower bounds
  are libsodium's argon2id minimums; the upper bounds keep a hostile file from making a
  reader allocate unbounded memory or compute for hours. ``DEFAULT_KDF`` (libsodium's
  "moderate": opslimit 3, memlimit 256 MiB) is what new files use.

A reader rejects, as corrupt, a file that is not exactly this shape: another
``format``, a ``version`` other than 1, an unknown ``cipher``, a missing, extra or
duplicated key, a value of the wrong type, bad hex, a wrong length, KDF parameters out of
range, or a ``secret`` whose public key is not ``public_key``. For an encrypted file that
last check can only run once the seed is decrypted, so ``public_key`` is unauthenticated
until then; a damaged ciphertext, salt or KDF parameter cannot be told from a wrong
passphrase (authenticated encryption fails the same way).

Writes are atomic: a temporary file in the same directory, created with mode 0600, is
written and fsynced, then moved over ``identity.json`` (or hard-linked to it, for a new
identity, so that an existing one is never replaced), and the directory is fsynced. A new
home directory is created with mode 0700. Reading a file that other users can access logs
a warning, as ssh does, and carries on.

No secret (seed, passphrase or derived key) ever appears in a log line, a repr or an
exception message.
"""

from __future__ import annotations

import errno
import hmac
import json
import logging
import os
import re
import secrets
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import nacl.exceptions
import nacl.pwhash.argon2id
import nacl.secret
import nacl.signing
import nacl.utils

from .errors import (
    AlreadyInitializedError,
    KeystoreCorruptError,
    KeystoreError,
    NotInitializedError,
    PassphraseRequiredError,
    WrongPassphraseError,
)

__all__ = [
    "CIPHER_ARGON2ID",
    "CIPHER_NONE",
    "DEFAULT_KDF",
    "KEYSTORE_FILENAME",
    "KdfParams",
    "change_passphrase",
    "create_keystore",
    "is_encrypted",
    "read_public_key",
    "unlock",
]

logger = logging.getLogger(__name__)

KEYSTORE_FILENAME: Final = "identity.json"
FORMAT: Final = "p2psocial-keystore"
VERSION: Final = 1
CIPHER_NONE: Final = "none"
CIPHER_ARGON2ID: Final = "argon2id-xsalsa20poly1305"

SEED_BYTES: Final = 32
PUBLIC_KEY_BYTES: Final = 32
SALT_BYTES: Final[int] = nacl.pwhash.argon2id.SALTBYTES
SEALED_SEED_BYTES: Final[int] = (
    nacl.secret.SecretBox.NONCE_SIZE + nacl.secret.SecretBox.MACBYTES + SEED_BYTES
)
MAX_FILE_BYTES: Final = 64 * 1024

KDF_MIN_OPSLIMIT: Final[int] = nacl.pwhash.argon2id.OPSLIMIT_MIN
KDF_MAX_OPSLIMIT: Final = 64
KDF_MIN_MEMLIMIT: Final[int] = nacl.pwhash.argon2id.MEMLIMIT_MIN
KDF_MAX_MEMLIMIT: Final = 4 * 1024**3

_FILE_MODE: Final = 0o600
_HOME_MODE: Final = 0o700
_HEX = re.compile(r"[0-9a-f]*")
_TOP_KEYS: Final = frozenset({"format", "version", "public_key", "cipher", "secret"})
_KDF_KEYS: Final = frozenset({"opslimit", "memlimit", "salt"})
# Filesystems without hard links fail os.link with one of these.
_NO_LINK_ERRNOS: Final = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Cost parameters of the argon2id passphrase hash.

    Attributes:
        opslimit: Number of passes over memory, in [1, 64].
        memlimit: Memory to use, in bytes, in [8 KiB, 4 GiB].

    Raises:
        KeystoreError: A parameter is not an int or is out of range.
    """

    opslimit: int
    memlimit: int

    def __post_init__(self) -> None:
        for name, value, low, high in (
            ("opslimit", self.opslimit, KDF_MIN_OPSLIMIT, KDF_MAX_OPSLIMIT),
            ("memlimit", self.memlimit, KDF_MIN_MEMLIMIT, KDF_MAX_MEMLIMIT),
        ):
            if type(value) is not int:
                raise KeystoreError(f"kdf {name} must be an int, got {type(value).__name__}")
            if not low <= value <= high:
                raise KeystoreError(
                    f"kdf {name} must be between {low} and {high}, got {_short(value)}"
                )


DEFAULT_KDF: Final = KdfParams(
    nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_MODERATE
)


@dataclass(frozen=True, slots=True)
class _Record:
    """A keystore file, parsed and checked as far as is possible without the passphrase."""

    path: Path
    public_key: bytes
    # None when the seed is stored in clear.
    kdf: KdfParams | None
    salt: bytes | None
    # The seed itself (cipher "none") or nonce || MAC || encrypted seed: never in a repr.
    secret: bytes = field(repr=False)


# --- public API -----------------------------------------------------------------------


def create_keystore(
    home: Path,
    *,
    passphrase: str | None,
    kdf: KdfParams = DEFAULT_KDF,
    seed: bytes | None = None,
) -> bytes:
    """Create the identity of a home directory.

    Creates ``home`` (mode 0700) if it does not exist, then writes ``home/identity.json``
    atomically with mode 0600. An existing identity is never overwritten.

    Args:
        home: The node's home directory.
        passphrase: The passphrase that encrypts the key, or None to store the key
            unencrypted. The empty string is refused: ask for None explicitly.
        kdf: Cost of the argon2id passphrase hash; unused when ``passphrase`` is None.
        seed: A 32-byte Ed25519 seed to store (to import a key, or in tests); by default
            a new key is generated.

    Returns:
        The 32-byte Ed25519 public key of the identity.

    Raises:
        AlreadyInitializedError: ``home`` already has an identity; nothing was changed.
        KeystoreError: ``passphrase`` is empty or not encodable, ``seed`` is not 32
            bytes, or the file or directory cannot be written.
    """
    home = Path(home)
    path = home / KEYSTORE_FILENAME
    _check_new_passphrase(passphrase)
    if seed is None:
        seed = nacl.utils.random(SEED_BYTES)
    elif not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
        raise KeystoreError(f"a seed must be {SEED_BYTES} bytes")
    if os.path.lexists(path):
        raise _already_initialized(path)
    public_key = bytes(nacl.signing.SigningKey(seed).verify_key)
    data = _encode(public_key, seed, passphrase, kdf)
    _ensure_home(home)
    _write_atomically(path, data, replace=False)
    logger.info(
        "created identity %s in %s (%s)",
        public_key.hex(),
        path,
        "unencrypted" if passphrase is None else "encrypted",
    )
    return public_key


def read_public_key(home: Path) -> bytes:
    """Read the public key of a home directory's identity, without the passphrase.

    For an encrypted keystore the public key is not authenticated until ``unlock``
    decrypts the seed and checks that the two match.

    Args:
        home: The node's home directory.

    Returns:
        The 32-byte Ed25519 public key.

    Raises:
        NotInitializedError: ``home`` has no identity.
        KeystoreCorruptError: The keystore file is damaged or of an unknown format.
        KeystoreError: The keystore file cannot be read.
    """
    return _read_record(Path(home) / KEYSTORE_FILENAME).public_key


def is_encrypted(home: Path) -> bool:
    """Tell whether unlocking a home directory's identity needs a passphrase.

    Args:
        home: The node's home directory.

    Returns:
        True if the key is encrypted under a passphrase, False if stored in clear.

    Raises:
        NotInitializedError: ``home`` has no identity.
        KeystoreCorruptError: The keystore file is damaged or of an unknown format.
        KeystoreError: The keystore file cannot be read.
    """
    return _read_record(Path(home) / KEYSTORE_FILENAME).kdf is not None


def unlock(home: Path, passphrase: str | None) -> nacl.signing.SigningKey:
    """Load and decrypt a home directory's signing key.

    Args:
        home: The node's home directory.
        passphrase: The keystore's passphrase, or None for an unencrypted keystore.

    Returns:
        The identity's signing key.

    Raises:
        NotInitializedError: ``home`` has no identity.
        PassphraseRequiredError: The keystore is encrypted and ``passphrase`` is None.
        WrongPassphraseError: ``passphrase`` does not decrypt the keystore (or the
            ciphertext, salt or KDF parameters were altered, which looks the same), or
            a passphrase was given for an unencrypted keystore.
        KeystoreCorruptError: The keystore file is damaged or of an unknown format, or
            its key does not match its ``public_key``.
        KeystoreError: The keystore file cannot be read, or the passphrase cannot be
            encoded.
    """
    record = _read_record(Path(home) / KEYSTORE_FILENAME)
    signing_key = nacl.signing.SigningKey(_recover_seed(record, passphrase))
    logger.debug("unlocked identity %s from %s", record.public_key.hex(), record.path)
    return signing_key


def change_passphrase(
    home: Path, old: str | None, new: str | None, *, kdf: KdfParams = DEFAULT_KDF
) -> None:
    """Re-encrypt a home directory's identity under a new passphrase.

    The file is rewritten atomically with a fresh salt and nonce; when anything fails,
    the file is left as it was.

    Args:
        home: The node's home directory.
        old: The current passphrase, or None if the keystore is unencrypted.
        new: The new passphrase, or None to store the key unencrypted. The empty string
            is refused: ask for None explicitly.
        kdf: Cost of the argon2id passphrase hash for ``new``; unused when ``new`` is
            None.

    Raises:
        NotInitializedError: ``home`` has no identity.
        PassphraseRequiredError: The keystore is encrypted and ``old`` is None.
        WrongPassphraseError: ``old`` does not unlock the keystore.
        KeystoreCorruptError: The keystore file is damaged or of an unknown format.
        KeystoreError: ``new`` is empty or not encodable, or the keystore cannot be read
            or written.
    """
    _check_new_passphrase(new)
    record = _read_record(Path(home) / KEYSTORE_FILENAME)
    seed = _recover_seed(record, old)
    data = _encode(record.public_key, seed, new, kdf)
    _write_atomically(record.path, data, replace=True)
    logger.info(
        "changed the passphrase of identity %s in %s (now %s)",
        record.public_key.hex(),
        record.path,
        "unencrypted" if new is None else "encrypted",
    )


# --- secrets --------------------------------------------------------------------------


def _check_new_passphrase(passphrase: str | None) -> None:
    if passphrase == "":
        raise KeystoreError(
            "an empty passphrase is not allowed; to store the key unencrypted, "
            "ask for no passphrase explicitly"
        )


def _passphrase_bytes(passphrase: str) -> bytes:
    try:
        return unicodedata.normalize("NFC", passphrase).encode("utf-8")
    except UnicodeEncodeError:
        # The exception holds the passphrase: do not chain it.
        raise KeystoreError("the passphrase is not valid Unicode text") from None


def _derive_key(passphrase: str, salt: bytes, kdf: KdfParams) -> bytes:
    try:
        key: bytes = nacl.pwhash.argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE,
            _passphrase_bytes(passphrase),
            salt,
            opslimit=kdf.opslimit,
            memlimit=kdf.memlimit,
        )
    except RuntimeError:
        raise KeystoreError(
            f"argon2id key derivation failed (opslimit {kdf.opslimit}, "
            f"memlimit {kdf.memlimit}): out of memory?"
        ) from None
    return key


def _encode(public_key: bytes, seed: bytes, passphrase: str | None, kdf: KdfParams) -> bytes:
    obj: dict[str, Any] = {"format": FORMAT, "version": VERSION, "public_key": public_key.hex()}
    if passphrase is None:
        obj["cipher"] = CIPHER_NONE
        obj["secret"] = seed.hex()
    else:
        salt = nacl.utils.random(SALT_BYTES)
        box = nacl.secret.SecretBox(_derive_key(passphrase, salt, kdf))
        obj["cipher"] = CIPHER_ARGON2ID
        obj["kdf"] = {"opslimit": kdf.opslimit, "memlimit": kdf.memlimit, "salt": salt.hex()}
        obj["secret"] = bytes(box.encrypt(seed)).hex()
    return (json.dumps(obj, indent=2) + "\n").encode("ascii")


def _recover_seed(record: _Record, passphrase: str | None) -> bytes:
    if record.kdf is None or record.salt is None:
        if passphrase is not None:
            raise WrongPassphraseError(
                f"{record.path} is not encrypted; unlock it without a passphrase"
            )
        return record.secret  # checked against public_key when parsed
    if passphrase is None:
        raise PassphraseRequiredError(f"{record.path} is encrypted; a passphrase is required")
    box = nacl.secret.SecretBox(_derive_key(passphrase, record.salt, record.kdf))
    try:
        seed = bytes(box.decrypt(record.secret))
    except nacl.exceptions.CryptoError:
        raise WrongPassphraseError(f"wrong passphrase for {record.path}") from None
    if not _seed_matches(seed, record.public_key):
        raise KeystoreCorruptError(
            f"{record.path}: the decrypted key does not match public_key (the file was altered)"
        )
    return seed


def _seed_matches(seed: bytes, public_key: bytes) -> bool:
    derived = bytes(nacl.signing.SigningKey(seed).verify_key)
    return hmac.compare_digest(derived, public_key)


# --- reading --------------------------------------------------------------------------


def _read_record(path: Path) -> _Record:
    # O_NONBLOCK: opening a FIFO planted at the path must not hang; no effect on files.
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise NotInitializedError(
            f"{path.parent} has no identity yet (run `p2psocial init`)"
        ) from None
    except OSError as exc:
        raise KeystoreError(f"cannot read {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeystoreCorruptError(f"{path} is not a regular file")
        mode = stat.S_IMODE(st.st_mode)
        if os.name == "posix" and mode & 0o077:
            logger.warning(
                "keystore %s has mode %04o, so other users can access it; "
                "it should be 0600 (chmod 600 %s)",
                path,
                mode,
                path,
            )
        chunks: list[bytes] = []
        remaining = MAX_FILE_BYTES + 1  # one more, to tell an oversized file
        while remaining > 0 and (chunk := os.read(fd, remaining)):
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise KeystoreError(f"cannot read {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    return _parse(path, data)


class _DuplicateKeyError(ValueError):
    pass


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKeyError(key)
        obj[key] = value
    return obj


def _corrupt(path: Path, reason: str) -> KeystoreCorruptError:
    return KeystoreCorruptError(f"{path} is not a valid keystore: {reason}")


def _parse(path: Path, data: bytes) -> _Record:
    if len(data) > MAX_FILE_BYTES:
        raise _corrupt(path, f"larger than {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _corrupt(path, "not UTF-8 text") from None
    try:
        obj = json.loads(text, object_pairs_hook=_reject_duplicates)
    except _DuplicateKeyError as exc:
        raise _corrupt(path, f"duplicate key {_short(str(exc))}") from None
    except json.JSONDecodeError as exc:
        raise _corrupt(path, f"not JSON ({exc})") from None
    except (ValueError, RecursionError):  # e.g. an int too long or nesting too deep
        raise _corrupt(path, "not JSON that can be read") from None

    if not isinstance(obj, dict):
        raise _corrupt(path, "not a JSON object")
    if obj.get("format") != FORMAT:
        raise _corrupt(path, f'"format" is not "{FORMAT}"')
    version = obj.get("version")
    if type(version) is not int:
        raise _corrupt(path, '"version" is missing or not an integer')
    if version != VERSION:
        raise _corrupt(
            path, f"unsupported version {_short(version)} (this program reads {VERSION})"
        )
    cipher = obj.get("cipher")
    if cipher not in (CIPHER_NONE, CIPHER_ARGON2ID):
        raise _corrupt(path, f"unknown cipher {_short(cipher)}")
    expected = _TOP_KEYS if cipher == CIPHER_NONE else _TOP_KEYS | {"kdf"}
    _check_keys(path, obj, expected, "")

    public_key = _hex(path, obj["public_key"], "public_key", PUBLIC_KEY_BYTES)
    if cipher == CIPHER_NONE:
        seed = _hex(path, obj["secret"], "secret", SEED_BYTES)
        if not _seed_matches(seed, public_key):
            raise _corrupt(path, "secret does not match public_key")
        return _Record(path, public_key, None, None, seed)

    kdf_obj = obj["kdf"]
    if not isinstance(kdf_obj, dict):
        raise _corrupt(path, '"kdf" is not a JSON object')
    _check_keys(path, kdf_obj, _KDF_KEYS, "kdf.")
    for name in ("opslimit", "memlimit"):
        if type(kdf_obj[name]) is not int:
            raise _corrupt(path, f'"kdf.{name}" is not an integer')
    try:
        kdf = KdfParams(kdf_obj["opslimit"], kdf_obj["memlimit"])
    except KeystoreError as exc:
        raise _corrupt(path, str(exc)) from None
    salt = _hex(path, kdf_obj["salt"], "kdf.salt", SALT_BYTES)
    sealed = _hex(path, obj["secret"], "secret", SEALED_SEED_BYTES)
    return _Record(path, public_key, kdf, salt, sealed)


def _check_keys(path: Path, obj: dict[str, Any], expected: frozenset[str], prefix: str) -> None:
    missing = sorted(expected - obj.keys())
    if missing:
        raise _corrupt(path, "missing " + ", ".join(f'"{prefix}{key}"' for key in missing))
    extra = sorted(obj.keys() - expected)
    if extra:
        raise _corrupt(path, "unexpected " + ", ".join(_short(prefix + key) for key in extra))


def _hex(path: Path, value: object, name: str, size: int) -> bytes:
    if not isinstance(value, str):
        raise _corrupt(path, f'"{name}" is not a string')
    if len(value) != 2 * size:
        raise _corrupt(path, f'"{name}" has {len(value)} hex digits, expected {2 * size}')
    if not _HEX.fullmatch(value):
        raise _corrupt(path, f'"{name}" is not lowercase hex')
    return bytes.fromhex(value)


def _short(value: object, limit: int = 40) -> str:
    """A repr of a value read from a file, cut short for an error message."""
    text = repr(value) if not isinstance(value, int) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- writing --------------------------------------------------------------------------


def _already_initialized(path: Path) -> AlreadyInitializedError:
    return AlreadyInitializedError(
        f"{path.parent} already has an identity ({path.name}); not overwriting it"
    )


def _ensure_home(home: Path) -> None:
    try:
        home.mkdir(mode=_HOME_MODE, parents=True)
    except FileExistsError:
        if not home.is_dir():
            raise KeystoreError(f"{home} exists and is not a directory") from None
        return
    except OSError as exc:
        raise KeystoreError(f"cannot create {home}: {exc.strerror}") from None
    try:
        os.chmod(home, _HOME_MODE)  # mkdir's mode is filtered by the umask
        _fsync_dir(home.parent)
    except OSError as exc:
        raise KeystoreError(f"cannot create {home}: {exc.strerror}") from None


def _write_atomically(path: Path, data: bytes, *, replace: bool) -> None:
    """Put ``data`` at ``path`` whole or not at all.

    Args:
        path: The file to write.
        data: Its new content.
        replace: Whether an existing file is replaced; if False, AlreadyInitializedError
            is raised instead.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    flags = (
        os.O_WRONLY
        | os.O_CREAT
        | os.O_EXCL
        | getattr(os, "O_CLOEXEC", 0)
        | getattr(os, "O_NOFOLLOW", 0)
    )
    try:
        fd = os.open(tmp, flags, _FILE_MODE)
    except OSError as exc:
        raise KeystoreError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), _FILE_MODE)  # exactly 0600, whatever the umask
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        raise KeystoreError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("cannot remove temporary file %s: %s", tmp, exc.strerror)


def _link_new(tmp: Path, path: Path) -> None:
    """Give ``tmp``'s file the name ``path``, failing if ``path`` exists."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _already_initialized(path) from None
    except OSError as exc:
        if exc.errno not in _NO_LINK_ERRNOS:
            raise
        # No hard links on this filesystem: check, then rename. Unlike link, this can
        # lose a race with another process creating the identity at the same moment.
        logger.debug("%s: no hard links (%s); creating it by rename", path, exc.strerror)
        if os.path.lexists(path):
            raise _already_initialized(path) from None
        os.replace(tmp, path)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
