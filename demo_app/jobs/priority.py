"""Threads that compute give way to the event loop: a job's, the worker pool's and the page builder's threads run at
a lower scheduling priority (a higher *nice* value) than the loop every visitor shares.

Work left the loop long ago (decoding, encoding, page building, the jobs); what remained of ``/liveness``'s tail was
the loop waiting for a core. On a 2-core server a running job (two torch threads), a worker decoding a hostile
upload and the browsers' machine all want the cores, and the loop got its turn after theirs: p99 39-62 ms and max
80-120 ms in three rounds of ``benchmarks/bench_hostile.py`` (0 reloading clients, the 2-core EPYC), against
16-30 ms and 39-81 ms with the compute threads at nice 10 (``benchmarks/results_hostile.md``). A nice value only
orders threads that want a core at once: alone, a job runs at full speed.

Linux gives each thread its own nice value, and a thread's new threads inherit it: torch's OpenMP pool is made per
calling thread, so a job thread's torch threads run at its priority too. Raising one's own nice value needs no
privilege; a thread never gets it back, which suits threads that only ever compute. Elsewhere this does nothing.
"""

from __future__ import annotations

import os
import sys
import threading

# Ten of the twenty steps from 0 (the loop's) to 19: under Linux's scheduler a nice-10 thread gets about a tenth of
# the weight of a nice-0 one, so the loop wins a contested core almost at once, and the compute threads still
# share the cores evenly among themselves.
COMPUTE_NICE = 10


def give_way(nice: int = COMPUTE_NICE) -> bool:
    """Lower the calling thread's priority to at least ``nice`` (a thread already lower keeps its own). True where the
    thread now runs at ``nice`` or lower; False where the platform has no per-thread nice value or refused."""
    if sys.platform != "linux":
        return False
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        return True
    except OSError:
        return False


def nice_of_this_thread() -> int | None:
    """The calling thread's nice value (None where the platform has no per-thread value)."""
    if sys.platform != "linux":
        return None
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
