"""Gateway routes of the assessments service: obligations, submissions, reviews, extensions."""
from __future__ import annotations

import base64

from shared.web import http

from services.gateway.exports import columns, export_format, exported
from services.gateway.http import MAX_BODY_BYTES, api, check_upload_size, int_arg, read_json, scoped
from shared.errors import InputError

OBLIGATION_COLUMNS = columns(
    ("unit_code", "รหัสหน่วยงาน", "unit code"), ("indicator_code", "รหัสตัวชี้วัด", "indicator code"),
    ("indicator_name_th", "ตัวชี้วัด", "indicator"), ("indicator_codes", "ตัวชี้วัดทั้งหมด", "all indicators"),
    ("period", "งวด", "period"), ("due_at", "กำหนดส่ง", "due at"),
    ("effective_due_at", "กำหนดส่ง (รวมขยายเวลา)", "effective due at"), ("state", "สถานะ", "state"),
    ("missed_at", "พบว่าไม่ส่งเมื่อ", "missed at"), ("directive_id", "รหัสข้อสั่งการ", "directive id"),
    ("rule_id", "รหัสกฎการรายงาน", "rule id"), ("id", "รหัสภาระการรายงาน", "obligation id"))
EXTENSION_COLUMNS = columns(
    ("unit_code", "รหัสหน่วยงาน", "unit code"), ("requested_due_at", "ขอขยายถึง", "requested due at"),
    ("reason", "เหตุผล", "reason"), ("requested_by", "ผู้ขอ", "requested by"), ("requested_at", "ขอเมื่อ", "requested at"),
    ("status", "สถานะ", "status"), ("decided_by_unit_code", "ผู้พิจารณา", "decided by"),
    ("decided_at", "พิจารณาเมื่อ", "decided at"), ("comment", "ความเห็น", "comment"),
    ("obligation_id", "รหัสภาระการรายงาน", "obligation id"), ("id", "รหัสคำขอ", "request id"))


def _obligation_before(service, user, obligation_id) -> dict | None:
    return scoped(service, user, service.assessments.get_obligation(obligation_id))


def _submission_before(service, user, submission_id) -> dict | None:
    return scoped(service, user, service.assessments.get_submission(submission_id))


def _extension_before(service, user, request_id) -> dict | None:
    return scoped(service, user, service.assessments.get_extension_request(request_id))


class AssessmentsRoutes:
    """Mixed into GatewayService (which provides ``self.assessments``, ``self._scope``)."""

    # --- assessments -------------------------------------------------------------------------------
    @http("GET", "/api/v1/obligations")
    @api()
    def list_obligations(self, request, user):
        args = request.args
        export_format(args)
        unit_codes = [user["org_code"]] if user["role"] == "lao" else self._scope(user)
        items = self.assessments.list_obligations(
            unit_codes=unit_codes, unit_code=args.get("unit_code"), directive_id=args.get("directive_id"),
            rule_id=args.get("rule_id"), state=args.get("state"), period=args.get("period"),
            overdue=args.get("overdue") in ("1", "true"), limit=int_arg(args, "limit", 100),
            offset=int_arg(args, "offset", 0), sort=args.get("sort"))
        return 200, exported(request, {"items": items}, items, OBLIGATION_COLUMNS, "obligations")

    @http("GET", "/api/v1/obligations/<string:obligation_id>")
    @api()
    def get_obligation(self, request, user, obligation_id):
        obligation = self.assessments.get_obligation(obligation_id)
        self._require_in_scope(user, obligation["unit_code"])
        return 200, obligation

    @http("POST", "/api/v1/obligations/<string:obligation_id>/submissions")
    @api(write=True, roles=("lao", "district", "province", "central"), target="obligation:{obligation_id}",
         before=_obligation_before)
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
        check_upload_size(request)  # before werkzeug parses (and buffers) the multipart body
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
    @api(write=True, roles=("district", "province", "central", "reviewer"), target="submission:{submission_id}",
         before=_submission_before)
    def review(self, request, user, submission_id):
        payload = read_json(request)
        payload.update(submission_id=submission_id, reviewer_unit_code=user["org_code"], reviewer=user["username"])
        return 200, self.assessments.review_submission(payload)

    @http("POST", "/api/v1/obligations/<string:obligation_id>/extension-requests")
    @api(write=True, roles=("lao",), target="obligation:{obligation_id}", before=_obligation_before)
    def request_extension(self, request, user, obligation_id):
        payload = read_json(request)
        payload.update(obligation_id=obligation_id, unit_code=user["org_code"], requested_by=user["username"])
        return 201, self.assessments.request_extension(payload)

    @http("GET", "/api/v1/extension-requests")
    @api()
    def list_extension_requests(self, request, user):
        args = request.args
        export_format(args)
        unit_codes = [user["org_code"]] if user["role"] == "lao" else self._scope(user)
        items = self.assessments.list_extension_requests(
            unit_codes=unit_codes, status=args.get("status", "pending") or None,
            limit=int_arg(args, "limit", 100), offset=int_arg(args, "offset", 0), sort=args.get("sort"))
        return 200, exported(request, {"items": items}, items, EXTENSION_COLUMNS, "extension-requests")

    @http("POST", "/api/v1/extension-requests/<string:request_id>/decision")
    @api(write=True, roles=("district", "province", "central"), target="extension_request:{request_id}",
         before=_extension_before)
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
        if not 2400 <= year <= 2699:
            raise InputError("invalid", "fiscal_year_be", "ต้องระบุปีงบประมาณเป็น พ.ศ. เช่น 2569",
                             "fiscal_year_be must be a Buddhist-era year such as 2569", status=400)
        return 200, {"items": self.assessments.achievement(unit_code, year, args.get("indicator_code"))}
