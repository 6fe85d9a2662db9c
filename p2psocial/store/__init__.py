"""Local storage: the append-only log (the truth), the SQLite index derived from it, and
the store that is the only way into a home directory.

See docs/architecture.md for how the modules fit together.
"""
