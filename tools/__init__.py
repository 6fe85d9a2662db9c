"""Scripts that drive the real program from outside: the crash soak (``python -m
tools.soak``, ``make soak``) and the long fuzz run (``python -m tools.fuzz``, ``make
fuzz``). Neither is part of the package; their short forms run in ``make test`` from
tests/soak/ and tests/fuzz/."""
