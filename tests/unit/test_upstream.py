"""What the gateway answers for a call to a service that failed or got no answer (issue #17)."""
from __future__ import annotations

import kombu.exceptions
from nameko.exceptions import RemoteError, UnknownService

from services.gateway.upstream import problem_body, problem_headers, upstream_problem
from shared.messaging.rpc import RpcUnavailable


def test_a_call_without_an_answer_is_a_503_with_the_correlation_id_and_retry_after():
    for error in (RpcUnavailable("plans", "issue_directive", "no reply within 60s"),
                  kombu.exceptions.OperationalError("[Errno 111] ECONNREFUSED"),
                  ConnectionRefusedError(111, "ECONNREFUSED"), UnknownService("plans")):
        problem = upstream_problem(error)
        assert problem is not None and problem.status == 503, error
        body = problem_body(problem, "corr-123")
        assert body["code"] == "service_unavailable" and body["correlation_id"] == "corr-123"
        assert body["message_th"] and "Idempotency-Key" in body["message_en"]
        assert problem_headers(problem) == {"Retry-After": "2"}


def test_a_service_that_failed_is_a_502_naming_the_error_type():
    problem = upstream_problem(RemoteError("IntegrityError", "boom"))
    assert problem.status == 502 and "IntegrityError" in problem_body(problem, None)["detail"]
    assert problem_headers(problem) == {}


def test_anything_else_is_not_the_upstream_s_business():
    assert upstream_problem(ValueError("a bug")) is None
    assert upstream_problem(KeyError("x")) is None
