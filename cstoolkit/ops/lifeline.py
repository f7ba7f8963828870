"""A step of ``cst run`` ends with its run, however the run ends.

``cst run`` starts each step in its own process group (so a hung step and everything it
started can be killed as one). That also means a step would outlive a ``cst run`` killed by
SIGKILL, still holding its lock while the next run starts. Two mechanisms tie the step to its
parent, both set up by :func:`spawn_options` in the parent and :func:`watch` in the step:

* **Linux:** the step asks the kernel for SIGTERM when its parent dies (``prctl
  PR_SET_PDEATHSIG``, set between fork and exec, so it covers any program);
* **everywhere:** the step inherits the read end of a pipe whose only write end the parent
  holds. When the parent dies, the kernel closes that end; the step's watcher thread reads EOF
  and terminates the step's process group (SIGTERM, then SIGKILL after a grace period).

In a step, SIGTERM raises ``SystemExit(143)``, so its ``finally`` blocks run: run locks are
released, a transaction in progress is rolled back, a ledger reservation in flight keeps its
lease (and is reconciled after it, never sent blindly twice).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

#: The environment variable naming the inherited pipe's file descriptor (set by ``cst run``).
LIFELINE_ENV = "CSTOOLKIT_RUN_LIFELINE"
#: Seconds between SIGTERM and SIGKILL of the step's group once its parent is gone.
GRACE = 5.0
_PR_SET_PDEATHSIG = 1


def _pdeathsig(parent: int) -> Callable[[], None]:
    """A ``preexec_fn``: SIGTERM when the parent dies; exit at once if it already died."""

    def setup() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl
            os._exit(143)

    return setup


def spawn_options(env: dict[str, str] | None) -> tuple[dict[str, Any], int]:
    """Keyword arguments for ``subprocess.Popen`` of a step, and the pipe's write end, which
    the parent keeps open while the step runs and closes after it."""
    read_end, write_end = os.pipe()
    os.set_inheritable(read_end, True)
    child_env = dict(os.environ if env is None else env)
    child_env[LIFELINE_ENV] = str(read_end)
    options: dict[str, Any] = {"env": child_env, "pass_fds": (read_end,)}
    if sys.platform.startswith("linux"):
        options["preexec_fn"] = _pdeathsig(os.getpid())
    return options, write_end


def close_read_end(options: dict[str, Any]) -> None:
    """After the step started: the parent's copy of the read end is not needed."""
    for fd in options.get("pass_fds", ()):
        with contextlib.suppress(OSError):
            os.close(fd)


def _terminate(signum: int, frame: Any) -> None:
    # Once: the parent-death signal and the watcher may both deliver SIGTERM, and a second
    # SystemExit raised inside a ``finally`` would cut the release of a lock short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def _watch(fd: int, grace: float) -> None:
    try:
        while os.read(fd, 1):
            pass  # the parent never writes; anything read is ignored
    except OSError:
        pass
    # EOF: the parent is gone. End this step's whole process group.
    with contextlib.suppress(OSError):
        os.killpg(os.getpgrp(), signal.SIGTERM)
    time.sleep(grace)
    with contextlib.suppress(OSError):
        os.killpg(os.getpgrp(), signal.SIGKILL)


def watch(grace: float = GRACE) -> None:
    """In a step started by ``cst run``: end when the run ends (no-op elsewhere)."""
    raw = os.environ.pop(LIFELINE_ENV, "")
    if not raw.isdigit():
        return
    fd = int(raw)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    threading.Thread(target=_watch, args=(fd, grace), name="cst-lifeline", daemon=True).start()
