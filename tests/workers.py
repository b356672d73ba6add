"""Imported first by tests/conftest.py, before anything loads torch or numpy.

`make test` runs two pytest-xdist workers on two cores: each worker, and the commands and model servers it starts,
gets one core's worth of threads (torch, numpy, the encoder, the embedded model). Measured on the whole suite: with
the embedded model at two threads, two model servers at once spin four threads on two cores and the run took 32 min;
at one thread each, 26 min.
"""

import os

THREAD_LIMITS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "SOURCIER_LLM__EMBEDDED_THREADS")

if os.environ.get("PYTEST_XDIST_WORKER"):
    for variable in THREAD_LIMITS:
        os.environ.setdefault(variable, "1")
