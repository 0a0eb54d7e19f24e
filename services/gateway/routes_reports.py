"""Gateway routes of the reporting service: dashboards as JSON, and every table as CSV or XLSX.

    compliance           GET /api/v1/reports/compliance              (unit_code, period, rule_id, lao_type)
    heatmap / trend      GET /api/v1/reports/compliance/matrix       (unit_code, periods | kind, rule_id)
    cascade              GET /api/v1/reports/directives/<id>/cascade (unit_code, table)
    per directive        GET /api/v1/reports/directives/<id>/compliance
    achievement          GET /api/v1/reports/achievement             (indicator_code, fiscal_year, unit_code, plan_id)
    reminders            GET /api/v1/reports/notifications           (unit_code, period)
    overdue              GET /api/v1/reports/overdue                 (unit_code, limit, offset, sort)

Every read is limited to the caller's subtree: without ``unit_code`` a report looks at the caller's
own unit (the nation for central and ops); a unit outside the subtree answers 404, as elsewhere.
``?format=csv|xlsx`` (``&lang=en`` for English headers) turns the report's table into a file.
"""
from __future__ import annotations

import re
from datetime import datetime

from services.gateway.exports import columns, export_format, exported
from services.gateway.http import int_arg
from shared.calendar import parse_period
from services.gateway.routes_plans import DIRECTIVE_VISIBLE
from services.gateway.routing import REPORT_UNIT, AllOf, Param, route
from services.gateway.schemas import (MAX_PERIODS, OFFSET, PERIOD_PARAM, PERIODS_OF_ONE_KIND, READ_ERRORS, UNIT_PARAM,
                                      AchievementReport, CascadeReport, Compliance, ComplianceMatrix, ComplianceReport, NotificationEffectiveness,
                                      OverdueReport, _limit, _path, _sort)
from shared.errors import InputError, invalid
from shared.thai import BANGKOK, fiscal_year_be
from shared.vocabulary import LAO_TYPES

UNIT_CODE = re.compile(r"[A-Za-z0-9_.-]{1,32}")

COUNTS = (("expected", "ต้องรายงาน", "expected"), ("due", "ถึงกำหนดแล้วหรือส่งแล้ว", "due or submitted"),
          ("on_time", "ตรงเวลา", "on time"), ("late", "ล่าช้า", "late"),
          ("missing", "ไม่ส่ง", "missing"), ("pending", "ยังไม่ถึงกำหนด", "pending"),
          ("extended", "ขยายเวลา", "extended"), ("returned", "ส่งกลับแก้ไข", "returned"),
          ("on_time_rate", "อัตราตรงเวลา (0-1)", "on-time rate (0-1)"),
          ("reported_rate", "อัตราการส่ง (0-1)", "reported rate (0-1)"))
COMPLIANCE_COLUMNS = columns(("code", "รหัสหน่วยงาน", "unit code"), ("name_th", "ชื่อหน่วยงาน", "unit name"),
                             ("level", "ระดับ", "level"), ("lao_type", "ประเภท อปท.", "LAO type"), *COUNTS)
# An LAO's own report: one row per obligation.
OBLIGATION_STATUS_COLUMNS = columns(("obligation_id", "รหัสภาระการรายงาน", "obligation id"),
                                    ("rule_id", "รหัสกฎการรายงาน", "rule id"), ("period", "งวด", "period"),
                                    ("indicator_name_th", "ตัวชี้วัด", "indicator"),
                                    ("due_at", "กำหนดส่ง", "due at"), ("submitted_at", "ส่งเมื่อ", "submitted at"),
                                    ("status", "สถานะ", "status"))
# The cascade's figures (shared/cascade.py, docs/reporting.md Definitions), durations in seconds.
CASCADE_LEVEL_COLUMNS = columns(("level", "ระดับ", "level"), ("units", "จำนวนหน่วยงาน", "units"),
                                ("received", "ได้รับ", "received"), ("acknowledged", "ลงรับ", "acknowledged"),
                                ("forwarded", "ส่งต่อ", "forwarded"),
                                ("acknowledgement_rate", "อัตราการลงรับ (0-1)", "acknowledgement rate (0-1)"),
                                ("median_hop_s", "เวลาส่งต่อมัธยฐาน (วินาที)", "median hop (s)"),
                                ("max_hop_s", "เวลาส่งต่อสูงสุด (วินาที)", "longest hop (s)"),
                                ("median_acknowledge_s", "เวลาจนลงรับมัธยฐาน (วินาที)", "median time to acknowledge (s)"),
                                ("max_acknowledge_s", "เวลาจนลงรับสูงสุด (วินาที)", "longest time to acknowledge (s)"))
CASCADE_UNIT_COLUMNS = columns(("unit_code", "รหัสหน่วยงาน", "unit code"), ("name_th", "ชื่อหน่วยงาน", "unit name"),
                               ("level", "ระดับ", "level"), ("forwarded_by", "หน่วยงานที่ส่งต่อ", "forwarded by"),
                               ("assigned_at", "ส่งถึงเมื่อ", "sent at"), ("received_at", "ได้รับเมื่อ", "received at"),
                               ("acknowledged_at", "ลงรับเมื่อ", "acknowledged at"),
                               ("forwarded_at", "ส่งต่อเมื่อ", "forwarded at"),
                               ("hop_s", "เวลาส่งต่อถึง (วินาที)", "hop (s)"),
                               ("acknowledge_s", "เวลาจนลงรับ (วินาที)", "time to acknowledge (s)"),
                               ("state", "สถานะ", "state"))
DIRECTIVE_COMPLIANCE_COLUMNS = columns(("unit_code", "รหัสหน่วยงาน", "unit code"),
                                       ("report_status", "สถานะการรายงาน", "report status"),
                                       ("assigned_at", "ได้รับเมื่อ", "assigned at"),
                                       ("acknowledged_at", "ลงรับเมื่อ", "acknowledged at"),
                                       ("due_at", "กำหนดส่ง", "due at"), ("submitted_at", "ส่งเมื่อ", "submitted at"),
                                       ("missed_at", "พบว่าไม่ส่งเมื่อ", "missed at"),
                                       ("reminders_sent", "เตือนแล้ว (ครั้ง)", "reminders sent"),
                                       ("escalations_sent", "แจ้งผู้บังคับบัญชา (ครั้ง)", "escalations sent"))
ACHIEVEMENT_COLUMNS = columns(("code", "รหัสหน่วยงาน", "unit code"), ("name_th", "ชื่อหน่วยงาน", "unit name"),
                              ("level", "ระดับ", "level"), ("actual", "ผลการดำเนินงาน", "actual"),
                              ("target", "ค่าเป้าหมาย", "target"), ("status", "สถานะ", "status"))
TREND_COLUMNS = columns(("period", "งวด", "period"), ("actual", "ผลการดำเนินงาน", "actual"),
                        ("target", "ค่าเป้าหมาย", "target"))
NOTIFICATION_COLUMNS = columns(("kind", "ประเภท", "kind"), ("step", "ขั้น", "step"), ("channel", "ช่องทาง", "channel"),
                               ("sent", "ส่งแล้ว", "sent"), ("failed", "ส่งไม่สำเร็จ", "failed"),
                               ("late", "ส่งช้ากว่ากำหนด", "late"),
                               ("submitted_after", "ส่งรายงานหลังได้รับ", "submitted after"),
                               ("median_s_to_submission", "เวลามัธยฐานจนส่งรายงาน (วินาที)",
                                "median time to submission (s)"))
OVERDUE_COLUMNS = columns(("unit_code", "รหัสหน่วยงาน", "unit code"), ("name_th", "ชื่อหน่วยงาน", "unit name"),
                          ("district_code", "รหัสอำเภอ", "district code"),
                          ("province_code", "รหัสจังหวัด", "province code"),
                          ("indicator_code", "รหัสตัวชี้วัด", "indicator code"),
                          ("indicator_name_th", "ตัวชี้วัด", "indicator"), ("period", "งวด", "period"),
                          ("due_at", "กำหนดส่ง", "due at"), ("days_late", "เลยกำหนด (วัน)", "days late"),
                          ("reminders_sent", "เตือนแล้ว (ครั้ง)", "reminders sent"),
                          ("obligation_id", "รหัสภาระการรายงาน", "obligation id"),
                          ("directive_id", "รหัสข้อสั่งการ", "directive id"))


DIRECTIVE_REPORT = AllOf("directive-report", "a directive the caller may read, seen from a unit_code within the "
                                             "caller's subtree", "ข้อสั่งการที่ผู้ใช้อ่านได้ ดูจากหน่วยงานในสังกัด",
                         targets=True, rules=(DIRECTIVE_VISIBLE, REPORT_UNIT))


def _text(args, name: str, max_length: int = 64) -> str | None:
    value = args.get(name)
    if value is None or value == "":
        return None
    if len(value) > max_length or not value.strip():
        raise invalid(name, f"{name} ยาวเกิน {max_length} ตัวอักษรหรือว่าง", f"{name} is empty or longer than {max_length}")
    return value.strip()


def _period(args, name: str = "period") -> str | None:
    value = _text(args, name, 32)  # "ธันวาคม พ.ศ. 2569" and the like: the grammar decides
    return parse_period(value, name) if value else None


def _periods(args) -> list[str] | None:
    value = _text(args, "periods", 400)  # 36 labels such as FY2569-Q1 and their commas
    if not value:
        return None
    labels = [parse_period(part, "periods") for part in value.split(",") if part.strip()]
    if not labels or len(labels) > MAX_PERIODS:
        raise invalid("periods", f"ระบุงวดได้ 1 ถึง {MAX_PERIODS} งวด คั่นด้วยจุลภาค เช่น 2569-01,2569-02",
                      f"give 1 to {MAX_PERIODS} periods separated by commas, e.g. 2569-01,2569-02")
    return list(dict.fromkeys(labels))


def _matrix_columns(periods: list[str]):
    return columns(("code", "รหัสหน่วยงาน", "unit code"), ("name_th", "ชื่อหน่วยงาน", "unit name"),
                   *[(f"cells.{period}", f"{period} อัตราตรงเวลา", f"{period} on-time rate") for period in periods])


def _safe(text: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text or "")


class ReportsRoutes:
    """Mixed into GatewayService (which provides ``self.reporting``, ``self._scope``, ``self._require_in_scope``)."""

    def _report_unit(self, user, args) -> str | None:
        """The unit a report looks at: the caller's own by default (None = the nation), else one in scope."""
        export_format(args)  # a wrong format is refused before any work
        code = args.get("unit_code")
        if not code:
            return None if user["role"] in ("central", "ops") else user["org_code"]
        if not UNIT_CODE.fullmatch(code):
            raise invalid("unit_code", "รหัสหน่วยงานไม่ถูกต้อง เช่น PLO-09, DLO-0115, LAO-180101",
                          "unit_code is not a unit code such as PLO-09, DLO-0115, LAO-180101")
        self._require_in_scope(user, code)
        return code

    @route("GET", "/api/v1/reports/compliance", tag="reports", th="การรายงานตรงเวลา ตามลำดับชั้น",
           en="On time, late, missing per child unit of a unit (nation → province → district → LAO)",
           scope=REPORT_UNIT,
           description="Without unit_code: the caller's own unit (the nation for central and ops). A unit outside "
                       "the caller's subtree answers 404. The file holds the children table.",
           params=[UNIT_PARAM, PERIOD_PARAM, Param("rule_id", {"type": "string", "maxLength": 64}),
                   Param("lao_type", {"type": "string", "enum": list(LAO_TYPES)})],
           exports=True, ok={"200": ("totals and children", ComplianceReport)}, errors=(400, 404, 422) + READ_ERRORS)
    def report_compliance(self, request, user):
        args = request.args
        lao_type = args.get("lao_type") or None
        if lao_type is not None and lao_type not in LAO_TYPES:
            raise invalid("lao_type", "ประเภท อปท. ต้องเป็นหนึ่งใน " + ", ".join(LAO_TYPES),
                          "lao_type must be one of " + ", ".join(LAO_TYPES))
        unit_code = self._report_unit(user, args)
        period, rule_id = _period(args), _text(args, "rule_id")
        report = self.reporting.compliance(unit_code=unit_code, period=period, rule_id=rule_id, lao_type=lao_type)
        by_obligation = (report.get("unit") or {}).get("level") == "lao"
        return 200, exported(request, report, report["children"],
                             OBLIGATION_STATUS_COLUMNS if by_obligation else COMPLIANCE_COLUMNS,
                             f"compliance-{_safe(unit_code or 'nation')}-{_safe(period or 'all')}")

    @route("GET", "/api/v1/reports/compliance/matrix", tag="reports", th="อัตราการรายงานตรงเวลา หน่วยงาน × งวด",
           en="On-time rate per child unit and period (heatmap, trend)", scope=REPORT_UNIT,
           params=[UNIT_PARAM, Param("periods", {"type": "string", "maxLength": 400, "pattern": PERIODS_OF_ONE_KIND},
                                     description="comma-separated period labels of one kind (at most 36), shown "
                                             "chronologically; default: the last 12 of `kind` (given with `periods`, "
                                             "`kind` must be theirs)",
                                     example="2569-01,2569-02"),
                   Param("kind", {"type": "string", "enum": ["month", "quarter", "year"]},
                         description="without periods: months (default when any), quarters or fiscal years"),
                   Param("rule_id", {"type": "string", "maxLength": 64})],
           exports=True, ok={"200": ("children × periods", ComplianceMatrix)}, errors=(400, 404, 422) + READ_ERRORS)
    def report_compliance_matrix(self, request, user):
        args = request.args
        unit_code = self._report_unit(user, args)
        report = self.reporting.compliance_matrix(unit_code=unit_code, periods=_periods(args),
                                                  rule_id=_text(args, "rule_id"), kind=_text(args, "kind", 16))
        return 200, exported(request, report, report["rows"], _matrix_columns(report["periods"]),
                             f"compliance-matrix-{_safe(unit_code or 'nation')}")

    @route("GET", "/api/v1/reports/directives/<string:directive_id>/cascade", tag="reports",
           th="ความเร็วการส่งต่อข้อสั่งการ",
           en="Cascade per level: received, acknowledged, forwarded, hop times, slowest hops", scope=DIRECTIVE_REPORT,
           params=[_path("directive_id"), UNIT_PARAM,
                   Param("table", {"type": "string", "enum": ["levels", "units", "slowest_hops"], "default": "levels"},
                         description="which table a file holds")],
           exports=True, ok={"200": ("levels, units, slowest hops", CascadeReport)},
           errors=(400, 404, 422) + READ_ERRORS)
    def report_cascade(self, request, user, directive_id):
        args = request.args
        table = args.get("table") or "levels"
        if table not in ("levels", "units", "slowest_hops"):
            raise invalid("table", "table ต้องเป็น levels, units หรือ slowest_hops",
                          "table must be levels, units or slowest_hops")
        unit_code = self._report_unit(user, args)
        report = self.reporting.cascade(directive_id, unit_code=unit_code)
        return 200, exported(request, report, report[table],
                             CASCADE_LEVEL_COLUMNS if table == "levels" else CASCADE_UNIT_COLUMNS,
                             f"cascade-{_safe(directive_id)[:40]}-{table}")

    @route("GET", "/api/v1/reports/directives/<string:directive_id>/compliance", tag="reports",
           th="การรายงานตามข้อสั่งการ", en="On time / late / missed / pending per LAO (the file: one row per unit)",
           scope=DIRECTIVE_VISIBLE, params=[_path("directive_id")], exports=True,
           ok={"200": ("compliance", Compliance)}, errors=(404,) + READ_ERRORS)
    def directive_compliance(self, request, user, directive_id):
        report = self.reporting.directive_compliance(directive_id, self._scope(user))
        return 200, exported(request, report, report["units"], DIRECTIVE_COMPLIANCE_COLUMNS,
                             f"directive-compliance-{_safe(directive_id)[:40]}")

    @route("GET", "/api/v1/reports/achievement", tag="reports", th="ผลเทียบค่าเป้าหมาย ตามหน่วยงาน",
           en="One indicator: actual vs target per child unit, and the unit's trend over the periods",
           scope=REPORT_UNIT,
           params=[Param("indicator_code", {"type": "string", "minLength": 1, "maxLength": 64}, required=True,
                         example="DISB-PCT"),
                   Param("fiscal_year", {"type": "integer", "minimum": 2400, "maximum": 2699},
                         description="Buddhist-era fiscal year (default: the current one)", example=2569),
                   UNIT_PARAM, Param("plan_id", {"type": "string", "maxLength": 200}),
                   Param("table", {"type": "string", "enum": ["rows", "trend"], "default": "rows"},
                         description="which table a file holds")],
           exports=True, ok={"200": ("rows, summary, trend", AchievementReport)},
           errors=(400, 404, 422) + READ_ERRORS)
    def report_achievement(self, request, user):
        args = request.args
        indicator_code = _text(args, "indicator_code")
        if not indicator_code:
            raise InputError("missing", "indicator_code", "ต้องระบุรหัสตัวชี้วัด (indicator_code)",
                             "indicator_code is required", status=422)
        year = int_arg(args, "fiscal_year", fiscal_year_be(datetime.now(BANGKOK)))
        if not 2400 <= year <= 2699:
            raise invalid("fiscal_year", "ต้องระบุปีงบประมาณเป็น พ.ศ. เช่น 2569",
                          "fiscal_year must be a Buddhist-era year such as 2569")
        table = args.get("table") or "rows"
        if table not in ("rows", "trend"):
            raise invalid("table", "table ต้องเป็น rows หรือ trend", "table must be rows or trend")
        unit_code = self._report_unit(user, args)
        report = self.reporting.achievement(indicator_code, year, unit_code=unit_code,
                                            plan_id=_text(args, "plan_id", 200))
        return 200, exported(request, report, report[table], ACHIEVEMENT_COLUMNS if table == "rows" else TREND_COLUMNS,
                             f"achievement-{_safe(indicator_code)[:40]}-{year}-{table}")

    @route("GET", "/api/v1/reports/notifications", tag="reports", th="ผลของการแจ้งเตือน",
           en="Reminders and escalations: sent, failed, late, followed by a submission", scope=REPORT_UNIT,
           params=[UNIT_PARAM, PERIOD_PARAM], exports=True,
           ok={"200": ("by kind, step and channel", NotificationEffectiveness)}, errors=(400, 404, 422) + READ_ERRORS)
    def report_notifications(self, request, user):
        args = request.args
        unit_code = self._report_unit(user, args)
        period = _period(args)
        report = self.reporting.notification_effectiveness(unit_code=unit_code, period=period)
        return 200, exported(request, report, report["rows"], NOTIFICATION_COLUMNS,
                             f"reminders-{_safe(unit_code or 'nation')}-{_safe(period or 'all')}")

    @route("GET", "/api/v1/reports/overdue", tag="reports", th="รายการที่เลยกำหนดส่ง",
           en="Obligations past due and not submitted (most late first)", scope=REPORT_UNIT,
           params=[UNIT_PARAM, _limit(), OFFSET,
                   _sort("days_late", "due_at", "unit_code", "period", "indicator_code", "obligation_id")],
           exports=True, ok={"200": ("total and a page", OverdueReport)}, errors=(400, 404, 422) + READ_ERRORS)
    def report_overdue(self, request, user):
        args = request.args
        unit_code = self._report_unit(user, args)
        sort = _text(args, "sort", 200)
        report = self.reporting.overdue(unit_code=unit_code, limit=int_arg(args, "limit", 100),
                                        offset=int_arg(args, "offset", 0), sort=sort)
        return 200, exported(request, report, report["items"], OVERDUE_COLUMNS,
                             f"overdue-{_safe(unit_code or 'nation')}")
