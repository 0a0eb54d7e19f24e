"""gateway: the HTTP door. Authenticates, checks roles, calls the services over RPC, audits writes."""
from __future__ import annotations

import base64
import json
import urllib.parse

import requests
from nameko.rpc import RpcProxy
from nameko.web.handlers import http
from sqlalchemy import insert
from werkzeug.wrappers import Response

from services.gateway import auth
from services.gateway.http import MAX_BODY_BYTES, api, int_arg, problem, read_json, read_text
from services.gateway.models import audit_log
from shared.contracts import utcnow
from shared.errors import InputError
from shared.service_base import ServiceBase, json_response


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

    # --- plans: registry ------------------------------------------------------------------------
    def _scope(self, user) -> list[str] | None:
        """Unit codes the user may see: None for central/ops (everything), else their subtree."""
        if user["role"] in ("central", "ops"):
            return None
        return self.plans.subtree_codes(user["org_code"])

    @http("POST", "/api/v1/org-units")
    @api(write=True, roles=("central", "ops"))
    def register_units(self, request, user):
        return 200, self.plans.register_units(read_json(request))

    @http("POST", "/api/v1/org-units/import")
    @api(write=True, roles=("central", "ops"))
    def import_units(self, request, user):
        text = read_text(request, ("text/csv", "application/csv", "text/plain"))
        return 200, self.plans.import_units_csv(text, dry_run=request.args.get("dry_run") in ("1", "true"))

    @http("GET", "/api/v1/org-units")
    @api()
    def list_units(self, request, user):
        args = request.args
        return 200, {"items": self.plans.list_units(parent_code=args.get("parent_code"), level=args.get("level"),
                                                    search=args.get("search"), limit=int_arg(args, "limit", 100),
                                                    offset=int_arg(args, "offset", 0))}

    @http("GET", "/api/v1/org-units/<string:code>/history")
    @api()
    def unit_history(self, request, user, code):
        return 200, {"items": self.plans.unit_history(code)}

    # --- plans: documents and directives ------------------------------------------------------------
    @http("POST", "/api/v1/documents")
    @api(write=True, roles=("central", "province", "district"))
    def record_document(self, request, user):
        payload = read_json(request)
        payload.setdefault("sender_code", user["org_code"])
        return 201, self.plans.record_document(payload, created_by=user["username"])

    @http("GET", "/api/v1/documents/<string:document_id>")
    @api()
    def get_document(self, request, user, document_id):
        return 200, self.plans.get_document(document_id)

    @http("POST", "/api/v1/documents/<string:document_id>/issue")
    @api(write=True, roles=("central", "province", "district"))
    def issue_document(self, request, user, document_id):
        return 200, self.plans.issue_document({"document_id": document_id})

    @http("POST", "/api/v1/documents/<string:document_id>/attachments")
    @api(write=True, roles=("central", "province", "district"))
    def add_attachment(self, request, user, document_id):
        upload = request.files.get("file")
        if upload is None:
            raise InputError("missing", "file", "ต้องแนบไฟล์ (multipart field 'file')",
                             "attach a file in the multipart field 'file'", status=422)
        content = upload.read(MAX_BODY_BYTES + 1)
        if len(content) > MAX_BODY_BYTES:
            raise InputError("too_large", "file", "ไฟล์แนบใหญ่เกินกำหนด", "attachment too large", status=413)
        return 201, self.plans.add_attachment({
            "document_id": document_id, "filename": upload.filename or "attachment",
            "content_type": upload.mimetype or "application/octet-stream",
            "content_base64": base64.b64encode(content).decode()})

    @http("GET", "/api/v1/attachments/<string:attachment_id>")
    def download_attachment(self, request, attachment_id):
        try:
            with self.uow.database.session() as session:
                auth.authenticate(session, request.headers.get("Authorization"))
            stored = self.plans.get_attachment(attachment_id)
        except InputError as error:
            return problem(error)
        quoted = urllib.parse.quote(stored["filename"])
        return Response(base64.b64decode(stored["content_base64"]), status=200, headers={
            "Content-Type": stored["content_type"], "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
            "X-Content-Type-Options": "nosniff"})

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

    @http("GET", "/api/v1/directives/<string:directive_id>/cascade")
    @api()
    def cascade(self, request, user, directive_id):
        view = self.plans.cascade(directive_id)
        scope = self._scope(user)
        if scope is not None:
            allowed = set(scope)
            view["units"] = [u for u in view["units"] if u["unit_code"] in allowed]
        return 200, view

    # --- plans: plan trees, indicators, targets, links ------------------------------------------------
    @http("POST", "/api/v1/plans")
    @api(write=True, roles=("central", "province", "district", "lao"))
    def import_plan(self, request, user):
        dry_run = request.args.get("dry_run") in ("1", "true")
        if request.mimetype in ("application/x-yaml", "application/yaml", "text/yaml", "text/plain"):
            document = read_text(request, ("application/x-yaml", "application/yaml", "text/yaml", "text/plain"))
        else:
            document = read_json(request)
        return 200, self.plans.import_plan(document, source_name=request.args.get("source"), dry_run=dry_run)

    @http("GET", "/api/v1/plans")
    @api()
    def list_plans(self, request, user):
        args = request.args
        return 200, {"items": self.plans.list_plans(plan_type=args.get("type"), owner_code=args.get("owner_code"),
                                                    parent_plan_id=args.get("parent_plan_id"),
                                                    limit=int_arg(args, "limit", 100), offset=int_arg(args, "offset", 0))}

    @http("GET", "/api/v1/plans/<string:plan_id>")
    @api()
    def get_plan(self, request, user, plan_id):
        return 200, self.plans.get_plan(plan_id)

    @http("GET", "/api/v1/plans/<string:plan_id>/export")
    @api()
    def export_plan(self, request, user, plan_id):
        return 200, self.plans.export_plan(plan_id)

    @http("GET", "/api/v1/plans/<string:plan_id>/indicators/<string:indicator_id>")
    @api()
    def get_indicator(self, request, user, plan_id, indicator_id):
        return 200, self.plans.get_indicator(plan_id, indicator_id)

    @http("GET", "/api/v1/targets")
    @api()
    def list_targets(self, request, user):
        args = request.args
        return 200, {"items": self.plans.list_targets(
            plan_id=args.get("plan_id"), indicator_id=args.get("indicator_id"),
            fiscal_year_be=int_arg(args, "fiscal_year_be", 0) or None, unit_code=args.get("unit_code"),
            unit_group=args.get("unit_group"), limit=int_arg(args, "limit", 1000), offset=int_arg(args, "offset", 0))}

    @http("GET", "/api/v1/plans/<string:plan_id>/links")
    @api()
    def plan_links(self, request, user, plan_id):
        direction = request.args.get("direction", "from")
        if direction not in ("from", "to"):
            raise InputError("invalid", "direction", "direction ต้องเป็น from หรือ to", "direction must be from or to",
                             status=400)
        return 200, {"items": self.plans.plan_links(plan_id, request.args.get("element_id"), direction)}

    @http("GET", "/api/v1/plans/<string:plan_id>/anomalies")
    @api()
    def plan_anomalies(self, request, user, plan_id):
        return 200, {"items": self.plans.plan_anomalies(plan_id)}

    # --- plans: assignments -------------------------------------------------------------------------
    @http("GET", "/api/v1/assignments")
    @api()
    def list_assignments(self, request, user):
        args = request.args
        return 200, {"items": self.plans.list_assignments(
            unit_codes=[user["org_code"]] if args.get("mine", "1") != "0" else self._scope(user),
            state=args.get("state"), directive_id=args.get("directive_id"),
            limit=int_arg(args, "limit", 100), offset=int_arg(args, "offset", 0))}

    def _assignment_action(self, request, user, assignment_id, rpc_name):
        payload = read_json(request)
        payload.update(assignment_id=assignment_id, unit_code=user["org_code"])  # a user acts for its unit
        return getattr(self.plans, rpc_name)(payload)

    @http("POST", "/api/v1/assignments/<string:assignment_id>/acknowledge")
    @api(write=True)
    def acknowledge(self, request, user, assignment_id):
        return 200, self._assignment_action(request, user, assignment_id, "acknowledge_assignment")

    @http("POST", "/api/v1/assignments/<string:assignment_id>/state")
    @api(write=True)
    def change_state(self, request, user, assignment_id):
        return 200, self._assignment_action(request, user, assignment_id, "change_assignment_state")

    @http("POST", "/api/v1/assignments/<string:assignment_id>/applicability")
    @api(write=True)
    def declare_applicability(self, request, user, assignment_id):
        return 200, self._assignment_action(request, user, assignment_id, "declare_applicability")

    @http("POST", "/api/v1/assignments/<string:assignment_id>/forward")
    @api(write=True, roles=("central", "province", "district"))
    def forward(self, request, user, assignment_id):
        return 200, self._assignment_action(request, user, assignment_id, "forward_assignment")

    @http("POST", "/api/v1/receipts")
    @api(write=True)
    def register_receipt(self, request, user):
        payload = read_json(request)
        payload["unit_code"] = user["org_code"]  # each unit keeps its own register
        return 201, self.plans.register_receipt(payload)

    # --- assessments -------------------------------------------------------------------------------
    def _require_in_scope(self, user, unit_code: str) -> None:
        scope = self._scope(user)
        if scope is not None and unit_code not in scope:
            raise InputError("not_found", "unit_code", "ไม่พบรายการนี้ในหน่วยงานของท่าน",
                             "not found within your unit", status=404)

    @http("GET", "/api/v1/obligations")
    @api()
    def list_obligations(self, request, user):
        args = request.args
        unit_codes = [user["org_code"]] if user["role"] == "lao" else self._scope(user)
        return 200, {"items": self.assessments.list_obligations(
            unit_codes=unit_codes, unit_code=args.get("unit_code"), directive_id=args.get("directive_id"),
            rule_id=args.get("rule_id"), state=args.get("state"), period=args.get("period"),
            overdue=args.get("overdue") in ("1", "true"), limit=int_arg(args, "limit", 100),
            offset=int_arg(args, "offset", 0))}

    @http("GET", "/api/v1/obligations/<string:obligation_id>")
    @api()
    def get_obligation(self, request, user, obligation_id):
        obligation = self.assessments.get_obligation(obligation_id)
        self._require_in_scope(user, obligation["unit_code"])
        return 200, obligation

    @http("POST", "/api/v1/obligations/<string:obligation_id>/submissions")
    @api(write=True, roles=("lao", "district", "province", "central"))
    def submit(self, request, user, obligation_id):
        payload = read_json(request)
        payload.update(obligation_id=obligation_id, submitted_by=user["username"],
                       submitter_unit_code=user["org_code"])
        payload.setdefault("unit_code", user["org_code"])
        return 201, self.assessments.submit_values(payload)

    @http("POST", "/api/v1/submissions/batch")
    @api(write=True, roles=("lao", "district", "province", "central"))
    def submit_batch(self, request, user):
        payload = read_json(request)
        payload.update(submitted_by=user["username"], submitter_unit_code=user["org_code"])
        report = self.assessments.submit_batch(payload)
        return (200 if report["accepted"] or not report["errors"] else 422), report

    @http("POST", "/api/v1/submissions/upload")
    @api(write=True, roles=("lao", "district", "province", "central"))
    def submit_file(self, request, user):
        upload = request.files.get("file")
        if upload is None:
            raise InputError("missing", "file", "ต้องแนบไฟล์ CSV หรือ XLSX (multipart field 'file')",
                             "attach a CSV or XLSX file in the multipart field 'file'", status=422)
        name = (upload.filename or "").lower()
        if not name.endswith((".csv", ".xlsx", ".txt")):
            raise InputError("unsupported_media_type", "file", "รองรับเฉพาะไฟล์ .csv และ .xlsx",
                             "only .csv and .xlsx files are accepted", status=415)
        content = upload.read(MAX_BODY_BYTES + 1)
        if len(content) > MAX_BODY_BYTES:
            raise InputError("too_large", "file", "ไฟล์ใหญ่เกินกำหนด", "file too large", status=413)
        report = self.assessments.submit_file(base64.b64encode(content).decode(), upload.filename,
                                              user["org_code"], user["username"],
                                              request.args.get("mode", "all_or_nothing"))
        return (200 if report["accepted_submissions"] or not report["errors"] else 422), report

    @http("POST", "/api/v1/submissions/<string:submission_id>/review")
    @api(write=True, roles=("district", "province", "central", "reviewer"))
    def review(self, request, user, submission_id):
        payload = read_json(request)
        payload.update(submission_id=submission_id, reviewer_unit_code=user["org_code"], reviewer=user["username"])
        return 200, self.assessments.review_submission(payload)

    @http("POST", "/api/v1/obligations/<string:obligation_id>/extension-requests")
    @api(write=True, roles=("lao",))
    def request_extension(self, request, user, obligation_id):
        payload = read_json(request)
        payload.update(obligation_id=obligation_id, unit_code=user["org_code"], requested_by=user["username"])
        return 201, self.assessments.request_extension(payload)

    @http("GET", "/api/v1/extension-requests")
    @api()
    def list_extension_requests(self, request, user):
        args = request.args
        unit_codes = [user["org_code"]] if user["role"] == "lao" else self._scope(user)
        return 200, {"items": self.assessments.list_extension_requests(
            unit_codes=unit_codes, status=args.get("status", "pending") or None,
            limit=int_arg(args, "limit", 100), offset=int_arg(args, "offset", 0))}

    @http("POST", "/api/v1/extension-requests/<string:request_id>/decision")
    @api(write=True, roles=("district", "province", "central"))
    def decide_extension(self, request, user, request_id):
        payload = read_json(request)
        payload.update(request_id=request_id, decider_unit_code=user["org_code"])
        return 200, self.assessments.decide_extension(payload)

    @http("GET", "/api/v1/achievement")
    @api()
    def achievement(self, request, user):
        args = request.args
        unit_code = args.get("unit_code") or user["org_code"]
        self._require_in_scope(user, unit_code)
        year = int_arg(args, "fiscal_year_be", 0)
        if year < 2400:
            raise InputError("invalid", "fiscal_year_be", "ต้องระบุปีงบประมาณเป็น พ.ศ. เช่น 2569",
                             "fiscal_year_be must be a Buddhist-era year such as 2569", status=400)
        return 200, {"items": self.assessments.achievement(unit_code, year, args.get("indicator_code"))}

    # --- reporting ----------------------------------------------------------------------------------
    @http("GET", "/api/v1/reports/directives/<string:directive_id>/compliance")
    @api()
    def directive_compliance(self, request, user, directive_id):
        return 200, self.reporting.directive_compliance(directive_id)


