"""Run one service (or several in one process) under nameko.

    python -m shared.runner plans
    python -m shared.runner plans assessments notifications reporting gateway

SIGTERM and SIGINT stop gracefully: consumers stop taking messages, running workers finish and
ack, then the process exits. eventlet is patched first, and psycopg2 is made cooperative.
"""
from __future__ import annotations

import eventlet

eventlet.monkey_patch()  # noqa: E402  (must precede every other import)

import argparse  # noqa: E402
import importlib  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()

import structlog  # noqa: E402
from nameko.runners import ServiceRunner  # noqa: E402

from shared.config import service_config  # noqa: E402
from shared.observability.logging import configure  # noqa: E402

SERVICE_CLASSES = {
    "plans": "services.plans.service:PlansService",
    "assessments": "services.assessments.service:AssessmentsService",
    "notifications": "services.notifications.service:NotificationsService",
    "reporting": "services.reporting.service:ReportingService",
    "gateway": "services.gateway.service:GatewayService",
}


def service_class(spec: str):
    """A service name, or ``package.module:Class`` (tests run their own service classes)."""
    module, _, attr = SERVICE_CLASSES.get(spec, spec).partition(":")
    return getattr(importlib.import_module(module), attr)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", nargs="+", help=f"{', '.join(SERVICE_CLASSES)} or module:Class")
    args = parser.parse_args(argv)
    classes = [service_class(spec) for spec in args.services]
    configure("+".join(cls.name for cls in classes))
    log = structlog.get_logger("runner")
    runners = []
    for cls in classes:
        runner = ServiceRunner(service_config(cls.name))
        runner.add_service(cls)
        runners.append(runner)
    stopping = eventlet.event.Event()

    def request_stop(signum, _frame):
        log.info("stopping", signal=signal.Signals(signum).name)
        if not stopping.ready():
            stopping.send(True)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    for runner in runners:
        runner.start()
    log.info("started", services=args.services)
    stopping.wait()
    for runner in runners:
        runner.stop()
    log.info("stopped", services=args.services)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
