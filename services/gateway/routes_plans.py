"""Gateway routes of the plans service: registry, documents and directives, assignments, plan trees."""
from __future__ import annotations

import base64
import urllib.parse

from werkzeug.wrappers import Response

from services.gateway.exports import columns, export_format, exported
from services.gateway.http import MAX_BODY_BYTES, check_upload_size, int_arg, read_json, read_text
from services.gateway.routing import (EVERYONE, NATION, SUBTREE_LIST, BodyUnit, Delegated, Param, Resource,
                                      route)
from services.gateway.schemas import (DIRECTIVE_EXAMPLE, DOCUMENT_EXAMPLE, FLAG, JSON, OFFSET, PLAN_SHAPES,
                                      READ_ERRORS, UNIT_EXAMPLE, WRITE_ERRORS, AddresseePreview, AssignmentChanged,
                                      AssignmentList, AssignmentState, AttachmentStored, Cascade, DirectiveDetail, DocumentList,
                                      DirectiveIssued, DocumentDetail, DocumentIssued, DocumentRecorded, Forwarded,
                                      IndicatorDetail, OrgUnitList, PlanAnomalyList, PlanDetail, PlanImported,
                                      PlanLinkList, PlanList, ReceiptRegistered, RegisterResult, TargetList, _limit,
                                      _path, _sort, body, command, plan_commands)
from shared.contracts import plan_document
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


# --- scope rules of the plans routes (see routing.py) ------------------------------------------------
def _document(service, document_id, visible_to):
    return service.plans.get_document(document_id, visible_to)


def actor(user) -> dict:
    """Who acts, as the services re-check it on every write."""
    return {"username": user["username"], "role": user["role"], "org_code": user["org_code"]}


DOCUMENT_VISIBLE = Resource(
    "document-visible", "a document its unit sent, or one addressed to a unit within its subtree",
    "หนังสือที่หน่วยงานส่ง หรือที่ส่งถึงหน่วยงานในสังกัด", targets=True, param="document_id", lookup=_document,
    relation="visible")
DOCUMENT_RECORDER = Resource(
    "document-recorder", "only the unit that recorded the document, or central (a document the caller cannot "
                         "see: 404)", "เฉพาะหน่วยงานที่บันทึกหนังสือ หรือส่วนกลาง", targets=True, param="document_id", lookup=_document,
    owner="recorded_by_unit", relation="recorder")
DOCUMENT_SENDER = BodyUnit(
    "document-sender", "the sender is the caller's own unit (central states sender_code, e.g. MOI for a memo from "
                       "above); the plans service checks each item's issuer and addressees against the sender's subtree",
    "ผู้ส่งต้องเป็นหน่วยงานของผู้ใช้ (ส่วนกลางบันทึกหนังสือจากหน่วยเหนือได้)", targets=True, field="sender_code")
ATTACHMENT_VISIBLE = Resource(
    "attachment-visible", "an attachment of a document the caller may read", "ไฟล์แนบของหนังสือที่ผู้ใช้อ่านได้",
    targets=True, param="attachment_id", lookup=lambda service, i, v: service.plans.get_attachment(i, v),
    relation="visible")
DIRECTIVE_VISIBLE = Resource(
    "directive-visible", "a directive of a document the caller may read", "ข้อสั่งการในหนังสือที่ผู้ใช้อ่านได้",
    targets=True, param="directive_id", lookup=lambda service, i, v: service.plans.get_directive(i, v),
    relation="visible")
ASSIGNEE = Resource(
    "assignee", "only the unit the assignment is addressed to", "เฉพาะหน่วยงานที่ได้รับมอบหมาย", targets=True,
    param="assignment_id", lookup=lambda service, i, v: service.plans.get_assignment(i), relation="unit")
RECEIPT_DOCUMENT = Resource(
    "receipt-document", "the caller's own register, for a document the caller may read (else 404)",
    "ทะเบียนรับของหน่วยงานเอง สำหรับหนังสือที่ผู้ใช้อ่านได้", targets=True, param="document_id", lookup=_document,
    relation="visible", in_body=True)
PLAN_OWNER = Delegated(
    "plan-owner", "central, or the owning unit for its own plan (the plans service checks the parsed document)",
    "ส่วนกลาง หรือหน่วยงานเจ้าของแผนสำหรับแผนของตนเอง", targets=True)
ASSIGNMENT_AUDIT = {"target": "assignment:{assignment_id}"}


class PlansRoutes:
    """Mixed into GatewayService (which provides ``self.plans``, ``self.uow``, ``self._scope``)."""

    # --- plans: registry ------------------------------------------------------------------------
    @route("POST", "/api/v1/org-units", tag="registry", th="ลงทะเบียน/แก้ไขหน่วยงาน",
           en="Register or update units (a change keeps history; dry_run reports only)", scope=NATION, write=True,
           roles=("central", "ops"), body=body(command(plan_commands.RegisterUnits), UNIT_EXAMPLE),
           ok={"200": ("what changed (or would change)", RegisterResult)}, errors=WRITE_ERRORS)
    def register_units(self, request, user):
        # a forced change (force: true, reason) is in the audit row: its request and the result's "forced"
        return 200, self.plans.register_units(read_json(request), actor(user))

    @route("POST", "/api/v1/org-units/import", tag="registry", th="นำเข้าทะเบียนหน่วยงานจาก CSV",
           en="Import a registry CSV (UTF-8, header = field names)", scope=NATION, write=True,
           roles=("central", "ops"),
           params=[Param("dry_run", FLAG, description="1: list what would change, change nothing")],
           body={media: {"schema": {"type": "string"},
                         "example": "code,level,lao_type,parent_code,name_th,change_kind,effective_date,"
                                    "predecessor_codes,successor_codes,reason,force\n"
                                    "LAO-189901,lao,sao,DLO-0115,องค์การบริหารส่วนตำบลบ้านกล้วย ๒,,,,,,\n"
                                    "LAO-189902,,subdistrict_municipality,,,type_changed,2026-06-01,,,ยกฐานะ,\n"
                                    "LAO-189903,,,,,merged,2026-10-01,,LAO-189904,ควบรวม,\n"}
                 for media in ("text/csv", "application/csv", "text/plain")},
           ok={"200": ("what changed (or would change)", RegisterResult)}, errors=WRITE_ERRORS + (415,))
    def import_units(self, request, user):
        text = read_text(request, ("text/csv", "application/csv", "text/plain"))
        return 200, self.plans.import_units_csv(text, dry_run=request.args.get("dry_run") in ("1", "true"),
                                                actor=actor(user))

    @route("GET", "/api/v1/org-units", tag="registry", th="รายการหน่วยงานที่มีอยู่ในวันที่ระบุ (ค่าเริ่มต้น วันนี้)",
           en="Units as they are on a date (default today, Bangkok)",
           scope=EVERYONE, params=[Param("parent_code", {"type": "string"}, description="children of this unit"),
                   Param("on", {"type": "string", "maxLength": 40}, example="2026-12-07",
                         description="the day the units are listed as (ISO, CE or BE, or a Thai date such as "
                                     "7/12/2569; not a date: 422); empty or absent: today "
                                     "in Bangkok: a unit opening later is not listed, one closing later is"),
                   Param("level", {"type": "string", "enum": list(plan_commands.Level.__args__)}),
                   Param("search", {"type": "string"}, description="in the Thai name or the code", example="ชัยนาท"),
                   Param("within", {"type": "string"}, description="this unit and every unit below it "
                         "(an unknown unit: 404)", example="PLO-09"),
                   Param("codes", {"type": "string"}, description="only these units (codes, comma-separated)",
                         example="LAO-180101,LAO-180102"),
                   Param("lao_type", {"type": "string", "enum": list(plan_commands.LaoType.__args__)},
                         description="LAOs of this type; any other value is 422"),
                   _limit(), OFFSET, _sort("code", "name_th", "level", "lao_type", "valid_from")],
           ok={"200": ("units by code", OrgUnitList)}, errors=(400, 404, 422) + READ_ERRORS)
    def list_units(self, request, user):
        args = request.args
        codes = [c for c in args.get("codes", "").split(",") if c] or None
        return 200, {"items": self.plans.list_units(parent_code=args.get("parent_code"), level=args.get("level"),
                                                    lao_type=args.get("lao_type"),
                                                    search=args.get("search"), within=args.get("within"),
                                                    codes=codes, limit=int_arg(args, "limit", 100),
                                                    offset=int_arg(args, "offset", 0), sort=args.get("sort"),
                                                    on=args.get("on") or None)}

    @route("GET", "/api/v1/org-units/<string:code>/history", tag="registry", th="ประวัติของหน่วยงาน",
           en="Every version of a unit with the change that made it and the one that ended it (kind, effective "
              "date, reason, forced), its predecessors and successors", scope=EVERYONE, params=[_path("code")],
           ok={"200": ("versions, oldest first", OrgUnitList)}, errors=(404,) + READ_ERRORS)
    def unit_history(self, request, user, code):
        return 200, {"items": self.plans.unit_history(code)}

    # --- plans: documents and directives ------------------------------------------------------------
    @route("POST", "/api/v1/documents", tag="documents", th="บันทึกหนังสือราชการและข้อสั่งการ",
           en="Record a document (number as printed, BE or CE date) with its directive items (drafts)",
           scope=DOCUMENT_SENDER,
           description="document_date also accepts Thai forms such as '๒๑ พ.ย. ๒๕๖๙' or '21/11/2569'. "
                       "The sender is the caller's unit (another sender_code: 403); central states sender_code "
                       "(e.g. MOI for an incoming memo). Each item's issuer and addressees lie within the "
                       "sender's subtree (central: any unit), else 403 naming the field. The same number, sender "
                       "and date again answers 409 with existing_document_id unless allow_duplicate is true.",
           write=True, roles=("central", "province", "district"),
           body=body(command(plan_commands.RecordDocument, optional=("sender_code",)), DOCUMENT_EXAMPLE),
           ok={"201": ("recorded", DocumentRecorded)}, errors=WRITE_ERRORS + (404, 409))
    def record_document(self, request, user):
        # no default sender here: the service takes the caller's unit, or central's stated sender
        return 201, self.plans.record_document(read_json(request), actor(user))

    @route("GET", "/api/v1/documents", tag="documents", th="ค้นหาหนังสือตามเลขที่",
           en="Documents by number (Thai or Arabic digits, with or without ที่), exact matches first (own subtree)",
           scope=SUBTREE_LIST,
           params=[Param("number", {"type": "string", "maxLength": 160}, description="all or part of the number",
                         example="มท ๐๘๐๑.๒/ว ๕๒"),
                   Param("sender_code", {"type": "string", "maxLength": 32}), _limit(), OFFSET],
           ok={"200": ("matching documents", DocumentList)}, errors=(400,) + READ_ERRORS)
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

    @route("GET", "/api/v1/documents/<string:document_id>", tag="documents",
           th="หนังสือพร้อมข้อสั่งการ ไฟล์แนบ และทะเบียนรับ",
           en="A document with its items, attachments and receipts", scope=DOCUMENT_VISIBLE,
           params=[_path("document_id")], ok={"200": ("the document", DocumentDetail)}, errors=(404,) + READ_ERRORS)
    def get_document(self, request, user, document_id):
        return 200, request.target  # read by the scope rule, within the caller's scope

    @route("POST", "/api/v1/documents/<string:document_id>/issue", tag="documents", th="ส่งข้อสั่งการในหนังสือ",
           en="Issue the draft items (all, or those listed in items): one assignment per addressee",
           scope=DOCUMENT_RECORDER, write=True,
           description="Only the unit that recorded the document (or central) issues it (403).",
           roles=("central", "province", "district"), params=[_path("document_id")],
           body={JSON: {"schema": {"type": "object", "additionalProperties": False, "properties": {
               "items": {"type": "array", "minItems": 1, "maxItems": 500, "items": {"type": "string"},
                         "description": "ids of the draft items to issue (default: all)"}}},
               "example": {"items": ["<directive id>"]}}},
           body_required=False,
           ok={"200": ("issued", DocumentIssued)}, errors=(400, 401, 403, 404, 409, 413, 422, 502),
           target="document:{document_id}")
    def issue_document(self, request, user, document_id):
        payload = read_json(request) if request.get_data() else {}  # no body: every draft item
        return 200, self.plans.issue_document({**payload, "document_id": document_id}, actor(user))

    @route("POST", "/api/v1/documents/<string:document_id>/attachments", tag="documents", th="แนบไฟล์",
           en="Upload an attachment (multipart field file, at most 5 MB)", scope=DOCUMENT_RECORDER, write=True,
           roles=("central", "province", "district"), params=[_path("document_id")], body={"multipart/form-data": {
               "schema": {"type": "object", "required": ["file"],
                          "properties": {"file": {"type": "string", "format": "binary"}}}}},
           ok={"201": ("stored", AttachmentStored)}, errors=(400, 401, 403, 404, 413, 422, 502),
           target="document:{document_id}")
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

    @route("GET", "/api/v1/attachments/<string:attachment_id>", tag="documents", th="ดาวน์โหลดไฟล์แนบ",
           en="Download an attachment, with its own Content-Type (own subtree)", scope=ATTACHMENT_VISIBLE,
           params=[_path("attachment_id")],
           ok={"200": ("the file as uploaded", ("*/*", {"type": "string", "format": "binary"}))},
           errors=(401, 404, 502))
    def download_attachment(self, request, user, attachment_id):
        stored = request.target  # read by the scope rule, within the caller's scope
        quoted = urllib.parse.quote(stored["filename"])
        return 200, Response(base64.b64decode(stored["content_base64"]), status=200, headers={
            "Content-Type": stored["content_type"], "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
            "X-Content-Type-Options": "nosniff"})

    @route("POST", "/api/v1/addressees/preview", tag="directives", th="ดูตัวอย่างผู้รับตามเงื่อนไข",
           en="How many units an addressee rule reaches, by level, with a sample", scope=EVERYONE,
           roles=("central", "province", "district"),
           body=body(command(plan_commands.AddresseeRule), {"level": "lao", "within": "PLO-09"}),
           ok={"200": ("the units reached", AddresseePreview)}, errors=(400, 401, 403, 413, 422, 502))
    def preview_addressees(self, request, user):
        return 200, self.plans.preview_addressees(read_json(request))

    @route("POST", "/api/v1/directives", tag="directives", th="ออกข้อสั่งการ (หนังสือฉบับเดียว)",
           en="Issue a directive with addressees (codes, or level + within) and an optional reporting rule",
           scope=NATION,
           description="issuer_code defaults to the caller's unit; document_date also accepts Thai forms.",
           write=True, roles=("central",),
           body=body(command(plan_commands.IssueDirective, optional=("issuer_code",)), DIRECTIVE_EXAMPLE),
           ok={"201": ("issued", DirectiveIssued)}, errors=WRITE_ERRORS)
    def issue_directive(self, request, user):
        payload = read_json(request)
        payload.setdefault("issuer_code", user["org_code"])
        return 201, self.plans.issue_directive(payload, actor(user))

    @route("GET", "/api/v1/directives/<string:directive_id>", tag="directives", th="ข้อสั่งการและการมอบหมาย",
           en="A directive with its document and assignments", scope=DIRECTIVE_VISIBLE,
           params=[_path("directive_id")], ok={"200": ("the directive", DirectiveDetail)},
           errors=(404,) + READ_ERRORS)
    def get_directive(self, request, user, directive_id):
        return 200, request.target  # read by the scope rule, within the caller's scope

    @route("GET", "/api/v1/directives/<string:directive_id>/cascade", tag="directives",
           th="การส่งต่อข้อสั่งการตามลำดับชั้น",
           en="Per level and unit: received, acknowledged, forwarded, hop latencies (own subtree)",
           scope=DIRECTIVE_VISIBLE, params=[_path("directive_id")], ok={"200": ("the cascade", Cascade)},
           errors=(404,) + READ_ERRORS)
    def cascade(self, request, user, directive_id):
        return 200, self.plans.cascade(directive_id, self._scope(user))

    # --- plans: plan trees, indicators, targets, links ------------------------------------------------
    @route("POST", "/api/v1/plans", tag="plans", th="นำเข้าแผน (YAML หรือ JSON)",
           en="Import (create or update) a plan; dry_run=1 reports only (central: any plan; a unit: its own plan "
           "only, else 403)", scope=PLAN_OWNER, write=True,
           roles=("central", "province", "district", "lao"), description="The body is " + PLAN_SHAPES + ".",
           params=[Param("dry_run", FLAG), Param("source", {"type": "string"}, description="name of the source file")],
           body={JSON: {"schema": {"anyOf": [command(plan_document.PlanDocument, require=("format",)),
                                             {"type": "object", "description": "another supported shape"}]},
                        "example": {"format": "thongthin.plan/v1",
                                    "plan": {"id": "LAO-189901-LDP-2566-2570", "type": "local_development",
                                             "owner_code": "LAO-189901", "title_th": "แผนพัฒนาท้องถิ่น (พ.ศ. ๒๕๖๖-๒๕๗๐)",
                                             "period_be_start": 2566, "period_be_end": 2570},
                                    "indicators": [{"id": "IND-1", "name_th": "จำนวนผู้สูงอายุที่ได้รับการเยี่ยมบ้าน",
                                                    "unit_th": "คน", "targets": {"2567": 120, "2568": "-"}}]}},
                 **{media: {"schema": {"type": "string"}} for media in
                    ("application/x-yaml", "application/yaml", "text/yaml", "text/plain")}},
           ok={"200": ("import summary", PlanImported)}, errors=WRITE_ERRORS + (404, 409, 415))
    def import_plan(self, request, user):
        dry_run = request.args.get("dry_run") in ("1", "true")
        if request.mimetype in ("application/x-yaml", "application/yaml", "text/yaml", "text/plain"):
            document = read_text(request, ("application/x-yaml", "application/yaml", "text/yaml", "text/plain"))
        else:
            document = read_json(request)
        return 200, self.plans.import_plan(document, actor(user), source_name=request.args.get("source"),
                                           dry_run=dry_run)

    @route("GET", "/api/v1/plans", tag="plans", th="รายการแผน", en="Plans", scope=EVERYONE,
           params=[Param("type", {"type": "string"}, example="strategic"), Param("owner_code", {"type": "string"}),
                   Param("parent_plan_id", {"type": "string"}), _limit(), OFFSET],
           ok={"200": ("plans by id", PlanList)}, errors=(400,) + READ_ERRORS)
    def list_plans(self, request, user):
        args = request.args
        return 200, {"items": self.plans.list_plans(plan_type=args.get("type"), owner_code=args.get("owner_code"),
                                                    parent_plan_id=args.get("parent_plan_id"),
                                                    limit=int_arg(args, "limit", 100), offset=int_arg(args, "offset", 0))}

    @route("GET", "/api/v1/plans/<string:plan_id>", tag="plans", th="แผนพร้อมโครงสร้าง",
           en="A plan and its whole tree", scope=EVERYONE, params=[_path("plan_id")],
           ok={"200": ("the plan", PlanDetail)}, errors=(404,) + READ_ERRORS)
    def get_plan(self, request, user, plan_id):
        return 200, self.plans.get_plan(plan_id)

    @route("GET", "/api/v1/plans/<string:plan_id>/export", tag="plans", th="ส่งออกแผน (thongthin.plan/v1)",
           en="The plan as a normalized document; importing it gives the same plan", scope=EVERYONE,
           params=[_path("plan_id")], ok={"200": ("thongthin.plan/v1", ("out", plan_document.PlanDocument))},
           errors=(404,) + READ_ERRORS)
    def export_plan(self, request, user, plan_id):
        return 200, self.plans.export_plan(plan_id)

    @route("GET", "/api/v1/plans/<string:plan_id>/indicators/<string:indicator_id>", tag="plans", th="ตัวชี้วัดในแผน",
           en="An indicator: targets, flags, place in the tree, links", scope=EVERYONE,
           params=[_path("plan_id"), _path("indicator_id")], ok={"200": ("the indicator", IndicatorDetail)},
           errors=(404,) + READ_ERRORS)
    def get_indicator(self, request, user, plan_id, indicator_id):
        return 200, self.plans.get_indicator(plan_id, indicator_id)

    @route("GET", "/api/v1/targets", tag="plans", th="ค่าเป้าหมาย", en="Targets by plan, indicator, year, unit",
           scope=EVERYONE, params=[Param("plan_id", {"type": "string"}), Param("indicator_id", {"type": "string"}),
                   Param("fiscal_year_be", {"type": "integer", "minimum": 2400, "maximum": 2699},
                         description="a Buddhist-era fiscal year (2400-2699); absent: every year", example=2568),
                   Param("unit_code", {"type": "string"}), Param("unit_group", {"type": "string"}),
                   _limit(1000), OFFSET],
           ok={"200": ("targets", TargetList)}, errors=(400, 422) + READ_ERRORS)
    def list_targets(self, request, user):
        args = request.args
        return 200, {"items": self.plans.list_targets(
            plan_id=args.get("plan_id"), indicator_id=args.get("indicator_id"),
            fiscal_year_be=int_arg(args, "fiscal_year_be", 0) or None, unit_code=args.get("unit_code"),
            unit_group=args.get("unit_group"), limit=int_arg(args, "limit", 1000), offset=int_arg(args, "offset", 0))}

    @route("GET", "/api/v1/plans/<string:plan_id>/links", tag="plans", th="ความเชื่อมโยงของแผน",
           en="Links from the plan (or one element), or into it (direction=to)", scope=EVERYONE,
           params=[_path("plan_id"), Param("direction", {"type": "string", "enum": ["from", "to"], "default": "from"}),
                   Param("element_id", {"type": "string"})],
           ok={"200": ("links", PlanLinkList)}, errors=(400, 404) + READ_ERRORS)
    def plan_links(self, request, user, plan_id):
        direction = request.args.get("direction", "from")
        if direction not in ("from", "to"):
            raise InputError("invalid", "direction", "direction ต้องเป็น from หรือ to", "direction must be from or to",
                             status=400)
        return 200, {"items": self.plans.plan_links(plan_id, request.args.get("element_id"), direction)}

    @route("GET", "/api/v1/plans/<string:plan_id>/anomalies", tag="plans", th="ความผิดปกติของแผน",
           en="Declared-total mismatches and unresolved or dangling links", scope=EVERYONE, params=[_path("plan_id")],
           ok={"200": ("anomalies", PlanAnomalyList)}, errors=(404,) + READ_ERRORS)
    def plan_anomalies(self, request, user, plan_id):
        return 200, {"items": self.plans.plan_anomalies(plan_id)}

    # --- plans: assignments -------------------------------------------------------------------------
    @route("GET", "/api/v1/assignments", tag="assignments", th="ข้อสั่งการที่หน่วยงานได้รับ",
           en="The caller's unit's assignments (mine=0: its whole subtree)", scope=SUBTREE_LIST,
           params=[Param("mine", {"type": "string", "enum": ["0", "1"], "default": "1"}),
                   Param("state", {"type": "string", "enum": list(AssignmentState.__args__)}),
                   Param("directive_id", {"type": "string"}), _limit(), OFFSET,
                   _sort("created_at", "unit_code", "state", "acknowledged_at")],
           exports=True, ok={"200": ("newest first", AssignmentList)}, errors=(400, 404) + READ_ERRORS)
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

    @route("POST", "/api/v1/assignments/<string:assignment_id>/acknowledge", tag="assignments", th="ลงรับข้อสั่งการ",
           en="Acknowledge (idempotent), optionally with the receipt number", scope=ASSIGNEE, write=True,
           params=[_path("assignment_id")],
           body=body(command(plan_commands.AcknowledgeAssignment, drop=("assignment_id", "unit_code")),
                     {"receipt_number": "๑๒๓"}),
           ok={"200": ("acknowledged (changed=false if already)", AssignmentChanged)},
           errors=WRITE_ERRORS + (404, 409), **ASSIGNMENT_AUDIT)
    def acknowledge(self, request, user, assignment_id):
        return 200, self._assignment_action(request, user, assignment_id, "acknowledge_assignment")

    @route("POST", "/api/v1/assignments/<string:assignment_id>/state", tag="assignments",
           th="เปลี่ยนสถานะการดำเนินการ",
           en="received / in_progress / reported / closed / not_applicable / cancelled", scope=ASSIGNEE, write=True,
           params=[_path("assignment_id")],
           body=body(command(plan_commands.ChangeAssignmentState, drop=("assignment_id", "unit_code")),
                     {"to_state": "in_progress", "note": "อยู่ระหว่างรวบรวมข้อมูลจากกองคลัง"}),
           ok={"200": ("the new state", AssignmentChanged)}, errors=WRITE_ERRORS + (404, 409), **ASSIGNMENT_AUDIT)
    def change_state(self, request, user, assignment_id):
        return 200, self._assignment_action(request, user, assignment_id, "change_assignment_state")

    @route("POST", "/api/v1/assignments/<string:assignment_id>/applicability", tag="assignments",
           th="แจ้งว่าเกี่ยวข้องหรือไม่เกี่ยวข้อง", en="Applicable or not (not: with a reason)", scope=ASSIGNEE,
           write=True, params=[_path("assignment_id")],
           body=body(command(plan_commands.DeclareApplicability, drop=("assignment_id", "unit_code")),
                     {"applicable": False, "note": "ไม่มีผู้สูงอายุในพื้นที่ที่เข้าเกณฑ์"}),
           ok={"200": ("recorded", AssignmentChanged)}, errors=WRITE_ERRORS + (404, 409), **ASSIGNMENT_AUDIT)
    def declare_applicability(self, request, user, assignment_id):
        return 200, self._assignment_action(request, user, assignment_id, "declare_applicability")

    @route("POST", "/api/v1/assignments/<string:assignment_id>/forward", tag="assignments", th="ส่งต่อข้อสั่งการ",
           en="Forward inside the unit's own subtree", scope=ASSIGNEE, write=True,
           roles=("central", "province", "district"), params=[_path("assignment_id")],
           body=body(command(plan_commands.ForwardAssignment, drop=("assignment_id", "unit_code")),
                     {"addressees": {"level": "district_office", "within": "PLO-09"}}),
           ok={"200": ("child assignments", Forwarded)}, errors=WRITE_ERRORS + (404, 409), **ASSIGNMENT_AUDIT)
    def forward(self, request, user, assignment_id):
        return 200, self._assignment_action(request, user, assignment_id, "forward_assignment")

    @route("POST", "/api/v1/receipts", tag="receipts", th="ลงทะเบียนรับหนังสือ",
           en="Register a receipt number (unique per unit per calendar year) for the caller's unit",
           scope=RECEIPT_DOCUMENT, write=True,
           description="received_on also accepts Thai forms such as '21/11/2569'. The number is stored with "
                       "Arabic digits: ๕๐๘๓๖ and 50836 are the same number. A document the caller cannot see: 404.",
           body=body(command(plan_commands.RegisterReceipt, drop=("unit_code",)),
                     {"document_id": "<document id>", "receipt_no": "๒๙๖", "received_on": "2026-11-21",
                      "received_time": "10:30", "channel": "e-saraban"}),
           ok={"201": ("registered", ReceiptRegistered)}, errors=WRITE_ERRORS + (404, 409))
    def register_receipt(self, request, user):
        payload = read_json(request)
        payload["unit_code"] = user["org_code"]  # each unit keeps its own register
        return 201, self.plans.register_receipt(payload, actor(user))
