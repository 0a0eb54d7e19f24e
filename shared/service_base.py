"""What every nameko service class has: health and metrics endpoints, correlation, database."""
from __future__ import annotations

import json

from nameko.dependency_providers import Config
from nameko.exceptions import deserialize_to_instance
from nameko.rpc import Rpc
from shared.web import http
from sqlalchemy import text

from shared.errors import InputError
from shared.messaging.nameko_ext import UnitOfWork
from shared.observability import metrics
from shared.observability.worker import WorkerContext


# RPC callers get an InputError back, not a generic RemoteError.
deserialize_to_instance(InputError)


def rpc(fn):
    """An RPC entrypoint whose InputError is an expected answer, not a server error."""
    return Rpc.decorator(expected_exceptions=(InputError,))(fn)


def json_response(status: int, body, content_type: str = "application/json") -> tuple:
    return status, {"Content-Type": f"{content_type}; charset=utf-8"}, json.dumps(
        body, ensure_ascii=False, default=str)


class ServiceBase:
    """Mixin of /health and /metrics; subclasses set ``name``."""

    config = Config()
    context = WorkerContext()
    uow = UnitOfWork()

    @http("GET", "/health")
    def health(self, request):
        try:
            with self.uow.database.session() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:
            return json_response(503, {"service": self.name, "status": "down", "database": repr(exc)})
        return json_response(200, {"service": self.name, "status": "ok"})

    @http("GET", "/metrics")
    def metrics(self, request):
        body, content_type = metrics.render()
        return 200, {"Content-Type": content_type}, body.decode("utf-8")  # nameko wants str


def run_command(uow_factory, handler, command, **kwargs):
    """Run a use case in one unit of work and commit; InputError leaves nothing behind."""
    with uow_factory(**kwargs) as uow:
        result = handler(uow, command)
        uow.commit()
        return result


__all__ = ["InputError", "ServiceBase", "json_response", "rpc", "run_command"]
