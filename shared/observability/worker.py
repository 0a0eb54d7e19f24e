"""nameko dependency that gives every worker a correlation id, log context and latency metric."""
from __future__ import annotations

import time
import uuid

import structlog
from nameko.extensions import DependencyProvider

from shared.observability import metrics

CORRELATION_HEADER = "X-Correlation-ID"


class WorkerContext(DependencyProvider):
    """``self.correlation_id`` in a service method; RPC calls pass it on to other services."""

    @staticmethod
    def _ensure(worker_ctx) -> str:
        data = worker_ctx.data
        if not data.get("correlation_id"):
            request = worker_ctx.args[0] if worker_ctx.args else None
            from_header = getattr(getattr(request, "headers", None), "get", lambda _k: None)(CORRELATION_HEADER)
            # worker_ctx.data travels on with RPC calls (nameko puts it in message headers)
            data["correlation_id"] = (from_header or str(uuid.uuid4()))[:64]
        return data["correlation_id"]

    def worker_setup(self, worker_ctx):
        data = worker_ctx.data
        self._ensure(worker_ctx)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            entrypoint=worker_ctx.entrypoint.method_name, correlation_id=data["correlation_id"])
        worker_ctx.data["_started"] = time.perf_counter()

    def worker_teardown(self, worker_ctx):
        started = worker_ctx.data.get("_started")
        if started is not None:
            metrics.HANDLER_LATENCY.labels(self.container.service_name,
                                           worker_ctx.entrypoint.method_name).observe(
                time.perf_counter() - started)
        structlog.contextvars.clear_contextvars()

    def get_dependency(self, worker_ctx):
        return self._ensure(worker_ctx)
