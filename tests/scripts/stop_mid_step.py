"""A server's shutdown in the middle of a long training step, then the interpreter's exit (test_interrupt.py).

Before jobs could leave a step between layers, the scheduler's 3-s join gave up on the thread, and the process
exited while that thread was inside torch: SIGABRT ("terminate called without an active exception") or SIGSEGV.
"""

import sys
import time

import nstcore
from demo_app.jobs.backend import Backend
from demo_app.session.current_run import CurrentRun
from demo_app.session.limits import Limits
from demo_app.session.visitor import NOBODY
from tests.conftest import make_image

nstcore.set_cpu_threads(1)  # a long step on any machine
backend = Backend(weights="random", device_name="cpu")
run = CurrentRun(backend, Limits(), "session", NOBODY)
config = nstcore.StyleConfig(size=384, steps=500, weights="random", generator="hrnet", preview_every=0)
content = make_image(384, 288, 1)
run.submit(nstcore.RunRequest(config, content, (make_image(256, 256, 2),), photos=(content,)), "single")
while run.job is None or run.job.state != "running":
    time.sleep(0.01)
time.sleep(1.0)  # inside the first step
started = time.perf_counter()
clean = backend.scheduler.shutdown(timeout=3.0)
print(f"clean={clean} after {time.perf_counter() - started:.2f} s", file=sys.stderr)
