"""Gateway routes of the assessments service: obligations, submissions, reviews, extensions."""
from __future__ import annotations

import base64

from services.gateway.exports import columns, export_format, exported
from services.gateway.http import MAX_BODY_BYTES, check_upload_size, int_arg, read_json
from services.gateway.routing import REPORT_UNIT, SUBTREE_LIST, Delegated, Param, Resource, route
from services.gateway.schemas import (FLAG, OFFSET, READ_ERRORS, SUBMIT_EXAMPLE, WRITE_ERRORS, AchievementList,
                                      BatchReport, ExtensionDecided, ExtensionRequested, ExtensionRequestList,
                                      FileReport, ObligationDetail, ObligationList, ObligationState, Reviewed,
                                      SubmissionAccepted, _limit, _path, _sort, body, command)
from shared.contracts.commands import assessments as assessment_commands
from shared.errors import InputError
from shared.upload_format import UPLOAD_COLUMNS

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


# --- scope rules of the assessments routes (see routing.py) -------------------------------------------
def _obligation(service, obligation_id, visible_to=None):
    return service.assessments.get_obligation(obligation_id)


OBLIGATION_IN_SUBTREE = Resource(
    "obligation-in-subtree", "an obligation of the caller's unit or of a unit below it",
    "ภาระการรายงานของหน่วยงานของผู้ใช้หรือหน่วยงานในสังกัด", targets=True, param="obligation_id",
    lookup=_obligation)
OWN_OBLIGATION = Resource(
    "own-obligation", "an obligation of the caller's own unit", "ภาระการรายงานของหน่วยงานของผู้ใช้เอง", targets=True,
    param="obligation_id", lookup=_obligation, relation="unit")
SUBMISSION_IN_SUBTREE = Resource(
    "submission-in-subtree", "a submission of a unit within the caller's subtree (the assessments service also "
                             "requires a unit above the submitter)",
    "รายงานของหน่วยงานในสังกัด", targets=True, param="submission_id",
    lookup=lambda service, i, v: service.assessments.get_submission(i))
EXTENSION_IN_SUBTREE = Resource(
    "extension-in-subtree", "an extension request of a unit within the caller's subtree",
    "คำขอขยายเวลาของหน่วยงานในสังกัด", targets=True, param="request_id",
    lookup=lambda service, i, v: service.assessments.get_extension_request(i))
BATCH_UNITS = Delegated(
    "batch-units", "each item's unit must be the caller's unit or below it (the assessments service refuses "
                   "any other item as forbidden)",
    "แต่ละรายการต้องเป็นของหน่วยงานของผู้ใช้หรือในสังกัด", targets=True)


class AssessmentsRoutes:
    """Mixed into GatewayService (which provides ``self.assessments``, ``self._scope``)."""

    # --- assessments -------------------------------------------------------------------------------
    @route("GET", "/api/v1/obligations", tag="obligations", th="ภาระการรายงาน",
           en="Obligations with their effective due time (own unit for an LAO, else own subtree)", scope=SUBTREE_LIST,
           params=[Param("unit_code", {"type": "string"}), Param("directive_id", {"type": "string"}),
                   Param("rule_id", {"type": "string"}),
                   Param("state", {"type": "string", "enum": list(ObligationState.__args__)}),
                   Param("period", {"type": "string"}, example="2569-12"),
                   Param("overdue", FLAG, description="1: past due and not submitted"), _limit(), OFFSET,
                   _sort("due_at", "unit_code", "state", "period", "created_at")],
           exports=True, ok={"200": ("by due time", ObligationList)}, errors=(400, 404) + READ_ERRORS)
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

    @route("GET", "/api/v1/obligations/<string:obligation_id>", tag="obligations", th="ภาระการรายงานพร้อมประวัติ",
           en="One obligation with its submissions, reviews and extension requests", scope=OBLIGATION_IN_SUBTREE,
           params=[_path("obligation_id")], ok={"200": ("the obligation", ObligationDetail)},
           errors=(404,) + READ_ERRORS)
    def get_obligation(self, request, user, obligation_id):
        return 200, request.target  # read by the scope rule, within the caller's scope

    @route("POST", "/api/v1/obligations/<string:obligation_id>/submissions", tag="submissions",
           th="ส่งรายงานตัวชี้วัด", en="Submit every indicator's value; on time or late by server time",
           scope=OBLIGATION_IN_SUBTREE, write=True, roles=("lao", "district", "province", "central"),
           params=[_path("obligation_id")],
           description="unit_code defaults to the caller's unit (a unit above it may submit for it). "
                       "A value that misses its target needs a note.",
           body=body(command(assessment_commands.SubmitValues,
                             drop=("obligation_id", "submitted_by", "submitter_unit_code"), optional=("unit_code",)),
                     SUBMIT_EXAMPLE),
           ok={"201": ("stored", SubmissionAccepted)}, errors=WRITE_ERRORS + (404, 409),
           target="obligation:{obligation_id}")
    def submit(self, request, user, obligation_id):
        payload = read_json(request)
        payload.update(obligation_id=obligation_id, submitted_by=user["username"],
                       submitter_unit_code=user["org_code"])
        payload.setdefault("unit_code", user["org_code"])
        return 201, self.assessments.submit_values(payload)

    @route("POST", "/api/v1/submissions/batch", tag="submissions", th="ส่งรายงานหลายรายการพร้อมกัน",
           en="Many reports at once; all_or_nothing (default) or keep_good; errors by item and field",
           scope=BATCH_UNITS, write=True, roles=("lao", "district", "province", "central"),
           body=body(command(assessment_commands.SubmitBatch, drop=("submitted_by", "submitter_unit_code")),
                     {"mode": "keep_good", "items": [{"unit_code": "LAO-180101", "period": "2569-12",
                                                      "values": SUBMIT_EXAMPLE["values"]}]}),
           ok={"200": ("stored (some or all)", BatchReport),
               "422": ("nothing stored: items rejected (a report, application/json), or the body itself is invalid "
                       "(a problem)", BatchReport)},
           errors=(400, 401, 403, 413, 422, 502))
    def submit_batch(self, request, user):
        payload = read_json(request)
        payload.update(submitted_by=user["username"], submitter_unit_code=user["org_code"])
        report = self.assessments.submit_batch(payload)
        return (200 if report["accepted"] or not report["errors"] else 422), report

    @route("POST", "/api/v1/submissions/upload", tag="submissions", th="อัปโหลดไฟล์รายงาน (CSV/XLSX)",
           en="CSV or XLSX (UTF-8, UTF-8 with BOM, CP874/TIS-620); Thai or English headers; errors by row and column",
           description="The first row names the columns, in English or in Thai (any order, case and spaces "
                       "ignored): " + "; ".join(f"`{column}` or `{thai}`{'' if required else ' (optional)'}: {what}"
                                                for column, thai, required, what in UPLOAD_COLUMNS) + ".",
           scope=BATCH_UNITS, write=True, roles=("lao", "district", "province", "central"),
           params=[Param("mode", {"type": "string", "enum": ["all_or_nothing", "keep_good_rows"],
                                  "default": "all_or_nothing"})],
           body={"multipart/form-data": {
               "schema": {"type": "object", "required": ["file"],
                          "properties": {"file": {"type": "string", "format": "binary",
                                                  "description": "a .csv, .txt or .xlsx file, at most 5 MB"}}}}},
           ok={"200": ("stored (some or all)", FileReport),
               "422": ("nothing stored: rows rejected (a report, application/json), or no file / an unreadable one "
                       "(a problem)", FileReport)},
           errors=(400, 401, 403, 413, 415, 422, 502))
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

    @route("POST", "/api/v1/submissions/<string:submission_id>/review", tag="reviews", th="ตรวจรับรายงาน",
           en="accepted, or returned with a comment (a supervising unit)", scope=SUBMISSION_IN_SUBTREE, write=True,
           roles=("district", "province", "central", "reviewer"), params=[_path("submission_id")],
           body=body(command(assessment_commands.ReviewSubmission,
                             drop=("submission_id", "reviewer_unit_code", "reviewer")),
                     {"decision": "returned", "comment": "จำนวนผู้สูงอายุไม่ตรงกับทะเบียน"}),
           ok={"200": ("reviewed", Reviewed)}, errors=WRITE_ERRORS + (404, 409), target="submission:{submission_id}")
    def review(self, request, user, submission_id):
        payload = read_json(request)
        payload.update(submission_id=submission_id, reviewer_unit_code=user["org_code"], reviewer=user["username"])
        return 200, self.assessments.review_submission(payload)

    @route("POST", "/api/v1/obligations/<string:obligation_id>/extension-requests", tag="extensions",
           th="ขอขยายเวลาส่งรายงาน", en="Ask for more time, with a reason (the LAO)", scope=OWN_OBLIGATION,
           write=True, roles=("lao",), params=[_path("obligation_id")],
           body=body(command(assessment_commands.RequestExtension,
                             drop=("obligation_id", "unit_code", "requested_by")),
                     {"requested_due_at": "2026-12-10T16:30:00+07:00", "reason": "ระบบไฟฟ้าขัดข้องทั้งตำบล"}),
           ok={"201": ("pending", ExtensionRequested)}, errors=WRITE_ERRORS + (404, 409),
           target="obligation:{obligation_id}")
    def request_extension(self, request, user, obligation_id):
        payload = read_json(request)
        payload.update(obligation_id=obligation_id, unit_code=user["org_code"], requested_by=user["username"])
        return 201, self.assessments.request_extension(payload)

    @route("GET", "/api/v1/extension-requests", tag="extensions", th="คำขอขยายเวลา",
           en="Extension requests (own unit for an LAO, else own subtree)", scope=SUBTREE_LIST,
           params=[Param("status", {"type": "string", "enum": ["pending", "granted", "denied", ""], "default": "pending"},
                         description="empty: every status"), _limit(), OFFSET,
                   _sort("requested_at", "unit_code", "status", "requested_due_at")],
           exports=True, ok={"200": ("oldest first", ExtensionRequestList)}, errors=(400, 404) + READ_ERRORS)
    def list_extension_requests(self, request, user):
        args = request.args
        export_format(args)
        unit_codes = [user["org_code"]] if user["role"] == "lao" else self._scope(user)
        items = self.assessments.list_extension_requests(
            unit_codes=unit_codes, status=args.get("status", "pending") or None,
            limit=int_arg(args, "limit", 100), offset=int_arg(args, "offset", 0), sort=args.get("sort"))
        return 200, exported(request, {"items": items}, items, EXTENSION_COLUMNS, "extension-requests")

    @route("POST", "/api/v1/extension-requests/<string:request_id>/decision", tag="extensions",
           th="อนุมัติหรือไม่อนุมัติการขยายเวลา", en="Approve (moves the effective due time) or deny with a comment",
           scope=EXTENSION_IN_SUBTREE, write=True, roles=("district", "province", "central"),
           params=[_path("request_id")],
           body=body(command(assessment_commands.DecideExtension, drop=("request_id", "decider_unit_code")),
                     {"approve": False, "comment": "เหตุผลไม่เพียงพอ"}),
           ok={"200": ("decided", ExtensionDecided)}, errors=WRITE_ERRORS + (404, 409),
           target="extension_request:{request_id}")
    def decide_extension(self, request, user, request_id):
        payload = read_json(request)
        payload.update(request_id=request_id, decider_unit_code=user["org_code"])
        return 200, self.assessments.decide_extension(payload)

    @route("GET", "/api/v1/achievement", tag="reports", th="ผลการดำเนินงานเทียบค่าเป้าหมาย",
           en="Per indicator: value vs target, at risk, trend (own subtree)", scope=REPORT_UNIT,
           params=[Param("unit_code", {"type": "string"}, description="default: the caller's unit"),
                   Param("fiscal_year_be", {"type": "integer", "minimum": 2400, "maximum": 2699}, required=True,
                         example=2569),
                   Param("indicator_code", {"type": "string"})],
           ok={"200": ("by indicator", AchievementList)}, errors=(400, 404) + READ_ERRORS)
    def achievement(self, request, user):
        args = request.args
        unit_code = args.get("unit_code") or user["org_code"]
        self._require_in_scope(user, unit_code)
        year = int_arg(args, "fiscal_year_be", 0)
        if not 2400 <= year <= 2699:
            raise InputError("invalid", "fiscal_year_be", "ต้องระบุปีงบประมาณเป็น พ.ศ. เช่น 2569",
                             "fiscal_year_be must be a Buddhist-era year such as 2569", status=400)
        return 200, {"items": self.assessments.achievement(unit_code, year, args.get("indicator_code"))}
