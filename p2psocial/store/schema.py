"""The SQLite index's schema: derived from the log, versioned, rebuildable.

Bump :data:`INDEX_VERSION` whenever the schema or the way rows are derived changes; a node
that opens an index of another version rebuilds it from the log.
"""

from __future__ import annotations

from typing import Final

from ..core.bodies import Kind

INDEX_VERSION: Final = 5

KIND_CODES: Final[dict[Kind, int]] = {
    Kind.POST: 1,
    Kind.REPLY: 2,
    Kind.REPOST: 3,
    Kind.REACTION: 4,
    Kind.FOLLOW: 5,
    Kind.UNFOLLOW: 6,
    Kind.PROFILE: 7,
    Kind.DELETE: 8,
    Kind.BLOCK: 9,
    Kind.UNBLOCK: 10,
    Kind.LIST: 11,
}
CODE_KINDS: Final[dict[int, Kind]] = {code: kind for kind, code in KIND_CODES.items()}

# Kinds that appear in timelines; the partial indexes below repeat this list literally,
# and queries must use the same expression for SQLite to pick them.
TIMELINE_KINDS_SQL: Final = "kind IN (1, 2, 3)"
# Kinds whose body a delete may drop (the others are superseded, not deleted).
DELETABLE_CODES: Final = frozenset({1, 2, 3, 4})

PRAGMAS: Final = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = OFF",
    "PRAGMA temp_store = MEMORY",
    # Random-key inserts (ids, thread links) dirty pages all over the indexes: a 2 MiB
    # cache (the default) thrashes past ~100k messages; and checkpoint every ~40 MiB of
    # WAL instead of every 4 MiB, so that hot pages are copied back once, not each time.
    "PRAGMA cache_size = -65536",
    "PRAGMA wal_autocheckpoint = 10000",
)

SCHEMA: Final = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value
) WITHOUT ROWID;

CREATE TABLE authors (
    rowid       INTEGER PRIMARY KEY,
    key         BLOB NOT NULL UNIQUE,       -- 32-byte public key
    name        TEXT,
    bio         TEXT,
    profile_seq INTEGER NOT NULL DEFAULT 0, -- seq of the profile message in effect
    head_seq    INTEGER NOT NULL DEFAULT 0, -- highest seq held
    held        INTEGER NOT NULL DEFAULT 0, -- number of seqs held (head_seq - held = gaps)
    held_fp     INTEGER NOT NULL DEFAULT 0, -- XOR of the held seqs' fingerprints (core.sync)
    forked      INTEGER NOT NULL DEFAULT 0,
    automated   INTEGER NOT NULL DEFAULT 0, -- the profile in effect declares a program posts
    blocked     INTEGER NOT NULL DEFAULT 0  -- the home's owner blocks this author (meta 'owner')
);

CREATE TABLE messages (
    rowid    INTEGER PRIMARY KEY,
    id       BLOB NOT NULL UNIQUE,
    author   INTEGER NOT NULL,              -- authors.rowid
    seq      INTEGER NOT NULL,
    prev     BLOB,
    ts       INTEGER NOT NULL,
    kind     INTEGER NOT NULL,              -- KIND_CODES
    pos      INTEGER NOT NULL,              -- log position of the record
    text     TEXT,                          -- post/reply text, reaction emoji
    root     BLOB,
    parent   BLOB,
    target   BLOB,                          -- repost, reaction, delete
    subject  INTEGER,                       -- follow/unfollow: authors.rowid
    has_body INTEGER NOT NULL,
    deleted  INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX messages_author_seq ON messages (author, seq);

CREATE TABLE forks (
    id     BLOB PRIMARY KEY,                -- the later, conflicting message
    author INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    pos    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE follows (
    follower INTEGER NOT NULL,
    followee INTEGER NOT NULL,
    seq      INTEGER NOT NULL,              -- seq of the follow/unfollow in effect
    active   INTEGER NOT NULL,
    PRIMARY KEY (follower, followee)
) WITHOUT ROWID;

CREATE TABLE tags (
    tag TEXT NOT NULL,
    ts  INTEGER NOT NULL,
    msg INTEGER NOT NULL,
    PRIMARY KEY (tag, ts, msg)
) WITHOUT ROWID;

CREATE TABLE mentions (
    author INTEGER NOT NULL,
    ts     INTEGER NOT NULL,
    msg    INTEGER NOT NULL,
    PRIMARY KEY (author, ts, msg)
) WITHOUT ROWID;
CREATE INDEX mentions_msg ON mentions (msg);

CREATE TABLE blocks (
    blocker INTEGER NOT NULL,
    blocked INTEGER NOT NULL,
    seq     INTEGER NOT NULL,               -- seq of the block/unblock in effect
    active  INTEGER NOT NULL,
    PRIMARY KEY (blocker, blocked)
) WITHOUT ROWID;

CREATE TABLE lists (                        -- moderation lists: the latest of each name
    author  INTEGER NOT NULL,
    name    TEXT NOT NULL,
    seq     INTEGER NOT NULL,               -- seq of the list message in effect
    msg     INTEGER NOT NULL,               -- its messages.rowid
    PRIMARY KEY (author, name)
) WITHOUT ROWID;

CREATE TABLE list_entries (
    author    INTEGER NOT NULL,
    name      TEXT NOT NULL,
    position  INTEGER NOT NULL,             -- order in the list message
    target    BLOB NOT NULL,                -- an author key or a message id
    is_author INTEGER NOT NULL,
    reason    TEXT NOT NULL,
    PRIMARY KEY (author, name, position)
) WITHOUT ROWID;

CREATE TABLE deletes (
    target BLOB PRIMARY KEY,
    author INTEGER NOT NULL                 -- who asked; honoured only for their own
) WITHOUT ROWID;

CREATE VIRTUAL TABLE search USING fts5 (
    text, content = 'messages', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
"""

# Indexes only queries need (applying records uses the ones in SCHEMA): a full rebuild
# creates them after loading, which is much faster than keeping them up to date.
SECONDARY_INDEXES: Final = (
    f"CREATE INDEX messages_timeline ON messages (ts) WHERE {TIMELINE_KINDS_SQL};",
    f"CREATE INDEX messages_author_timeline ON messages (author, ts) WHERE {TIMELINE_KINDS_SQL};",
    "CREATE INDEX messages_root ON messages (root) WHERE root IS NOT NULL;",
    "CREATE INDEX messages_parent ON messages (parent) WHERE parent IS NOT NULL;",
    "CREATE INDEX messages_target ON messages (target) WHERE target IS NOT NULL;",
    "CREATE INDEX follows_followee ON follows (followee, follower);",
)
