"""p2psocial: a peer-to-peer social network node.

The public surface for programs that embed a node; see docs/embedding.md.
"""

from __future__ import annotations

from .core.bodies import Kind
from .core.ids import AuthorId, MessageId
from .core.message import Message
from .errors import P2PSocialError
from .node import (
    Event,
    EventsMissed,
    ImportSummary,
    NewMessage,
    Node,
    Subscription,
    init_home,
    open_node,
)
from .store.queries import AuthorInfo, Cursor, Item, Reactions

__version__ = "0.1.0"

__all__ = [
    "AuthorId",
    "AuthorInfo",
    "Cursor",
    "Event",
    "EventsMissed",
    "ImportSummary",
    "Item",
    "Kind",
    "Message",
    "MessageId",
    "NewMessage",
    "Node",
    "P2PSocialError",
    "Reactions",
    "Subscription",
    "__version__",
    "init_home",
    "open_node",
]
