"""What every nameko service class has: health and metrics endpoints, correlation, database."""
from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta

import eventlet
from nameko.dependency_providers import Config
from nameko.exceptions import deserialize_to_instance
from shared.web import http
from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import IntegrityError

from shared.contracts import utcnow
from shared.errors import InputError
from shared.messaging.nameko_ext import UnitOfWork
from shared.messaging.rpc import ReplySafeRpc
from shared.messaging.tables import rpc_results
from shared.observability import metrics
from shared.observability.worker import WorkerContext


HEALTH_DATABASE_TIMEOUT_S = 0.8

# RPC callers get an InputError back, not a generic RemoteError.
deserialize_to_instance(InputError)


def rpc(fn):
    """An RPC entrypoint whose InputError is an expected answer, not a server error."""
    return ReplySafeRpc.decorator(expected_exceptions=(InputError,))(fn)


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
            # a database that does not answer is "down" within a second, not a hung probe
            with eventlet.Timeout(HEALTH_DATABASE_TIMEOUT_S, TimeoutError("database did not answer within "
                                                                          f"{HEALTH_DATABASE_TIMEOUT_S}s")):
                with self.uow.database.session() as session:
                    session.execute(text("SELECT 1"))
        except Exception as exc:
            return json_response(503, {"service": self.name, "status": "down", "database": repr(exc)})
        return json_response(200, {"service": self.name, "status": "ok"})

    @http("GET", "/metrics")
    def metrics(self, request):
        body, content_type = metrics.render()
        return 200, {"Content-Type": content_type}, body.decode("utf-8")  # nameko wants str


RPC_RESULTS_KEPT = timedelta(hours=48)   # longer than the gateway keeps an idempotency key (24 h)
_last_purge = {"at": 0.0}


def run_command(uow_factory, handler, command, **kwargs):
    """Run a use case in one unit of work and commit; InputError leaves nothing behind.

    When the RPC carried an idempotency key (``uow_factory.idempotency_key``, from the caller's
    worker context), the result is stored with the effect, in the same transaction, under
    (entrypoint:handler, key, hash of the command): the same call again — the client's retry
    after a lost reply, or the broker redelivering the request — returns the stored result and
    changes nothing. Exactly once, whichever of two concurrent copies commits first."""
    key = getattr(uow_factory, "idempotency_key", None)
    if not key:
        with uow_factory(**kwargs) as uow:
            result = handler(command, uow)
            uow.commit()
            return result
    where = dict(call=f"{getattr(uow_factory, 'entrypoint', '?')}:{_handler_name(handler)}"[:120],
                 idempotency_key=str(key)[:64], request_hash=_command_hash(command, handler))
    stored = _stored_result(uow_factory, where)
    if stored is not None:
        return stored
    try:
        with uow_factory(**kwargs) as uow:
            _purge_old_results(uow.session)
            result = handler(command, uow)
            uow.session.execute(insert(rpc_results).values(
                result=json.dumps(result, ensure_ascii=False, default=_json_default),
                committed_at=utcnow(), **where))
            uow.commit()
            return result
    except IntegrityError:
        stored = _stored_result(uow_factory, where)  # a concurrent copy of this call committed first
        if stored is None:
            raise
        return stored


def _handler_name(handler) -> str:
    """A handler's name, also through functools.partial (a handler given the actor)."""
    return getattr(handler, "__name__", None) or _handler_name(getattr(handler, "func", None) or type(handler))


def _command_hash(command, handler=None) -> str:
    text_ = command.model_dump_json() if hasattr(command, "model_dump_json") else json.dumps(
        command, sort_keys=True, default=_json_default)
    bound = getattr(handler, "keywords", None)  # partial(handler, actor=...): who acts is part of the call
    if bound:
        text_ += json.dumps(bound, sort_keys=True, default=_json_default)
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()


def _json_default(value):
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _stored_result(uow_factory, where: dict):
    with uow_factory.database.session() as session:
        stored = session.execute(select(rpc_results.c.result).where(
            *[rpc_results.c[name] == value for name, value in where.items()])).scalar()
    return None if stored is None else json.loads(stored)


def _purge_old_results(session) -> None:
    if time.monotonic() - _last_purge["at"] < 600:
        return
    _last_purge["at"] = time.monotonic()
    session.execute(delete(rpc_results).where(rpc_results.c.committed_at < utcnow() - RPC_RESULTS_KEPT))


__all__ = ["InputError", "ServiceBase", "json_response", "rpc", "run_command"]
