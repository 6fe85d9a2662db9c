"""The terminal app behind ``p2psocial tui``: Textual on asyncio, the node on trio (guest mode)."""
