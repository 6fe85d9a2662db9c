"""One error hierarchy for the whole library.

Every error carries a machine-readable dotted ``code`` (``invalid.signature``,
``store.locked``) that says what went wrong, and a human sentence. The first part of the
code groups errors by what the caller can do about them:

- ``invalid.*``: a message broke a validation rule. Retrying the same bytes never helps;
  when it came from a peer, that peer is at fault.
- ``chain.*``: a message is valid on its own but does not fit its author's chain as this
  node knows it (a gap, a wrong ``prev``, a fork).
- ``store.*``: the local log, index or home directory.
- ``keystore.*``: the identity key on disk.
- ``input.*``: something a local user or program asked for is malformed or unknown.
- ``net.*``: talking to other nodes.
- ``control.*``: the daemon's local control socket (classes in :mod:`p2psocial.control`);
  ``os`` stands for an operating-system error met by the daemon on the caller's behalf.

The command line prints ``str(error)`` as one line and exits non-zero; it never shows a
traceback for any of these.
"""

from __future__ import annotations

from typing import ClassVar


class P2PSocialError(Exception):
    """Root of every error this library raises on purpose."""

    code: ClassVar[str] = "error"


# --- messages -------------------------------------------------------------------------


class ValidationError(P2PSocialError):
    """A message broke a rule of docs/protocol.md; it is neither stored nor forwarded."""

    code = "invalid"


class DecodeError(ValidationError):
    """The bytes are not well-formed CBOR of the expected shape."""

    code = "invalid.encoding"


class NonCanonicalError(ValidationError):
    """Well-formed CBOR, but not the one deterministic encoding of its value."""

    code = "invalid.non_canonical"


class OversizeError(ValidationError):
    """A message, body or field exceeds its hard size limit."""

    code = "invalid.oversize"


class UnsupportedVersionError(ValidationError):
    """The header's protocol version is not one this node implements."""

    code = "invalid.version"


class MalformedHeaderError(ValidationError):
    """The header is missing a field, has an extra one, or has a wrong type or range."""

    code = "invalid.header"


class UnknownKindError(ValidationError):
    """The header names a kind of message this node does not know."""

    code = "invalid.unknown_kind"


class MalformedBodyError(ValidationError):
    """The body does not match the schema of its kind."""

    code = "invalid.body"


class BodyHashMismatchError(ValidationError):
    """The body's hash or length differs from what the signed header commits to."""

    code = "invalid.body_hash"


class BadSignatureError(ValidationError):
    """The signature does not verify against the author's key."""

    code = "invalid.signature"


class FutureTimestampError(ValidationError):
    """The timestamp is further ahead of this node's clock than the allowed skew."""

    code = "invalid.future_timestamp"


class InsufficientPostageError(ValidationError):
    """Less proof of work than this node asks of the author (local policy, not format)."""

    code = "invalid.postage"


# --- chains ---------------------------------------------------------------------------


class ChainError(P2PSocialError):
    """A valid message that does not fit its author's chain as this node knows it."""

    code = "chain"


class SeqGapError(ChainError):
    """The message's ``seq`` is beyond the author's next expected one (gaps not allowed)."""

    code = "chain.seq_gap"


class PrevMismatchError(ChainError):
    """The message's ``prev`` is not the id of the author's message at ``seq - 1``."""

    code = "chain.prev_mismatch"


class ForkError(ChainError):
    """The author signed two different messages for one ``seq``.

    The second message is kept as evidence and the author is marked forked.
    """

    code = "chain.fork"


# --- local state ----------------------------------------------------------------------


class StoreError(P2PSocialError):
    """The home directory, the log or the index."""

    code = "store"


class HomeLockedError(StoreError):
    """Another process already writes to this home directory."""

    code = "store.locked"


class LogCorruptError(StoreError):
    """The log holds a damaged record that is not a torn tail; nothing was changed."""

    code = "store.log_corrupt"


class NotInitializedError(StoreError):
    """The home directory has no identity yet (run ``p2psocial init``)."""

    code = "store.not_initialized"


class AlreadyInitializedError(StoreError):
    """The home directory already has an identity."""

    code = "store.already_initialized"


class ImportFileError(StoreError):
    """An export file is damaged or not an export file; nothing was imported."""

    code = "store.bad_import"


class KeystoreError(P2PSocialError):
    """The identity key on disk."""

    code = "keystore"


class WrongPassphraseError(KeystoreError):
    """The passphrase does not unlock the keystore."""

    code = "keystore.wrong_passphrase"


class PassphraseRequiredError(KeystoreError):
    """The keystore is encrypted and no passphrase was given."""

    code = "keystore.passphrase_required"


class KeystoreCorruptError(KeystoreError):
    """The keystore file is damaged or of an unknown format."""

    code = "keystore.corrupt"


# --- local input ----------------------------------------------------------------------


class InputError(P2PSocialError):
    """Something a local user or program asked for is malformed or unknown."""

    code = "input"


class InvalidIdError(InputError):
    """A text id (author or message) is malformed or fails its checksum."""

    code = "input.bad_id"


class NotFoundError(InputError):
    """No author or message matches."""

    code = "input.not_found"


class AmbiguousIdError(InputError):
    """An id prefix matches more than one author or message."""

    code = "input.ambiguous"


# --- the network ----------------------------------------------------------------------


class NetworkError(P2PSocialError):
    """Talking to other nodes failed."""

    code = "net"


class DialError(NetworkError):
    """A peer could not be reached."""

    code = "net.dial"


class SyncError(NetworkError):
    """A sync session with a peer failed (timeout, bad frame, refused request)."""

    code = "net.sync"
