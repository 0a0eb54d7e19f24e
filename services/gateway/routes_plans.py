"""Gateway routes of the plans service: registry, documents and directives, assignments, plan trees."""
from __future__ import annotations

import base64
import urllib.parse

from shared.web import http
from werkzeug.wrappers import Response

from services.gateway.http import (MAX_BODY_BYTES, api, check_upload_size, authenticate_request, int_arg, problem, read_json,
                                   read_text)
from services.gateway.exports import columns, export_format, exported
from shared.errors import InputError

ASSIGNMENT_COLUMNS = columns(
    ("unit_code", "รหัสหน่วยงาน", "unit code"), ("unit_level", "ระดับ", "level"),
    ("number_printed", "เลขที่หนังสือ", "document number"), ("subject_th", "เรื่อง", "subject"),
    ("kind", "ประเภท", "kind"), ("urgency", "ชั้นความเร็ว", "urgency"), ("state", "สถานะ", "state"),
    ("created_at", "ได้รับเมื่อ", "received at"), ("acknowledge_due_at", "กำหนดลงรับ", "acknowledge by"),
    ("acknowledged_at", "ลงรับเมื่อ", "acknowledged at"), ("forwarded_at", "ส่งต่อเมื่อ", "forwarded at"),
    ("overdue", "เลยกำหนดลงรับ", "overdue"), ("receipt_number", "เลขทะเบียนรับ", "receipt number"),
    ("applicable", "เกี่ยวข้อง", "applicable"), ("directive_id", "รหัสข้อสั่งการ", "directive id"),
    ("id", "รหัสการมอบหมาย", "assignment id"))


def _assignment_before(service, user, assignment_id) -> dict | None:
    """The assignment before an action on it: only the caller's own unit acts on (and so sees) it."""
    row = service.plans.get_assignment(assignment_id)
    return row if row["unit_code"] == user["org_code"] else None


def actor(user) -> dict:
    """Who acts, as the services re-check it on every write."""
    return {"username": user["username"], "role": user["role"], "org_code": user["org_code"]}


def _document_before(service, user, document_id) -> dict | None:
    return service.plans.get_document(document_id, service._scope(user))


ASSIGNMENT_AUDIT = {"target": "assignment:{assignment_id}", "before": _assignment_before}


class PlansRoutes:
    """Mixed into GatewayService (which provides ``self.plans``, ``self.uow``, ``self._scope``)."""

    # --- plans: registry ------------------------------------------------------------------------
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
        codes = [c for c in args.get("codes", "").split(",") if c] or None
        return 200, {"items": self.plans.list_units(parent_code=args.get("parent_code"), level=args.get("level"),
                                                    lao_type=args.get("lao_type"),
                                                    search=args.get("search"), within=args.get("within"),
                                                    codes=codes, limit=int_arg(args, "limit", 100),
                                                    offset=int_arg(args, "offset", 0), sort=args.get("sort"))}

    @http("GET", "/api/v1/org-units/<string:code>/history")
    @api()
    def unit_history(self, request, user, code):
        return 200, {"items": self.plans.unit_history(code)}

    # --- plans: documents and directives ------------------------------------------------------------
    @http("POST", "/api/v1/documents")
    @api(write=True, roles=("central", "province", "district"))
    def record_document(self, request, user):
        # no default sender here: the service takes the caller's unit, or central's stated sender
        return 201, self.plans.record_document(read_json(request), actor(user))

    @http("GET", "/api/v1/documents")
    @api()
    def find_documents(self, request, user):
        args = request.args
        number, sender_code = args.get("number"), args.get("sender_code")
        if number is not None and len(number) > 160:
            raise InputError("invalid", "number", "เลขที่หนังสือยาวเกิน 160 ตัวอักษร", "number is longer than 160",
                             status=400)
        if sender_code is not None and len(sender_code) > 32:
            raise InputError("invalid", "sender_code", "รหัสหน่วยงานยาวเกิน 32 ตัวอักษร",
                             "sender_code is longer than 32", status=400)
        return 200, {"items": self.plans.find_documents(
            number=number or None, sender_code=sender_code or None, visible_to=self._scope(user),
            limit=int_arg(args, "limit", 100), offset=int_arg(args, "offset", 0))}

    @http("GET", "/api/v1/documents/<string:document_id>")
    @api()
    def get_document(self, request, user, document_id):
        return 200, self.plans.get_document(document_id, self._scope(user))

    @http("POST", "/api/v1/documents/<string:document_id>/issue")
    @api(write=True, roles=("central", "province", "district"), target="document:{document_id}",
         before=_document_before)
    def issue_document(self, request, user, document_id):
        payload = read_json(request) if request.get_data() else {}  # no body: every draft item
        return 200, self.plans.issue_document({**payload, "document_id": document_id}, actor(user))

    @http("POST", "/api/v1/documents/<string:document_id>/attachments")
    @api(write=True, roles=("central", "province", "district"), target="document:{document_id}",
         before=_document_before)
    def add_attachment(self, request, user, document_id):
        check_upload_size(request)  # before werkzeug parses (and buffers) the multipart body
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
            "content_base64": base64.b64encode(content).decode()}, actor(user))

    @http("GET", "/api/v1/attachments/<string:attachment_id>")
    def download_attachment(self, request, attachment_id):
        try:
            user = authenticate_request(self, request, write=False)
            stored = self.plans.get_attachment(attachment_id, self._scope(user))
        except InputError as error:
            return problem(error)
        quoted = urllib.parse.quote(stored["filename"])
        return Response(base64.b64decode(stored["content_base64"]), status=200, headers={
            "Content-Type": stored["content_type"], "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
            "X-Content-Type-Options": "nosniff"})

    @http("POST", "/api/v1/addressees/preview")
    @api(roles=("central", "province", "district"))
    def preview_addressees(self, request, user):
        return 200, self.plans.preview_addressees(read_json(request))

    @http("POST", "/api/v1/directives")
    @api(write=True, roles=("central",))
    def issue_directive(self, request, user):
        payload = read_json(request)
        payload.setdefault("issuer_code", user["org_code"])
        return 201, self.plans.issue_directive(payload, actor(user))

    @http("GET", "/api/v1/directives/<string:directive_id>")
    @api()
    def get_directive(self, request, user, directive_id):
        return 200, self.plans.get_directive(directive_id, self._scope(user))

    @http("GET", "/api/v1/directives/<string:directive_id>/cascade")
    @api()
    def cascade(self, request, user, directive_id):
        return 200, self.plans.cascade(directive_id, self._scope(user))

    # --- plans: plan trees, indicators, targets, links ------------------------------------------------
    @http("POST", "/api/v1/plans")
    @api(write=True, roles=("central", "province", "district", "lao"))
    def import_plan(self, request, user):
        dry_run = request.args.get("dry_run") in ("1", "true")
        if request.mimetype in ("application/x-yaml", "application/yaml", "text/yaml", "text/plain"):
            document = read_text(request, ("application/x-yaml", "application/yaml", "text/yaml", "text/plain"))
        else:
            document = read_json(request)
        return 200, self.plans.import_plan(document, actor(user), source_name=request.args.get("source"),
                                           dry_run=dry_run)

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
        export_format(args)
        items = self.plans.list_assignments(
            unit_codes=[user["org_code"]] if args.get("mine", "1") != "0" else self._scope(user),
            state=args.get("state"), directive_id=args.get("directive_id"),
            limit=int_arg(args, "limit", 100), offset=int_arg(args, "offset", 0), sort=args.get("sort"))
        return 200, exported(request, {"items": items}, items, ASSIGNMENT_COLUMNS, "assignments")

    def _assignment_action(self, request, user, assignment_id, rpc_name):
        payload = read_json(request)
        payload.update(assignment_id=assignment_id, unit_code=user["org_code"])  # a user acts for its unit
        return getattr(self.plans, rpc_name)(payload)

    @http("POST", "/api/v1/assignments/<string:assignment_id>/acknowledge")
    @api(write=True, **ASSIGNMENT_AUDIT)
    def acknowledge(self, request, user, assignment_id):
        return 200, self._assignment_action(request, user, assignment_id, "acknowledge_assignment")

    @http("POST", "/api/v1/assignments/<string:assignment_id>/state")
    @api(write=True, **ASSIGNMENT_AUDIT)
    def change_state(self, request, user, assignment_id):
        return 200, self._assignment_action(request, user, assignment_id, "change_assignment_state")

    @http("POST", "/api/v1/assignments/<string:assignment_id>/applicability")
    @api(write=True, **ASSIGNMENT_AUDIT)
    def declare_applicability(self, request, user, assignment_id):
        return 200, self._assignment_action(request, user, assignment_id, "declare_applicability")

    @http("POST", "/api/v1/assignments/<string:assignment_id>/forward")
    @api(write=True, roles=("central", "province", "district"), **ASSIGNMENT_AUDIT)
    def forward(self, request, user, assignment_id):
        return 200, self._assignment_action(request, user, assignment_id, "forward_assignment")

    @http("POST", "/api/v1/receipts")
    @api(write=True)
    def register_receipt(self, request, user):
        payload = read_json(request)
        payload["unit_code"] = user["org_code"]  # each unit keeps its own register
        return 201, self.plans.register_receipt(payload, actor(user))
