"""Local storage: the append-only log, its framing and recovery, and the home lock."""
