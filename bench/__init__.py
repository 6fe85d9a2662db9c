"""Benchmarks of p2psocial (``make bench``, ``make bench-quick``); never part of the tests.

Each figure is measured beside an anchor from the same run (what the machine or the crypto
library can do), so that results from different machines can be compared by their ratios.
See docs/benchmarks.md.
"""
