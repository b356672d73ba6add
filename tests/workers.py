"""Imported first by tests/conftest.py, before anything loads torch or numpy.

`make test` runs two pytest-xdist workers on two cores: each worker, and the commands it starts, gets one core's
worth of threads for torch, numpy and the encoder — two workers with two threads each would spin four threads on two
cores. The embedded model's server keeps its two: at one thread its answers took twice as long.
"""

import os

THREAD_LIMITS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")

if os.environ.get("PYTEST_XDIST_WORKER"):
    for variable in THREAD_LIMITS:
        os.environ.setdefault(variable, "1")
