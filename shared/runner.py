"""Run one service (or several in one process) under nameko.

    python -m shared.runner plans
    python -m shared.runner plans assessments notifications reporting gateway

SIGTERM and SIGINT stop gracefully: consumers stop taking messages, running workers finish and
ack, then the process exits 0. The stop is bounded: if it has not finished within
``THONGTHIN_STOP_GRACE_S`` (20 s; e.g. the broker is away and the consumers cannot cancel), the
containers are killed and the process exits 1 — work that committed stays committed, messages
not acked are redelivered, outbox rows not yet published are published by the next start.
A second signal exits at once.

A container that dies (an extension's thread raised) takes the process down at once with exit
status 70, so that whatever supervises it restarts it: a process that neither serves nor exits
is the one failure no supervisor can see. ``/health`` answers 503 while starting and stopping.
eventlet is patched first, and psycopg2 is made cooperative.
"""
from __future__ import annotations

import eventlet

eventlet.monkey_patch()  # noqa: E402  (must precede every other import)

import argparse  # noqa: E402
import importlib  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from eventlet.queue import LightQueue  # noqa: E402
from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()

import structlog  # noqa: E402
from nameko.runners import ServiceRunner  # noqa: E402

from shared.config import env, service_config  # noqa: E402
from shared.observability import lifecycle  # noqa: E402
from shared.observability.logging import configure  # noqa: E402

SERVICE_CLASSES = {
    "plans": "services.plans.service:PlansService",
    "assessments": "services.assessments.service:AssessmentsService",
    "notifications": "services.notifications.service:NotificationsService",
    "reporting": "services.reporting.service:ReportingService",
    "gateway": "services.gateway.service:GatewayService",
}
EXIT_STOPPED, EXIT_STOP_FORCED, EXIT_CONTAINER_DIED = (lifecycle.EXIT_STOPPED, lifecycle.EXIT_STOP_FORCED,
                                                       lifecycle.EXIT_CONTAINER_DIED)
KILL_BUDGET_S = 1.5          # of the grace, kept for killing what did not stop


def service_class(spec: str):
    """A service name, or ``package.module:Class`` (tests run their own service classes)."""
    module, _, attr = SERVICE_CLASSES.get(spec, spec).partition(":")
    return getattr(importlib.import_module(module), attr)


def stop_grace_s() -> float:
    return max(1.0, float(env("THONGTHIN_STOP_GRACE_S", "20")))


def exit_now(code: int) -> None:
    """Leave without running anything else (no atexit, no thread joins): the process may be
    wedged in a way only the OS can undo. Open transactions roll back when their connections
    close; unacked messages go back to their queues."""
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:  # noqa: BLE001 - leaving anyway
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    os._exit(code)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", nargs="+", help=f"{', '.join(SERVICE_CLASSES)} or module:Class")
    args = parser.parse_args(argv)
    classes = [service_class(spec) for spec in args.services]
    configure("+".join(cls.name for cls in classes))
    log = structlog.get_logger("runner")
    grace = stop_grace_s()
    lifecycle.set_state(lifecycle.STARTING)
    runners = []
    for cls in classes:
        runner = ServiceRunner(service_config(cls.name))
        runner.add_service(cls)
        runners.append(runner)
    events = LightQueue()          # ("started" | "stop" | "died", detail), in the order they happen
    stop_signals: list[int] = []

    def request_stop(signum, _frame):
        stop_signals.append(signum)
        if len(stop_signals) > 1:  # asked twice: do not wait for anything
            log.warning("stop_forced", signal=signal.Signals(signum).name)
            exit_now(EXIT_STOP_FORCED)
        events.put_nowait(("stop", signal.Signals(signum).name))

    def watch(container):
        try:
            container.wait()
            events.put(("died", {"service": container.service_name, "error": None}))
        except BaseException as exc:  # noqa: BLE001 - whatever killed it, we report and leave
            events.put(("died", {"service": container.service_name, "error": repr(exc)}))

    def start_all():
        try:
            for runner in runners:
                runner.start()
            events.put(("started", None))
        except BaseException as exc:  # noqa: BLE001
            events.put(("died", {"service": "+".join(args.services), "error": f"start failed: {exc!r}"}))

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    for runner in runners:
        for container in runner.containers:
            eventlet.spawn(watch, container)
    eventlet.spawn(start_all)
    while True:
        kind, detail = events.get()
        if kind == "started":
            lifecycle.set_state(lifecycle.SERVING)
            log.info("started", services=args.services)
        elif kind == "died":
            # nameko has killed the container (its log says why); nothing serves any more
            lifecycle.set_state(lifecycle.STOPPING)
            log.critical("container_died", exit_code=EXIT_CONTAINER_DIED, **detail)
            exit_now(EXIT_CONTAINER_DIED)
        else:
            break
    lifecycle.set_state(lifecycle.STOPPING)
    log.info("stopping", signal=detail, grace_s=grace)
    stopper = eventlet.spawn(lambda: [runner.stop() for runner in runners])
    stopped = False
    with eventlet.Timeout(max(0.5, grace - KILL_BUDGET_S), False):
        stopper.wait()
        stopped = True
    if stopped:
        log.info("stopped", services=args.services)
        # everything is stopped: leave now rather than wait on the interpreter's teardown of
        # green threads and pools, which took seconds and counts against the supervisor's grace
        exit_now(EXIT_STOPPED)
        return EXIT_STOPPED
    # Still stopping at the end of the grace: typically the broker is away and the consumers
    # cannot cancel. Workers that finished have committed; what they could not ack is redelivered.
    log.warning("stop_grace_exceeded", grace_s=grace, services=args.services)
    killer = eventlet.spawn(lambda: [runner.kill() for runner in runners])
    with eventlet.Timeout(KILL_BUDGET_S * 0.6, False):
        killer.wait()
    log.warning("stopped_forced", services=args.services)
    exit_now(EXIT_STOP_FORCED)
    return EXIT_STOP_FORCED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
