"""Gateway routes of the annual LPA (issue #19): frameworks, rounds, self-assessments and evidence,
assessor teams, scores, publication, follow-ups (commands and views: ``assessments.lpa_*``), and the
results and summaries (``reporting.lpa_results`` / ``reporting.lpa_summary``), signed-in and public.

Who sees what (beyond each route's roles):
- an assessment and its evidence: the assessments service decides from ``viewer`` (the LAO itself, its
  district and provincial offices, central, and the members of its team); what a caller may not read
  is not found for it (404), a write included;
- lists (checklist, follow-ups, teams, results) are narrowed here to the caller's subtree: an LAO its
  own row, a district office its district, a provincial office its province, central everything;
- public results (no login) exist only once the round is published and its publication day has come
  (reporting answers ``public_only``); before that the public routes answer 404.
The gateway fills every command field marked "filled by the gateway" (shared/contracts/commands/lpa.py)
from the session: the caller's unit and username.
"""
from __future__ import annotations

import base64
import csv
import io
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import yaml
from werkzeug.wrappers import Response

from services.gateway.exports import columns, export_format, exported, file_response
from services.gateway.http import int_arg, problem, read_json, read_text
from services.gateway.routing import EVERYONE, NATION, PUBLIC, REPORT_UNIT, SUBTREE_LIST, Delegated, Param, Scope, \
    out_of_scope, route
from services.gateway.schemas import FLAG, JSON, OFFSET, READ_ERRORS, WRITE_ERRORS, _limit, _path, body, command
from shared.contracts.commands import lpa as lpa_commands
from services.gateway.upstream import upstream_response
from shared.errors import InputError
from shared.service_base import json_response

OBJECT = {"type": "object", "additionalProperties": True}
YEAR = Param("year_be", {"type": "integer", "minimum": 2549, "maximum": 2699}, "path", True,
             "the Buddhist-era year of the round, e.g. 2569", example=2569)
LAO_TYPE = Param("lao_type", {"type": "string", "enum": ["pao", "city_municipality", "town_municipality",
                                                          "subdistrict_municipality", "sao", "special"]})
CODE = {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,32}$"}
YAML_TYPES = ("application/x-yaml", "application/yaml", "text/yaml", "text/plain")
LPA_WRITE_ERRORS = WRITE_ERRORS + (404, 409)
SYNTHETIC_CACHE_S = 300.0
_SYNTHETIC: dict[int, tuple[float, bool]] = {}
PUBLIC_PAGE = Path(__file__).resolve().parent / "static" / "lpa-public.html"

CHECKLIST_COLUMNS = columns(
    ("unit_code", "รหัส อปท.", "LAO code"), ("lao_type", "ประเภท อปท.", "LAO type"),
    ("province_code", "จังหวัด", "province"), ("district_code", "อำเภอ", "district"),
    ("self_state", "ประเมินตนเอง", "self-assessment"), ("self_submitted_at", "ส่งเมื่อ", "submitted at"),
    ("self_on_time", "ส่งทันกำหนด", "on time"), ("team_id", "ทีมประเมิน", "team"),
    ("score_state", "ผลคะแนน", "scoring"), ("points", "คะแนน", "points"), ("max_points", "คะแนนเต็ม", "max points"),
    ("percent", "ร้อยละ", "percent"), ("passed", "ผ่านเกณฑ์", "passed"), ("assessment_id", "รหัสแบบประเมิน", "assessment id"))
RESULT_COLUMNS = columns(
    ("unit_code", "รหัส อปท.", "LAO code"), ("name_th", "ชื่อ อปท.", "LAO"), ("lao_type", "ประเภท อปท.", "LAO type"),
    ("province_code", "จังหวัด", "province"), ("district_code", "อำเภอ", "district"),
    ("points", "คะแนน", "points"), ("max_points", "คะแนนเต็ม", "max points"), ("percent", "ร้อยละ", "percent"),
    ("passed", "ผ่านเกณฑ์", "passed"), ("rank_province", "อันดับในจังหวัด", "rank in province"),
    ("rank_lao_type", "อันดับในประเภท", "rank in LAO type"), ("last_year_percent", "ร้อยละปีก่อน", "last year %"),
    ("change", "เปลี่ยนจากปีก่อน", "change"))
FOLLOW_UP_COLUMNS = columns(
    ("unit_code", "รหัส อปท.", "LAO code"), ("area_code", "ด้าน", "area"), ("percent", "ร้อยละที่ได้", "percent"),
    ("threshold", "เกณฑ์", "threshold"), ("state", "สถานะ", "state"), ("plan_th", "แผนพัฒนา", "improvement plan"),
    ("due_at", "กำหนด", "due at"), ("opened_at", "เปิดเมื่อ", "opened at"), ("closed_at", "ปิดเมื่อ", "closed at"),
    ("district_code", "อำเภอ", "district"), ("province_code", "จังหวัด", "province"),
    ("follow_up_id", "รหัสรายการติดตาม", "follow-up id"))
ROUND_COLUMNS = columns(
    ("year_be", "ปี", "year"), ("state", "สถานะ", "state"), ("scope_code", "ขอบเขต", "scope"),
    ("self_due_at", "กำหนดส่งประเมินตนเอง", "self-assessment due"), ("visit_from", "ตรวจประเมินตั้งแต่", "visits from"),
    ("visit_to", "ถึง", "visits to"), ("publish_on", "ประกาศผล", "publish on"), ("counts.laos", "อปท.", "LAOs"),
    ("counts.self_submitted", "ส่งประเมินตนเองแล้ว", "self-assessed"), ("counts.self_late", "ส่งช้า", "late"),
    ("counts.with_team", "มีทีมประเมิน", "with a team"), ("counts.finalised", "สรุปผลแล้ว", "finalised"),
    ("counts.passed", "ผ่านเกณฑ์", "passed"))
FRAMEWORK_COLUMNS = columns(
    ("year_be", "ปี", "year"), ("version", "ฉบับที่", "version"), ("name_th", "ชื่อหลักเกณฑ์", "name"),
    ("synthetic", "ข้อมูลสาธิต", "synthetic"), ("imported_at", "นำเข้าเมื่อ", "imported at"))
TEAM_COLUMNS = columns(
    ("id", "รหัสทีม", "team id"), ("province_code", "จังหวัด", "province"), ("visit_on", "วันตรวจประเมิน", "visit on"),
    ("state", "สถานะ", "state"), ("unit_codes", "อปท. ที่ประเมิน", "LAOs"), ("people", "กรรมการ", "members"))
CHANGE_COLUMNS = columns(("kind", "การเปลี่ยนแปลง", "change"), ("code", "รหัส", "code"),
                         ("detail_th", "รายละเอียด", "detail"))


def viewer(user) -> dict:
    """What the assessments service decides an LPA read by (views.may_read)."""
    return {"unit_code": user["org_code"], "username": user["username"], "central": user["role"] == "central"}


def subtree_filter(user) -> dict:
    """A list narrowed to the caller's subtree: an LAO its own row, a district or provincial office its own."""
    role, code = user["role"], user["org_code"]
    if role == "lao":
        return {"unit_code": code}
    if role == "district":
        return {"district_code": code}
    if role in ("province", "reviewer"):
        return {"province_code": code}
    return {}


def narrowed(user, args, names=("province_code", "district_code", "unit_code")) -> dict:
    """The caller's filters, then its subtree's: an asked filter that contradicts the subtree gives
    ``None`` (the caller asked for units it cannot see: an empty list, as for every subtree list)."""
    asked = {name: args.get(name) or None for name in names}
    for name, value in subtree_filter(user).items():
        if asked.get(name) not in (None, value):
            return None
        asked[name] = value
    return asked


@dataclass(frozen=True)
class LpaVisible(Scope):
    """The assessment (or evidence) is looked up with the caller as viewer; what it may not read is not
    found (404), a write included (no hint that it exists)."""
    param: str = ""
    rpc: str = ""

    def check(self, service, user, request, args, write):
        return getattr(service.assessments, self.rpc)(args[self.param], viewer(user))

    def refusal(self, write: bool) -> int:
        return 404


@dataclass(frozen=True)
class FollowUpInSubtree(Scope):
    """A follow-up of an LAO within the caller's subtree (the LAO itself, its district or province)."""

    def check(self, service, user, request, args, write):
        found = service.assessments.lpa_follow_ups(**subtree_filter(user), follow_up_id=args["follow_up_id"], limit=1)
        if not found["items"]:
            raise out_of_scope("follow_up_id", write)
        return found["items"][0]


ASSESSMENT_VISIBLE = LpaVisible(
    "lpa-assessment-visible", "an LPA assessment the caller may read: the LAO's own, one within its district or "
    "province, one its team assesses, or any for central (else not found, 404, even for a write)",
    "แบบประเมิน LPA ที่ผู้ใช้มีสิทธิ์เห็น: ของ อปท. เอง ในสังกัด หรือที่ทีมของผู้ใช้ประเมิน", targets=True,
    param="assessment_id", rpc="lpa_assessment")
EVIDENCE_VISIBLE = LpaVisible(
    "lpa-evidence-visible", "evidence of an LPA assessment the caller may read (as for the assessment)",
    "หลักฐานของแบบประเมินที่ผู้ใช้มีสิทธิ์เห็น", targets=True, param="evidence_id", rpc="lpa_evidence")
FOLLOW_UP_IN_SUBTREE = FollowUpInSubtree(
    "lpa-follow-up-in-subtree", "a follow-up of the caller's LAO, or of an LAO within its district or province "
    "(the LAO writes the plan; the district or province closes it)", "รายการติดตามของ อปท. ของผู้ใช้หรือในสังกัด",
    targets=True)
TEAM_PROVINCE = Delegated(
    "lpa-team-province", "every LAO of the team lies in the caller's province (the assessments service refuses any "
    "other as forbidden, 403)", "อปท. ทุกแห่งของทีมต้องอยู่ในจังหวัดของผู้ใช้", targets=True)

SHEET_PROVINCE = Delegated(
    "lpa-sheet-province", "every row's LAO lies in the caller's province and has its finalised team (the assessments "
    "service refuses any other as forbidden, 403; all rows or none)",
    "ทุกแถวต้องเป็น อปท. ในจังหวัดของผู้ใช้ที่มีทีมประเมินแล้ว", targets=True)
SHEET_COLUMNS = ("unit_code", "indicator_code", "points", "comment")


def _score_sheet(request) -> dict:
    """A scoring sheet as JSON ({rows, finalise}) or CSV (columns unit_code, indicator_code, points, comment;
    ?finalise=1): rows are checked by the service, all or none."""
    if request.mimetype != "text/csv":
        return read_json(request)
    reader = csv.DictReader(io.StringIO(read_text(request, ("text/csv",))))
    if not reader.fieldnames or not {"unit_code", "indicator_code", "points"} <= set(reader.fieldnames):
        raise InputError("invalid", "body", "ไฟล์ต้องมีคอลัมน์ unit_code, indicator_code, points (comment ถ้ามี)",
                         "the file needs the columns unit_code, indicator_code, points (and comment)", status=422)
    rows = []
    for line in reader:
        row = {key: (line.get(key) or "").strip() for key in SHEET_COLUMNS}
        try:
            points = float(row["points"])
        except ValueError:
            raise InputError("invalid", f"rows[{len(rows)}].points", f"แถวที่ {len(rows) + 2}: คะแนนต้องเป็นตัวเลข",
                             f"line {len(rows) + 2}: points must be a number", status=422) from None
        rows.append({**row, "points": points, "comment": row["comment"] or None})
    return {"rows": rows, "finalise": request.args.get("finalise") in ("1", "true")}


def _framework_document(request) -> dict:
    """The framework as YAML (Content-Type application/x-yaml) or JSON; either the document itself or
    ``{"framework": <document>}``."""
    if request.mimetype in YAML_TYPES:
        try:
            document = yaml.safe_load(read_text(request, YAML_TYPES))
        except yaml.YAMLError as error:
            raise InputError("invalid", "body", f"อ่าน YAML ไม่ได้: {error}", f"not YAML: {error}", status=422) from None
    else:
        document = read_json(request)
    if not isinstance(document, dict):
        raise InputError("invalid", "framework", "หลักเกณฑ์ต้องเป็นเอกสาร (mapping)", "the framework must be a mapping",
                         status=422)
    return document.get("framework", document) if set(document) <= {"framework", "dry_run"} else document


def _year(year_be: int) -> int:
    if not 2549 <= year_be <= 2699:
        raise InputError("invalid", "year_be", "ปี พ.ศ. ต้องอยู่ระหว่าง 2549–2699", "year_be must be within 2549–2699",
                         status=422)
    return year_be


def _team_rows(items: list[dict]) -> list[dict]:
    return [{**team, "unit_codes": [a["unit_code"] for a in team.get("assessments", [])],
             "people": [f"{m['person']} ({m['role']})" for m in team.get("members", [])]} for team in items]


def public_results(reporting, year_be: int, args) -> dict:
    return reporting.lpa_results(year_be, province_code=args.get("province_code") or None,
                                 district_code=args.get("district_code") or None,
                                 lao_type=args.get("lao_type") or None, unit_code=args.get("unit_code") or None,
                                 public_only=True, limit=int_arg(args, "limit", 100), offset=int_arg(args, "offset", 0),
                                 sort=args.get("sort") or None)


SORTS = "percent|points|unit_code|province_code|district_code|lao_type|rank_province|rank_lao_type"
RESULT_PARAMS = [Param("province_code", CODE), Param("district_code", CODE), LAO_TYPE, Param("unit_code", CODE),
                 _limit(100, 1000), OFFSET,
                 Param("sort", {"type": "string", "pattern": f"^-?({SORTS})(,-?({SORTS}))*$"}, example="-percent,unit_code")]


class LpaRoutes:
    """Mixed into GatewayService (which provides ``self.assessments``, ``self.reporting``)."""

    # --- frameworks --------------------------------------------------------------------------------
    @route("POST", "/api/v1/lpa/frameworks", tag="lpa", th="นำเข้าหลักเกณฑ์การประเมิน LPA (YAML หรือ JSON)",
           en="Import a year's LPA framework (thongthin.lpa-framework/v1, YAML or JSON); dry_run=1 checks and "
              "shows the changes from the previous year only", scope=NATION, write=True, roles=("central",),
           params=[Param("dry_run", FLAG)],
           body={JSON: {"schema": {"type": "object", "description": "the framework document (or {framework: ...})"},
                        "example": {"format": "thongthin.lpa-framework/v1", "year_be": 2569}},
                 **{media: {"schema": {"type": "string"}} for media in YAML_TYPES}},
           ok={"200": ("the framework's summary and its changes", OBJECT)}, errors=LPA_WRITE_ERRORS + (415,))
    def lpa_import_framework(self, request, user):
        dry_run = request.args.get("dry_run") in ("1", "true")
        return 200, self.assessments.lpa_import_framework(
            {"framework": _framework_document(request), "dry_run": dry_run, "imported_by": user["username"]})

    @route("GET", "/api/v1/lpa/frameworks", tag="lpa", th="หลักเกณฑ์การประเมิน LPA รายปี", en="LPA frameworks by year",
           scope=EVERYONE, exports=True, ok={"200": ("newest first", OBJECT)}, errors=READ_ERRORS)
    def lpa_frameworks(self, request, user):
        export_format(request.args)
        result = self.assessments.lpa_frameworks()
        return 200, exported(request, result, result["items"], FRAMEWORK_COLUMNS, "lpa-frameworks")

    @route("GET", "/api/v1/lpa/frameworks/<int:year_be>", tag="lpa", th="หลักเกณฑ์ปีนี้เทียบกับปีก่อน",
           en="A year's framework, whole, with what changed from the previous year's (exports: the changes)",
           scope=EVERYONE, params=[YEAR], exports=True, ok={"200": ("the framework", OBJECT)},
           errors=(404,) + READ_ERRORS)
    def lpa_framework(self, request, user, year_be):
        export_format(request.args)
        result = self.assessments.lpa_framework(_year(year_be))
        return 200, exported(request, result, result["changes"], CHANGE_COLUMNS, f"lpa-framework-{year_be}-changes")

    # --- rounds ------------------------------------------------------------------------------------
    @route("POST", "/api/v1/lpa/rounds", tag="lpa", th="เปิดรอบการประเมิน LPA",
           en="Open the year's round for every LAO (or those under scope_code): one self-assessment obligation each",
           scope=NATION, write=True, roles=("central",),
           body=body(command(lpa_commands.OpenLpaRound, drop=("opened_by",)),
                     {"year_be": 2569, "self_due_at": "2027-01-31T16:30:00+07:00", "visit_from": "2027-02-01",
                      "visit_to": "2027-03-31", "publish_on": "2027-04-30"}),
           ok={"201": ("opened", OBJECT)}, errors=LPA_WRITE_ERRORS, target="lpa_round")
    def lpa_open_round(self, request, user):
        payload = read_json(request)
        payload["opened_by"] = user["username"]
        return 201, self.assessments.lpa_open_round(payload)

    @route("GET", "/api/v1/lpa/rounds", tag="lpa", th="รอบการประเมิน LPA และความคืบหน้า",
           en="LPA rounds with their progress (LAOs, self-assessed, late, with a team, finalised, passed)",
           scope=EVERYONE, exports=True, ok={"200": ("newest first", OBJECT)}, errors=READ_ERRORS)
    def lpa_rounds(self, request, user):
        export_format(request.args)
        result = self.assessments.lpa_rounds()
        return 200, exported(request, result, result["items"], ROUND_COLUMNS, "lpa-rounds")

    @route("GET", "/api/v1/lpa/rounds/<int:year_be>", tag="lpa", th="รอบการประเมินปีนี้",
           en="One round with its progress", scope=EVERYONE, params=[YEAR], ok={"200": ("the round", OBJECT)},
           errors=(404,) + READ_ERRORS)
    def lpa_round(self, request, user, year_be):
        return 200, self.assessments.lpa_round(_year(year_be))

    @route("GET", "/api/v1/lpa/rounds/<int:year_be>/checklist", tag="lpa", th="รายการตรวจสอบ อปท. ในรอบการประเมิน",
           en="Where each LAO stands (own row for an LAO, own district or province, everything for central)",
           scope=SUBTREE_LIST, roles=("central", "province", "district", "lao", "reviewer"),
           params=[YEAR, Param("province_code", CODE), Param("district_code", CODE), Param("unit_code", CODE),
                   Param("self_state", {"type": "string", "enum": ["draft", "submitted"]}),
                   Param("score_state", {"type": "string", "enum": ["pending", "draft", "finalised", "returned"]}),
                   _limit(100, 1000), OFFSET],
           exports=True, ok={"200": ("by province, district, LAO", OBJECT)}, errors=(404,) + READ_ERRORS)
    def lpa_checklist(self, request, user, year_be):
        args = request.args
        export_format(args)
        where = narrowed(user, args)
        if where is None:
            result = {"year_be": year_be, "total": 0, "limit": 0, "offset": 0, "items": []}
        else:
            result = self.assessments.lpa_checklist(
                _year(year_be), **where, self_state=args.get("self_state") or None,
                score_state=args.get("score_state") or None, limit=int_arg(args, "limit", 100),
                offset=int_arg(args, "offset", 0))
        return 200, exported(request, result, result["items"], CHECKLIST_COLUMNS, f"lpa-checklist-{year_be}")

    @route("POST", "/api/v1/lpa/rounds/<int:year_be>/publish", tag="lpa", th="ประกาศผลการประเมิน LPA",
           en="Publish the round (every LAO finalised): ranks, and a follow-up per weak area; public on publish_on",
           scope=NATION, write=True, roles=("central",), params=[YEAR], body_required=False,
           ok={"200": ("published", OBJECT)}, errors=LPA_WRITE_ERRORS, target="lpa_round:{year_be}")
    def lpa_publish(self, request, user, year_be):
        return 200, self.assessments.lpa_publish({"year_be": _year(year_be), "published_by": user["username"]})

    # --- one assessment: self-assessment, evidence, scores, return --------------------------------------
    @route("GET", "/api/v1/lpa/assessments/<string:assessment_id>", tag="lpa", th="แบบประเมิน LPA ของ อปท.",
           en="One LAO's assessment: each indicator with its scale, the claim, note and evidence, the team's score "
              "and last year's", scope=ASSESSMENT_VISIBLE, roles=("central", "province", "district", "lao", "reviewer"),
           params=[_path("assessment_id")], ok={"200": ("the assessment", OBJECT)}, errors=(404,) + READ_ERRORS)
    def lpa_assessment(self, request, user, assessment_id):
        return 200, request.target

    @route("POST", "/api/v1/lpa/assessments/<string:assessment_id>/self-assessment", tag="lpa",
           th="บันทึกหรือส่งแบบประเมินตนเอง", en="The LAO saves its claims as a draft, or submits them (submit: true)",
           scope=ASSESSMENT_VISIBLE, write=True, roles=("lao",), params=[_path("assessment_id")],
           body=body(command(lpa_commands.SaveSelfAssessment, drop=("assessment_id", "unit_code", "submitted_by")),
                     {"entries": [{"indicator_code": "A1.1", "claimed_points": 2, "note": "มีประกาศแล้ว"}],
                      "submit": False}),
           ok={"200": ("saved", OBJECT)}, errors=LPA_WRITE_ERRORS, target="lpa_assessment:{assessment_id}")
    def lpa_save_self_assessment(self, request, user, assessment_id):
        payload = read_json(request)
        payload.update(assessment_id=assessment_id, unit_code=user["org_code"], submitted_by=user["username"])
        return 200, self.assessments.lpa_save_self_assessment(payload)

    @route("POST", "/api/v1/lpa/assessments/<string:assessment_id>/evidence", tag="lpa", th="แนบหลักฐาน (ไฟล์หรือลิงก์)",
           en="Attach evidence to one indicator: a file (base64, at most 5 MB) or a link", scope=ASSESSMENT_VISIBLE,
           write=True, roles=("lao",), params=[_path("assessment_id")],
           body=body(command(lpa_commands.AddLpaEvidence, drop=("assessment_id", "unit_code", "uploaded_by")),
                     {"indicator_code": "A1.1", "url": "https://example.go.th/ประกาศ.pdf"}),
           ok={"201": ("stored", OBJECT)}, errors=LPA_WRITE_ERRORS, target="lpa_assessment:{assessment_id}")
    def lpa_add_evidence(self, request, user, assessment_id):
        payload = read_json(request)
        payload.update(assessment_id=assessment_id, unit_code=user["org_code"], uploaded_by=user["username"])
        return 201, self.assessments.lpa_add_evidence(payload)

    @route("GET", "/api/v1/lpa/evidence/<string:evidence_id>", tag="lpa", th="เปิดหลักฐาน",
           en="A piece of evidence: the file with its own Content-Type, or a redirect to the link",
           scope=EVIDENCE_VISIBLE, roles=("central", "province", "district", "lao", "reviewer"),
           params=[_path("evidence_id")],
           ok={"200": ("the file", ("*/*", {"type": "string", "format": "binary"})), "302": ("the link", OBJECT)},
           errors=(404,) + READ_ERRORS)
    def lpa_evidence(self, request, user, evidence_id):
        item = request.target
        if item.get("url"):
            return 200, Response(status=302, headers={"Location": item["url"], "Cache-Control": "no-store"})
        quoted = urllib.parse.quote(item["filename"] or "evidence")
        return 200, Response(base64.b64decode(item["content_base64"]), status=200, headers={
            "Content-Type": item["content_type"] or "application/octet-stream",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}", "X-Content-Type-Options": "nosniff"})

    @route("POST", "/api/v1/lpa/assessments/<string:assessment_id>/scores", tag="lpa", th="ให้คะแนน (ทีมประเมิน)",
           en="A team member records scores; the lead finalises (finalise: true)", scope=ASSESSMENT_VISIBLE,
           write=True, roles=("central", "province", "district", "reviewer"), params=[_path("assessment_id")],
           body=body(command(lpa_commands.ScoreLpa, drop=("assessment_id", "scorer")),
                     {"scores": [{"indicator_code": "A1.1", "points": 2, "comment": "ตรวจเอกสารแล้ว"}],
                      "finalise": False}),
           ok={"200": ("saved", OBJECT)}, errors=LPA_WRITE_ERRORS, target="lpa_assessment:{assessment_id}")
    def lpa_score(self, request, user, assessment_id):
        payload = read_json(request)
        payload.update(assessment_id=assessment_id, scorer=user["username"])
        return 200, self.assessments.lpa_score(payload)

    @route("POST", "/api/v1/lpa/assessments/<string:assessment_id>/return", tag="lpa", th="ส่งกลับให้ทีมแก้ไข",
           en="DLA returns a finalised assessment to its team for correction (before publication)",
           scope=ASSESSMENT_VISIBLE, write=True, roles=("central",), params=[_path("assessment_id")],
           body=body(command(lpa_commands.ReturnLpaAssessment, drop=("assessment_id", "returned_by")),
                     {"reason": "คะแนนตัวชี้วัด A1.1 ไม่ตรงกับหลักฐาน"}),
           ok={"200": ("returned", OBJECT)}, errors=LPA_WRITE_ERRORS, target="lpa_assessment:{assessment_id}")
    def lpa_return(self, request, user, assessment_id):
        payload = read_json(request)
        payload.update(assessment_id=assessment_id, returned_by=user["username"])
        return 200, self.assessments.lpa_return(payload)

    # --- teams -------------------------------------------------------------------------------------
    @route("POST", "/api/v1/lpa/rounds/<int:year_be>/teams", tag="lpa", th="ตั้งทีมประเมิน",
           en="The provincial office forms (or, with team_id, changes) a team; finalise checks the rules (a "
              "community leader, enough members, no one from the LAO assessed)", scope=TEAM_PROVINCE, write=True,
           roles=("province", "central"), params=[YEAR],
           body=body(command(lpa_commands.FormLpaTeam, drop=("year_be", "province_code", "formed_by")),
                     {"unit_codes": ["LAO-180101"], "visit_on": "2027-02-10", "finalise": True,
                      "members": [{"person": "chainat", "role": "lead", "unit_code": "PLO-09"},
                                  {"person": "muang-chainat", "role": "member", "unit_code": "DLO-0115"},
                                  {"person": "นายสมชาย ใจดี", "role": "community_leader", "name_th": "นายสมชาย ใจดี"}]}),
           ok={"201": ("formed", OBJECT)}, errors=LPA_WRITE_ERRORS, target="lpa_round:{year_be}")
    def lpa_form_team(self, request, user, year_be):
        payload = read_json(request)
        payload.update(year_be=_year(year_be), province_code=user["org_code"], formed_by=user["username"])
        return 201, self.assessments.lpa_form_team(payload)

    @route("POST", "/api/v1/lpa/rounds/<int:year_be>/score-sheets", tag="lpa", th="นำเข้าแบบบันทึกคะแนนของทีม",
           en="The provincial office (central for an LAO outside every province) keys in its teams' scoring sheets "
              "at once (JSON rows, or CSV with unit_code, indicator_code, points, comment); all rows or none; "
              "finalise finalises every LAO fully scored",
           scope=SHEET_PROVINCE, write=True, roles=("province", "central"), params=[YEAR, Param("finalise", FLAG,
                                                                                        description="CSV: finalise")],
           body={**body(command(lpa_commands.ImportLpaScores, drop=("year_be", "province_code", "imported_by")),
                        {"rows": [{"unit_code": "LAO-180101", "indicator_code": "MGMT-01", "points": 13.5}],
                         "finalise": False}),
                 "text/csv": {"schema": {"type": "string"},
                              "example": "unit_code,indicator_code,points,comment\nLAO-180101,MGMT-01,13.5,\n"}},
           ok={"200": ("imported", OBJECT)}, errors=LPA_WRITE_ERRORS + (415,), target="lpa_round:{year_be}")
    def lpa_import_scores(self, request, user, year_be):
        payload = _score_sheet(request)
        payload.update(year_be=_year(year_be), province_code=user["org_code"], imported_by=user["username"])
        return 200, self.assessments.lpa_import_scores(payload)

    @route("GET", "/api/v1/lpa/rounds/<int:year_be>/teams", tag="lpa", th="ทีมประเมิน",
           en="Teams: a provincial office's own, central's all (or of province_code), anyone's the teams they sit on "
              "(mine=1, and always for other roles)", scope=SUBTREE_LIST,
           roles=("central", "province", "district", "lao", "reviewer"),
           params=[YEAR, Param("province_code", CODE), Param("mine", FLAG)], exports=True,
           ok={"200": ("by visit day", OBJECT)}, errors=(404,) + READ_ERRORS)
    def lpa_teams(self, request, user, year_be):
        args = request.args
        export_format(args)
        mine = args.get("mine") in ("1", "true") or user["role"] not in ("central", "province")
        province = user["org_code"] if user["role"] == "province" else args.get("province_code") or None
        result = self.assessments.lpa_teams(_year(year_be), province_code=None if mine else province,
                                            person=user["username"] if mine else None)
        return 200, exported(request, result, _team_rows(result["items"]), TEAM_COLUMNS, f"lpa-teams-{year_be}")

    # --- follow-ups --------------------------------------------------------------------------------
    @route("GET", "/api/v1/lpa/follow-ups", tag="lpa", th="การติดตามด้านที่ต้องพัฒนา",
           en="Follow-ups of weak areas (own for an LAO, own district or province, all for central)",
           scope=SUBTREE_LIST, roles=("central", "province", "district", "lao", "reviewer"),
           params=[Param("province_code", CODE), Param("district_code", CODE), Param("unit_code", CODE),
                   Param("state", {"type": "string", "enum": ["open", "closed"]}), _limit(100, 1000), OFFSET],
           exports=True, ok={"200": ("by due time", OBJECT)}, errors=READ_ERRORS)
    def lpa_follow_ups(self, request, user):
        args = request.args
        export_format(args)
        where = narrowed(user, args)
        if where is None:
            result = {"total": 0, "limit": 0, "offset": 0, "items": []}
        else:
            result = self.assessments.lpa_follow_ups(**where, state=args.get("state") or None,
                                                     limit=int_arg(args, "limit", 100), offset=int_arg(args, "offset", 0))
        return 200, exported(request, result, result["items"], FOLLOW_UP_COLUMNS, "lpa-follow-ups")

    @route("POST", "/api/v1/lpa/follow-ups/<string:follow_up_id>", tag="lpa", th="แผนพัฒนาหรือปิดรายการติดตาม",
           en="The LAO writes its improvement plan (plan_th); its district or province closes the follow-up (close)",
           scope=FOLLOW_UP_IN_SUBTREE, write=True, roles=("lao", "district", "province"),
           params=[_path("follow_up_id")],
           body=body(command(lpa_commands.SaveFollowUpPlan, drop=("follow_up_id", "unit_code")),
                     {"plan_th": "จัดอบรมเจ้าหน้าที่และปรับขั้นตอนการเปิดเผยข้อมูล"}),
           ok={"200": ("saved", OBJECT)}, errors=LPA_WRITE_ERRORS, target="lpa_follow_up:{follow_up_id}")
    def lpa_save_follow_up(self, request, user, follow_up_id):
        payload = read_json(request)
        payload.update(follow_up_id=follow_up_id, unit_code=user["org_code"])
        return 200, self.assessments.lpa_save_follow_up(payload)

    # --- results and summaries (reporting's read models) ----------------------------------------------
    @route("GET", "/api/v1/lpa/rounds/<int:year_be>/results", tag="lpa", th="ผลการประเมิน LPA",
           en="Results per LAO (by area, total, pass, ranks, change from last year): central all, an office its own "
              "subtree; an LAO every published result, before publication its own row only", scope=SUBTREE_LIST,
           roles=("central", "province", "district", "lao", "reviewer"), params=[YEAR, *RESULT_PARAMS], exports=True,
           ok={"200": ("by percent", OBJECT)}, errors=(404,) + READ_ERRORS)
    def lpa_results(self, request, user, year_be):
        args = request.args
        export_format(args)
        page = {"lao_type": args.get("lao_type") or None, "limit": int_arg(args, "limit", 100),
                "offset": int_arg(args, "offset", 0), "sort": args.get("sort") or None}
        result = None
        if user["role"] == "lao":   # once public, every LAO's result; before, its own row only
            try:
                result = self.reporting.lpa_results(_year(year_be), **{n: args.get(n) or None for n in (
                    "province_code", "district_code", "unit_code")}, public_only=True, **page)
            except InputError as error:
                if error.status != 404:
                    raise
        if result is None:
            where = narrowed(user, args)
            result = {"year_be": year_be, "total": 0, "items": []} if where is None else \
                self.reporting.lpa_results(_year(year_be), **where, public_only=False, **page)
        return 200, exported(request, result, result["items"], RESULT_COLUMNS, f"lpa-results-{year_be}")

    @route("GET", "/api/v1/lpa/rounds/<int:year_be>/summary", tag="lpa", th="สรุปผลการประเมิน LPA",
           en="Summary of a round for a unit (default: the caller's; the nation for central): progress, pass rate, "
              "mean, distribution", scope=REPORT_UNIT, roles=("central", "province", "district", "lao", "reviewer"),
           params=[YEAR, Param("unit_code", CODE, description="default: the caller's unit")],
           ok={"200": ("the summary", OBJECT)}, errors=(404,) + READ_ERRORS)
    def lpa_summary(self, request, user, year_be):
        unit_code = request.args.get("unit_code") or (None if user["role"] == "central" else user["org_code"])
        year = _year(year_be)
        return 200, {**self.reporting.lpa_summary(year, unit_code=unit_code), "synthetic": self._synthetic(year)}

    # --- public: no login --------------------------------------------------------------------------
    @route("GET", "/api/v1/public/lpa/<int:year_be>/results", tag="public", th="ผลการประเมิน LPA (สาธารณะ)",
           en="Published results per LAO, without logging in (from the publication day; before it: 404); "
              "?format=csv|xlsx for the file", scope=PUBLIC, params=[YEAR, *RESULT_PARAMS], exports=True,
           ok={"200": ("by percent", OBJECT)}, errors=(404, 422, 502))
    def lpa_public_results(self, request, year_be):
        return self._public(request, lambda: self._public_results(request, year_be))

    @route("GET", "/api/v1/public/lpa/<int:year_be>/summary", tag="public", th="สรุปผลการประเมิน LPA (สาธารณะ)",
           en="The published round's national summary and distribution, without logging in (before publication: "
              "404)", scope=PUBLIC, params=[YEAR, Param("unit_code", CODE, description="a province or district")],
           ok={"200": ("the summary", OBJECT)}, errors=(404, 422, 502))
    def lpa_public_summary(self, request, year_be):
        def answer():
            year = _year(year_be)   # 404 unless published and its day has come
            summary = self.reporting.lpa_summary(year, unit_code=request.args.get("unit_code") or None, public_only=True)
            return {**summary, "synthetic": self._synthetic(year)}
        return self._public(request, answer)

    def _synthetic(self, year_be: int) -> bool:
        """Whether the year's framework is demo data (the pages say so); kept a few minutes per year, so a
        public page costs one call to reporting."""
        cached = _SYNTHETIC.get(year_be)
        if cached is not None and time.monotonic() - cached[0] < SYNTHETIC_CACHE_S:
            return cached[1]
        try:
            synthetic = bool(self.assessments.lpa_framework(year_be).get("synthetic"))
        except InputError:
            synthetic = False
        _SYNTHETIC[year_be] = (time.monotonic(), synthetic)
        return synthetic

    @route("GET", "/public/lpa/<int:year_be>", tag="public", th="หน้าผลการประเมิน LPA (สาธารณะ)",
           en="The light public results page (Thai first; for a phone)", scope=PUBLIC, documented=False)
    def lpa_public_page(self, request, year_be):
        return Response(PUBLIC_PAGE.read_bytes(), status=200, content_type="text/html; charset=utf-8", headers={
            "Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"})

    def _public_results(self, request, year_be):
        fmt = export_format(request.args)
        if fmt == "json":
            return public_results(self.reporting, _year(year_be), request.args)
        return file_response(self._every_public_result(request.args, year_be), RESULT_COLUMNS,
                             f"lpa-results-{year_be}", fmt, request.args.get("lang") or "th")

    def _every_public_result(self, args, year_be: int) -> list[dict]:
        """A file holds every row asked for (reporting answers 1,000 at a time), unless a page is asked."""
        if "limit" in args or "offset" in args:
            return public_results(self.reporting, _year(year_be), args)["items"]
        rows, offset = [], 0
        while True:
            page = public_results(self.reporting, _year(year_be), {**args, "limit": "1000", "offset": str(offset)})
            rows += page["items"]
            offset += 1000
            if offset >= page["total"] or not page["items"]:
                return rows

    def _public(self, request, answer):
        """A public answer: problems as problem+json, results cacheable for a few minutes."""
        try:
            result = answer()
        except InputError as error:
            return problem(error)
        except Exception as error:  # noqa: BLE001 - a service that failed: 502/503 as for signed-in routes
            if (upstream := upstream_response(error, self.context)) is None:
                raise
            return upstream[0], upstream[1], upstream[2]
        if isinstance(result, Response):
            return result
        status, headers, text = json_response(200, result)
        return status, {**headers, "Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}, text
