"""structlog configured for one JSON object per line, with bound context (service, ids)."""
from __future__ import annotations

import logging
import os
import sys

import structlog


def configure(service: str, level: str | None = None) -> None:
    level_name = (level or os.environ.get("THONGTHIN_LOG_LEVEL", "INFO")).upper()
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=getattr(logging, level_name))
    # nameko and kombu log through stdlib logging: render them as JSON too.
    def add_service(_logger, _method, event_dict):
        # Context variables are per green thread; the service name must be on every line.
        event_dict.setdefault("service", service)
        return event_dict

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_service,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level_name)),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        processor=structlog.processors.JSONRenderer(ensure_ascii=False),
        foreign_pre_chain=[structlog.contextvars.merge_contextvars, add_service,
                           structlog.processors.add_log_level,
                           structlog.processors.TimeStamper(fmt="iso", utc=True)])
    root = logging.getLogger()
    for handler in root.handlers:
        handler.setFormatter(formatter)
    for noisy in ("amqp", "kombu", "nameko"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, getattr(logging, level_name)))
