"""What the gateway answers when a service it called gave no answer.

``RemoteError`` (the service raised something unexpected) stays a 502. A call whose reply never
came — the broker away, the connection broken, no reply within ``THONGTHIN_RPC_TIMEOUT_S``, the
service not consuming at all — is a 503: the platform is briefly unable to answer, and the
request may or may not have taken effect. A client retries it with the same ``Idempotency-Key``
(services/gateway/idempotency.py) and gets the one result, never a second effect.
"""
from __future__ import annotations

import json

import structlog
from nameko.exceptions import RemoteError, UnknownService

from services.gateway.http import PROBLEM

from shared.errors import InputError
from shared.messaging.rpc import CONNECTION_ERRORS, RpcUnavailable

log = structlog.get_logger(__name__)

RETRY_AFTER_S = 2


def upstream_problem(exc: BaseException) -> InputError | None:
    """The problem to answer for an error raised by a call to a service, or None when ``exc`` is
    not about a call to a service (the caller re-raises it)."""
    if isinstance(exc, RemoteError):
        problem = InputError("upstream", None, "บริการภายในขัดข้อง", "an internal service failed", status=502)
        problem.message_en = f"an internal service failed ({exc.exc_type})"
        return problem
    if isinstance(exc, (RpcUnavailable, UnknownService, *CONNECTION_ERRORS)):
        log.warning("upstream_unavailable", error=str(exc), kind=type(exc).__name__)
        return InputError("service_unavailable", None,
                          "ระบบไม่สามารถตอบได้ในขณะนี้ กรุณาลองใหม่ (ใช้ Idempotency-Key เดิม) — คำขออาจได้รับการบันทึกแล้ว",
                          "the service did not answer; retry with the same Idempotency-Key "
                          "(the request may have taken effect)", status=503)
    return None


def problem_body(problem: InputError, correlation_id: str | None) -> dict:
    """The problem+json body, with the correlation id to quote to operators."""
    body = problem.as_problem()
    if correlation_id:
        body["correlation_id"] = correlation_id
    return body


def problem_headers(problem: InputError) -> dict:
    return {"Retry-After": str(RETRY_AFTER_S)} if problem.status == 503 else {}


def upstream_response(exc: BaseException, correlation_id: str | None) -> tuple[int, dict, str, dict] | None:
    """What every route answers for an error raised by a call to a service: ``(status, headers, body
    text, body)`` for nameko (the body dict for the audit log), or None when ``exc`` is not about a
    call to a service (the caller re-raises it)."""
    problem = upstream_problem(exc)
    if problem is None:
        return None
    body = problem_body(problem, correlation_id)
    headers = {"Content-Type": f"{PROBLEM}; charset=utf-8", **problem_headers(problem)}
    return problem.status, headers, json.dumps(body, ensure_ascii=False), body
