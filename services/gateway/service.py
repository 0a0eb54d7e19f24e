"""gateway: the HTTP door. Authenticates, checks roles, calls the services over RPC, audits writes."""
from __future__ import annotations

import json
import secrets
import time

import requests
from sqlalchemy import insert, select
from werkzeug.wrappers import Response

from services.gateway import auth
from services.gateway.exports import columns, export_format, exported
from services.gateway.idempotency import Idempotency
from services.gateway.http import (CSRF_COOKIE, SESSION_COOKIE, int_arg, parse_body, problem, without_secrets)
from services.gateway.models import api_tokens, audit_log, users
from services.gateway.notifications_api import NotificationsRoutes
from services.gateway.openapi import ApiDocsRoutes
from services.gateway.routes_assessments import AssessmentsRoutes
from services.gateway.routes_lpa import LpaRoutes
from services.gateway.routes_plans import PlansRoutes
from services.gateway.routes_reports import ReportsRoutes
from services.gateway.routes_ui import UiRoutes
from services.gateway.routing import NATION, OWN, PUBLIC, Param, route
from services.gateway.schemas import (OFFSET, READ_ERRORS, WRITE_ERRORS, ApiTokenCreated, ApiTokenList, AuditList,
                                      Credentials, Empty, Health, NewApiToken, Principal, SessionStarted, TokenIssued,
                                      TokenRevoked, _limit, body)
from shared.contracts import utcnow
from shared.errors import InputError
from shared.messaging.rpc import RpcProxy
from shared.service_base import ServiceBase, json_response
from shared.validation import printable


SCOPE_CACHE_S = 60.0
MAX_TOKEN_ID = 2**31 - 1   # token ids are 32-bit; a larger one names no token
AUDIT_COLUMNS = columns(("at", "เวลา", "at"), ("username", "ผู้ใช้", "user"), ("action", "การกระทำ", "action"),
                        ("status", "ผล (HTTP)", "status"), ("remote_addr", "จากที่อยู่", "from address"),
                        ("target", "รายการที่ถูกแก้ไข", "target"),
                        ("correlation_id", "รหัสติดตาม", "correlation id"), ("request", "คำขอ", "request"),
                        ("before", "ก่อนแก้ไข", "before"), ("result", "ผลหลังแก้ไข", "result"), ("id", "ลำดับ", "id"))
AUDIT_TEXT_MAX = 20000
_SCOPES: dict[str, tuple[float, list[str]]] = {}


def _no_password(text: str | None) -> str | None:
    """A stored text that mentions a password is not stored at all (as for request bodies before)."""
    return "(contains a password: not stored)" if text and "password" in text.lower() else text


def _parsed(text: str | None):
    try:
        return json.loads(text) if text else None
    except ValueError:  # a placeholder such as "(contains a password: not stored)"
        return text


class GatewayService(ServiceBase, PlansRoutes, AssessmentsRoutes, LpaRoutes, ReportsRoutes, NotificationsRoutes,
                     ApiDocsRoutes, UiRoutes):
    name = "gateway"
    plans = RpcProxy("plans")
    assessments = RpcProxy("assessments")
    reporting = RpcProxy("reporting")
    notifications = RpcProxy("notifications")
    idempotency = Idempotency()

    def _audit(self, request, user, status, result, target: str | None = None, before: dict | None = None) -> None:
        # kept as sent but for characters no database or file can hold (a NUL, from anyone, even unauthenticated)
        body = printable(request.get_data(as_text=True)[:20000]) if request.method != "GET" else None
        image = json.dumps(without_secrets(before), ensure_ascii=False, default=str) if before is not None else None
        if image is not None and len(image) > AUDIT_TEXT_MAX:  # cut, but still valid JSON for the reader
            image = json.dumps({"truncated": image[:AUDIT_TEXT_MAX - 100]}, ensure_ascii=False)
        with self.uow() as uow:
            uow.session.execute(insert(audit_log).values(
                at=utcnow(), username=user["username"] if user else None,
                action=printable(f"{request.method} {request.path}"[:120]), target=printable(target),
                remote_addr=request.remote_addr, status=status, request=_no_password(body),
                before=_no_password(image),
                result=json.dumps(without_secrets(result), ensure_ascii=False, default=str)[:AUDIT_TEXT_MAX]
                if result else None,
                correlation_id=self.context))
            uow.commit()

    def _token_before(self, user, token_id) -> dict | None:
        """The caller's own API token row as it is before a revocation (never its hash)."""
        with self.uow.database.session() as session:
            row = session.execute(
                select(api_tokens.c.id, api_tokens.c.name, api_tokens.c.scopes, api_tokens.c.created_at,
                       api_tokens.c.expires_at, api_tokens.c.revoked_at, api_tokens.c.last_used_at)
                .join(users, users.c.id == api_tokens.c.user_id)
                .where(users.c.username == user["username"], api_tokens.c.id == token_id)).mappings().first()
        return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()} if row else None

    # --- platform ------------------------------------------------------------------------------
    @route("GET", "/health", tag="platform", th="สถานะระบบ", en="Health of the gateway and every service",
           scope=PUBLIC, ok={"200": ("every service answers", Health), "503": ("a service is down", Health)})
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

    @route("POST", "/api/v1/auth/token", tag="auth", th="ขอโทเคน (ชื่อผู้ใช้ + รหัสผ่าน)",
           en="Username and password for a bearer token (30 days)", scope=PUBLIC,
           description="Five wrong passwords lock the account for 15 minutes (429).",
           body=body(Credentials, {"username": "somchai.s", "password": "รหัสผ่านของท่าน"}),
           ok={"200": ("a bearer token", TokenIssued)}, errors=(400, 401, 413, 429))
    def login(self, request):
        try:
            credentials = parse_body(request, Credentials)
            with self.uow() as uow:
                try:
                    result = auth.login(uow.session, credentials.username, credentials.password)
                finally:
                    uow.commit()  # failed-login counters are kept even when the login fails
            self._audit(request, result["user"], 200, {"user": result["user"]})
            return json_response(200, result)
        except InputError as error:
            self._audit(request, None, error.status, error.as_problem())
            return problem(error)

    @route("POST", "/api/v1/auth/session", tag="auth", th="เข้าสู่ระบบผ่านเว็บ (คุกกี้)",
           en="Web login: HttpOnly session cookie tt_session and CSRF cookie tt_csrf (12 hours)", scope=PUBLIC,
           body=body(Credentials, {"username": "somying.k", "password": "รหัสผ่านของท่าน"}),
           ok={"200": ("session started; cookies set", SessionStarted)}, errors=(400, 401, 413, 429))
    def login_session(self, request):
        """The web UI's login: a session cookie (HttpOnly) and a CSRF cookie the page echoes back."""
        try:
            credentials = parse_body(request, Credentials)
            with self.uow() as uow:
                try:
                    result = auth.login(uow.session, credentials.username, credentials.password,
                                        token_name="web-session")
                finally:
                    uow.commit()
        except InputError as error:
            self._audit(request, None, error.status, error.as_problem())
            return problem(error)
        self._audit(request, result["user"], 200, {"user": result["user"]})
        csrf = secrets.token_urlsafe(24)
        response = Response(json.dumps({"user": result["user"], "csrf_token": csrf}, ensure_ascii=False),
                            status=200, content_type="application/json; charset=utf-8")
        secure = self.config.get("COOKIE_SECURE", False)
        response.set_cookie(SESSION_COOKIE, result["token"], httponly=True, samesite="Strict", secure=secure,
                            max_age=int(auth.SESSION_LIFETIME.total_seconds()), path="/")
        response.set_cookie(CSRF_COOKIE, csrf, httponly=False, samesite="Strict", secure=secure, path="/")
        return response

    @route("POST", "/api/v1/auth/logout", tag="auth", th="ออกจากระบบ (ยกเลิกโทเคนหรือเซสชัน)",
           en="Revoke the session cookie's token, or the bearer token sent", scope=OWN, write=True,
           ok={"200": ("revoked; cookies cleared", Empty)}, errors=(401, 403, 502))
    def logout(self, request, user):
        authorization = request.headers.get("Authorization")
        token = (authorization.removeprefix("Bearer ").strip() if authorization
                 else request.cookies.get(SESSION_COOKIE))  # the credential this request was authenticated by
        with self.uow() as uow:
            auth.revoke(uow.session, token)
            uow.commit()
        response = Response("{}", status=200, content_type="application/json")
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return 200, response

    @route("POST", "/api/v1/tokens", tag="auth", th="สร้างโทเคนสำหรับระบบอื่น",
           en="Create a named API token for a machine client (read, or read + write)", scope=OWN, write=True,
           body=body(NewApiToken, {"name": "ระบบบัญชี อบต.", "scopes": ["read"], "expires_in_days": 90}),
           ok={"201": ("the token (shown once)", ApiTokenCreated)}, errors=WRITE_ERRORS)
    def create_token(self, request, user):
        wanted = parse_body(request, NewApiToken)
        with self.uow() as uow:
            token = auth.create_token(uow.session, user["username"], name=wanted.name or "api", scopes=wanted.scopes,
                                      days=wanted.expires_in_days)
            uow.commit()
        return 201, token

    @route("GET", "/api/v1/tokens", tag="auth", th="โทเคนของฉัน", en="My API tokens (not web sessions)", scope=OWN,
           ok={"200": ("newest first", ApiTokenList)}, errors=READ_ERRORS)
    def list_tokens(self, request, user):
        with self.uow.database.session() as session:
            return 200, {"items": auth.list_tokens(session, user["username"])}

    @route("DELETE", "/api/v1/tokens/<int:token_id>", tag="auth", th="ยกเลิกโทเคน", en="Revoke one of my tokens",
           scope=OWN, write=True,
           params=[Param("token_id", {"type": "integer", "minimum": 0, "maximum": MAX_TOKEN_ID}, "path", True)],
           ok={"200": ("revoked", TokenRevoked)}, errors=(401, 403, 404, 502), target="token:{token_id}",
           before=lambda self, user, token_id: self._token_before(user, token_id))
    def revoke_token(self, request, user, token_id):
        if token_id > MAX_TOKEN_ID:  # no such token (and no integer the database could compare)
            raise InputError("not_found", "token_id", "ไม่พบโทเคนนี้", "no such token", status=404)
        with self.uow() as uow:
            auth.revoke_token(uow.session, user["username"], token_id)
            uow.commit()
        return 200, {"id": token_id, "revoked": True}

    @route("GET", "/api/v1/audit", tag="platform", th="บันทึกการใช้งาน", en="The audit log (ops)", scope=NATION,
           roles=("ops",), params=[Param("username", {"type": "string"}), Param("status", {"type": "integer", "minimum": 100, "maximum": 599}),
                   Param("target", {"type": "string", "maxLength": 200}, description="exactly, e.g. assignment:<id>",
                         example="assignment:3f1c2a9e-0000-4000-8000-000000000000"),
                   Param("action", {"type": "string"}, description="part of 'METHOD path'", example="POST /api/v1/directives"),
                   _limit(), OFFSET],
           exports=True, ok={"200": ("newest first", AuditList)}, errors=(400, 403) + READ_ERRORS)
    def audit(self, request, user):
        args = request.args
        export_format(args)
        query = select(audit_log).order_by(audit_log.c.id.desc())
        for column in ("username", "status", "target"):
            if args.get(column):
                query = query.where(audit_log.c[column] == args.get(column))
        if args.get("action"):
            query = query.where(audit_log.c.action.contains(args.get("action")))
        query = query.limit(min(int_arg(args, "limit", 100), 1000)).offset(int_arg(args, "offset", 0))
        with self.uow.database.session() as session:
            rows = session.execute(query).mappings().all()
        items = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in rows]
        for item in items:  # the before-image is JSON; the export shows it as text
            item["before"] = _parsed(item["before"])
        return 200, exported(request, {"items": items}, items, AUDIT_COLUMNS, "audit")

    @route("GET", "/api/v1/me", tag="auth", th="ข้อมูลผู้ใช้ปัจจุบัน", en="Who am I", scope=OWN,
           ok={"200": ("the caller", Principal)}, errors=READ_ERRORS)
    def me(self, request, user):
        return 200, user

    @route("GET", "/metrics", tag="platform", th="ตัวชี้วัดของระบบ (Prometheus)", en="Prometheus metrics",
           scope=PUBLIC, ok={"200": ("Prometheus text format", ("text/plain", {"type": "string"}))})
    def metrics(self, request):
        return ServiceBase.metrics(self, request)

    # --- scope ----------------------------------------------------------------------------------------
    def _scope(self, user) -> list[str] | None:
        """Unit codes the user may see: None for central/ops (everything), else their subtree.
        Cached for a minute per unit: the registry changes rarely, requests come often."""
        if user["role"] in ("central", "ops"):
            return None
        cached = _SCOPES.get(user["org_code"])
        if cached and time.monotonic() - cached[0] < SCOPE_CACHE_S:
            return cached[1]
        codes = self.plans.subtree_codes(user["org_code"])
        _SCOPES[user["org_code"]] = (time.monotonic(), codes)
        return codes

    def _require_in_scope(self, user, unit_code: str) -> None:
        scope = self._scope(user)
        if scope is not None and unit_code not in scope:
            raise InputError("not_found", "unit_code", "ไม่พบรายการนี้ในหน่วยงานของท่าน",
                             "not found within your unit", status=404)


