"""Whether this process is serving: starting, serving, stopping (set by shared.runner).

``/health`` answers 503 at once, without touching the service, whenever the process is not
serving (shared/web.py), so a probe never waits on a process that is starting or going away.
"""
from __future__ import annotations

import time

STARTING, SERVING, STOPPING = "starting", "serving", "stopping"

# How the process ends, for its supervisor (docs/operations.md). Kept here, not in shared.runner,
# so that reading them does not monkey-patch the reader with eventlet.
EXIT_STOPPED = 0
EXIT_STOP_FORCED = 1         # the grace ran out (or a second signal): killed, not drained
EXIT_CONTAINER_DIED = 70     # EX_SOFTWARE: restart me

_state = {"state": SERVING, "since": time.monotonic()}  # a container run without the runner (tests) serves


def set_state(state: str) -> None:
    _state.update(state=state, since=time.monotonic())


def state() -> str:
    return _state["state"]


def serving() -> bool:
    return _state["state"] == SERVING


def seconds_in_state() -> float:
    return time.monotonic() - _state["since"]
