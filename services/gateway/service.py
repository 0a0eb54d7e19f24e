"""gateway: the HTTP door. Authenticates, checks roles, calls the services over RPC, audits writes."""
from __future__ import annotations

import json
from functools import wraps

import requests
from nameko.exceptions import RemoteError
from nameko.rpc import RpcProxy
from nameko.web.handlers import http
from sqlalchemy import insert

from services.gateway import auth
from services.gateway.models import audit_log
from shared.contracts import utcnow
from shared.errors import InputError, forbidden
from shared.service_base import ServiceBase, json_response

PROBLEM = "application/problem+json"
MAX_BODY_BYTES = 5 * 1024 * 1024


def problem(error: InputError):
    return json_response(error.status, error.as_problem(), PROBLEM)


def read_json(request) -> dict:
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise InputError("too_large", "body", "ข้อมูลที่ส่งมีขนาดใหญ่เกินกำหนด", "request body too large",
                         status=413)
    try:
        data = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        raise InputError("invalid_json", "body", "ข้อมูลไม่ใช่ JSON ที่ถูกต้อง", "body is not valid JSON",
                         status=400) from None
    if not isinstance(data, dict):
        raise InputError("invalid_json", "body", "ข้อมูลต้องเป็นออบเจ็กต์ JSON", "body must be a JSON object",
                         status=400)
    return data


def api(write: bool = False, roles: tuple[str, ...] | None = None):
    """Wrap a route: authenticate, check role, turn errors into problem+json, audit writes."""
    def decorate(method):
        @wraps(method)
        def wrapper(self, request, *args, **kwargs):
            user, status, result = None, 500, None
            try:
                with self.uow.database.session() as session:
                    user = auth.authenticate(session, request.headers.get("Authorization"))
                if roles and user["role"] not in roles:
                    raise forbidden(None, "บทบาทของท่านไม่มีสิทธิ์ทำรายการนี้",
                                    "your role may not do this")
                status, result = method(self, request, user, *args, **kwargs)
                return json_response(status, result)
            except InputError as error:
                status, result = error.status, error.as_problem()
                return problem(error)
            except RemoteError as error:
                status = 502
                result = {"type": "urn:thongthin:problem:upstream", "status": 502, "code": "upstream",
                          "message_th": "บริการภายในขัดข้อง", "message_en": "an internal service failed",
                          "detail": error.exc_type}
                return json_response(502, result, PROBLEM)
            finally:
                if write:
                    self._audit(request, user, status, result)
        return wrapper
    return decorate


class GatewayService(ServiceBase):
    name = "gateway"
    plans = RpcProxy("plans")
    assessments = RpcProxy("assessments")
    reporting = RpcProxy("reporting")
    notifications = RpcProxy("notifications")

    def _audit(self, request, user, status, result) -> None:
        body = request.get_data(as_text=True)[:20000] if request.method != "GET" else None
        if body and "password" in body:
            body = "(contains a password: not stored)"
        with self.uow() as uow:
            uow.session.execute(insert(audit_log).values(
                at=utcnow(), username=user["username"] if user else None,
                action=f"{request.method} {request.path}", target=None,
                remote_addr=request.remote_addr, status=status, request=body,
                result=json.dumps(result, ensure_ascii=False, default=str)[:20000] if result else None,
                correlation_id=self.context))
            uow.commit()

    # --- platform ------------------------------------------------------------------------------
    @http("GET", "/health")
    def health(self, request):
        """200 only when every service answers its own /health."""
        services = {}
        for name, url in self.config["SERVICE_URLS"].items():
            if name == "gateway":
                continue
            try:
                services[name] = "ok" if requests.get(f"{url}/health", timeout=2).status_code == 200 else "down"
            except requests.RequestException:
                services[name] = "unreachable"
        healthy = all(state == "ok" for state in services.values())
        return json_response(200 if healthy else 503, {"service": "gateway",
                                                       "status": "ok" if healthy else "degraded",
                                                       "services": services})

    @http("POST", "/api/v1/auth/token")
    def login(self, request):
        try:
            data = read_json(request)
            with self.uow() as uow:
                try:
                    result = auth.login(uow.session, str(data.get("username", "")),
                                        str(data.get("password", "")))
                finally:
                    uow.commit()  # failed-login counters are kept even when the login fails
            self._audit(request, result["user"], 200, {"user": result["user"]})
            return json_response(200, result)
        except InputError as error:
            self._audit(request, None, error.status, error.as_problem())
            return problem(error)

    @http("GET", "/api/v1/me")
    @api()
    def me(self, request, user):
        return 200, user

    # --- plans -----------------------------------------------------------------------------------
    @http("POST", "/api/v1/org-units")
    @api(write=True, roles=("central", "ops"))
    def register_units(self, request, user):
        return 200, self.plans.register_units(read_json(request))

    @http("GET", "/api/v1/org-units")
    @api()
    def list_units(self, request, user):
        args = request.args
        return 200, {"items": self.plans.list_units(parent_code=args.get("parent_code"),
                                                    level=args.get("level"),
                                                    limit=_int(args, "limit", 100),
                                                    offset=_int(args, "offset", 0))}

    @http("POST", "/api/v1/directives")
    @api(write=True, roles=("central",))
    def issue_directive(self, request, user):
        payload = read_json(request)
        payload.setdefault("issuer_code", user["org_code"])
        return 201, self.plans.issue_directive(payload)

    @http("GET", "/api/v1/directives/<string:directive_id>")
    @api()
    def get_directive(self, request, user, directive_id):
        return 200, self.plans.get_directive(directive_id)

    @http("POST", "/api/v1/assignments/<string:assignment_id>/acknowledge")
    @api(write=True)
    def acknowledge(self, request, user, assignment_id):
        payload = read_json(request)
        payload["assignment_id"] = assignment_id
        payload.setdefault("unit_code", user["org_code"])
        if payload["unit_code"] != user["org_code"] and user["role"] != "central":
            raise forbidden("unit_code", "ลงรับแทนหน่วยงานอื่นไม่ได้", "cannot acknowledge for another unit")
        return 200, self.plans.acknowledge_assignment(payload)

    # --- assessments -------------------------------------------------------------------------------
    @http("GET", "/api/v1/obligations")
    @api()
    def list_obligations(self, request, user):
        args = request.args
        unit_code = args.get("unit_code")
        if user["role"] == "lao":
            unit_code = user["org_code"]  # an LAO officer sees only its own obligations
        return 200, {"items": self.assessments.list_obligations(
            unit_code=unit_code, directive_id=args.get("directive_id"), state=args.get("state"),
            limit=_int(args, "limit", 100), offset=_int(args, "offset", 0))}

    @http("POST", "/api/v1/obligations/<string:obligation_id>/submissions")
    @api(write=True, roles=("lao", "central"))
    def submit(self, request, user, obligation_id):
        payload = read_json(request)
        payload["obligation_id"] = obligation_id
        payload["submitted_by"] = user["username"]
        payload.setdefault("unit_code", user["org_code"])
        if user["role"] == "lao" and payload["unit_code"] != user["org_code"]:
            raise forbidden("unit_code", "ส่งรายงานแทนหน่วยงานอื่นไม่ได้", "cannot submit for another unit")
        return 201, self.assessments.submit_values(payload)

    # --- reporting ----------------------------------------------------------------------------------
    @http("GET", "/api/v1/reports/directives/<string:directive_id>/compliance")
    @api()
    def directive_compliance(self, request, user, directive_id):
        return 200, self.reporting.directive_compliance(directive_id)


def _int(args, name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError("invalid", name, f"{name} ต้องเป็นจำนวนเต็ม", f"{name} must be an integer",
                         status=400) from None
    if value < 0:
        raise InputError("invalid", name, f"{name} ต้องไม่ติดลบ", f"{name} must not be negative", status=400)
    return value


