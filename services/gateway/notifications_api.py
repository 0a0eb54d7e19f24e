"""The gateway's notification routes (a mixin of GatewayService; they call notifications over RPC).

    my preferences      GET/PUT /api/v1/me/notification-preferences
    my in-app inbox     GET /api/v1/me/inbox, POST /api/v1/me/inbox/<id>/read
    LINE linking        POST /api/v1/me/line-link (a one-time code), POST /api/v1/line/webhook (LINE calls it)
    ops                 GET /api/v1/notifications/deliveries (ops, central)
    chase               POST /api/v1/notifications/chase {obligation_id} (district, province, central)
    ladders             GET /api/v1/notifications/reminder-ladders, PUT .../<key> (central)
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re

from services.gateway.exports import columns, export_format, exported
from services.gateway.http import int_arg, parse_body, problem, read_json
from services.gateway.routing import EVERYONE, NATION, OWN, PUBLIC, Param, Resource, route
from services.gateway.schemas import (FLAG, OFFSET, READ_ERRORS, WRITE_ERRORS, ChaseRequest, Chased, Deliveries, Inbox,
                                      InboxRead, LadderSteps, LineLinkCode, LineLinkRequest, LineWebhookResult,
                                      NotificationPreferences, ReminderLadder, ReminderLadders, _limit, _path, body)
from services.gateway.upstream import upstream_response
from shared.errors import InputError
from shared.service_base import json_response

DELIVERY_COLUMNS = columns(
    ("created_at", "สร้างเมื่อ", "created at"), ("kind", "ประเภท", "kind"), ("step", "ขั้น", "step"),
    ("recipient_code", "ผู้รับ", "recipient"), ("subject_ref", "เรื่องที่อ้างถึง", "subject ref"),
    ("channel", "ช่องทาง", "channel"), ("status", "สถานะ", "status"), ("status_reason", "เหตุผล", "reason"),
    ("late", "ส่งช้ากว่ากำหนด", "late"), ("attempts", "จำนวนครั้งที่ส่ง", "attempts"),
    ("due_at", "กำหนดส่ง", "due at"), ("sent_at", "ส่งเมื่อ", "sent at"), ("id", "รหัสข้อความ", "message id"))
CODE_IN_TEXT = re.compile(r"TT-?[A-HJ-NP-Z2-9]{4}-?[A-HJ-NP-Z2-9]{4}", re.IGNORECASE)


def line_signature_ok(secret: str, body: bytes, signature: str | None) -> bool:
    """LINE signs the raw body: base64(HMAC-SHA256(channel secret, body))."""
    if not signature:
        return False
    expected = base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, signature.strip())


def _line_id(source: dict) -> str | None:
    kind = source.get("type")
    return source.get({"user": "userId", "group": "groupId", "room": "roomId"}.get(kind, ""), None)


def _ladder_before(service, user, key) -> dict | None:
    return next((item for item in service.notifications.list_reminder_ladders()["items"] if item["key"] == key), None)


CHASED_OBLIGATION = Resource(
    "chased-obligation", "an obligation (obligation_id in the body) of a unit within the caller's subtree",
    "ภาระการรายงาน (obligation_id) ของหน่วยงานในสังกัด", targets=True, param="obligation_id",
    lookup=lambda service, i, v: service.assessments.get_obligation(i), in_body=True)


class NotificationsRoutes:
    """Mixed into GatewayService, which provides ``notifications`` (RpcProxy), ``uow`` and ``_audit``."""

    # --- my preferences ---------------------------------------------------------------------------
    @route("GET", "/api/v1/me/notification-preferences", tag="notifications", th="การตั้งค่าการแจ้งเตือนของฉัน",
           en="My notification preferences", scope=OWN, ok={"200": ("preferences", NotificationPreferences)},
           errors=(422,) + READ_ERRORS)
    def notification_preferences_get(self, request, user):
        return 200, self.notifications.get_preferences(user)

    @route("PUT", "/api/v1/me/notification-preferences", tag="notifications", th="แก้ไขการตั้งค่าการแจ้งเตือน",
           en="Change my notification preferences", scope=OWN, write=True,
           body=body({"type": "object", "description": "language, date_digits, channels, fallback_order, "
                                                       "quiet_hours, opt_out, digest"},
                     {"language": "th", "quiet_hours": {"start": "21:00", "end": "07:00"}}),
           ok={"200": ("preferences", NotificationPreferences)}, errors=WRITE_ERRORS,
           target=lambda user: f"preferences:{user['username']}" if user else None,
           before=lambda service, user: service.notifications.get_preferences(user))
    def notification_preferences_put(self, request, user):
        return 200, self.notifications.upsert_person(user, read_json(request))

    # --- my in-app inbox ----------------------------------------------------------------------------
    @route("GET", "/api/v1/me/inbox", tag="notifications", th="กล่องข้อความในระบบ", en="My in-app inbox", scope=OWN,
           params=[Param("unread", FLAG), _limit(50, 200), OFFSET], ok={"200": ("newest first", Inbox)},
           errors=(400, 422) + READ_ERRORS)
    def notification_inbox(self, request, user):
        args = request.args
        unread = args.get("unread", "0")
        if unread not in ("0", "1", "true", "false"):
            raise InputError("invalid", "unread", "unread ต้องเป็น 0 หรือ 1", "unread must be 0 or 1", status=400)
        limit = int_arg(args, "limit", 50)
        if not 1 <= limit <= 200:
            raise InputError("invalid", "limit", "limit ต้องอยู่ระหว่าง 1 ถึง 200", "limit must be 1-200", status=400)
        return 200, self.notifications.list_inbox(user, unread_only=unread in ("1", "true"), limit=limit,
                                                  offset=int_arg(args, "offset", 0))

    @route("POST", "/api/v1/me/inbox/<string:item_id>/read", tag="notifications", th="ทำเครื่องหมายว่าอ่านแล้ว",
           en="Mark an inbox item read", scope=OWN, write=True, params=[_path("item_id")],
           ok={"200": ("read", InboxRead)}, errors=(401, 403, 404, 422, 502), target="inbox_item:{item_id}")
    def notification_inbox_read(self, request, user, item_id):
        return 200, self.notifications.mark_read(user, item_id)

    # --- LINE -------------------------------------------------------------------------------------
    @route("POST", "/api/v1/me/line-link", tag="notifications", th="ขอรหัสเชื่อมบัญชี LINE",
           en="A one-time code to link LINE (me, or my unit)", scope=OWN, write=True,
           body=body(LineLinkRequest, {"target": "me"}), body_required=False, ok={"201": ("the code", LineLinkCode)},
           errors=WRITE_ERRORS + (404,))
    def notification_line_link(self, request, user):
        target = parse_body(request, LineLinkRequest).target if request.get_data() else "me"
        return 201, self.notifications.create_line_link(user, target)

    @route("POST", "/api/v1/line/webhook", tag="notifications", th="รับเหตุการณ์จาก LINE",
           en="Called by LINE; the X-Line-Signature header proves it", scope=PUBLIC,
           params=[Param("X-Line-Signature", {"type": "string"}, "header", description="base64 HMAC-SHA256 of the body")],
           body=body({"type": "object", "properties": {"events": {"type": "array", "items": {"type": "object"}}}}),
           ok={"200": ("processed", LineWebhookResult)}, errors=(400, 401, 404, 502, 503))
    def notification_line_webhook(self, request):
        """Called by LINE (no bearer token): the signature proves it. A follower (or a group the
        account was invited to) who sends a link code gets linked; everything else is ignored."""
        status, result = 500, None
        try:
            secret = os.environ.get("LINE_CHANNEL_SECRET")
            if not secret:
                raise InputError("not_configured", None, "ยังไม่ได้ตั้งค่า LINE ในระบบนี้", "LINE is not configured on this server", status=404)
            body = request.get_data()
            if not line_signature_ok(secret, body, request.headers.get("X-Line-Signature")):
                raise InputError("unauthorized", "X-Line-Signature", "ลายมือชื่อ LINE ไม่ถูกต้อง",
                                 "the LINE signature does not match", status=401)
            try:
                events = json.loads(body.decode("utf-8")).get("events", [])
                if not isinstance(events, list):
                    raise ValueError
            except (ValueError, AttributeError, UnicodeDecodeError):
                raise InputError("invalid_json", "body", "ข้อมูลไม่ใช่ JSON ที่ถูกต้อง", "body is not valid JSON",
                                 status=400) from None
            linked, ignored = 0, 0
            for event in events:
                if not isinstance(event, dict):
                    ignored += 1
                    continue
                message = event.get("message") or {}
                line_id = _line_id(event.get("source") or {})
                codes = CODE_IN_TEXT.findall(message.get("text", "")) if message.get("type") == "text" else []
                if not codes or not line_id:
                    ignored += 1
                    continue
                try:
                    self.notifications.complete_line_link(codes[0], line_id)
                    linked += 1
                except InputError:
                    ignored += 1  # wrong, used or expired code: LINE still gets its 200
            status, result = 200, {"linked": linked, "ignored": ignored}
            return json_response(200, result)
        except InputError as error:
            status, result = error.status, error.as_problem()
            return problem(error)
        except Exception as error:  # notifications failed (502) or gave no answer (503), as on every route
            if (upstream := upstream_response(error, self.context)) is None:
                raise
            status, headers, text, result = upstream
            return status, headers, text
        finally:
            self._audit(request, None, status, result)

    # --- operations -------------------------------------------------------------------------------
    @route("GET", "/api/v1/notifications/deliveries", tag="notifications", th="บันทึกการส่งข้อความ",
           en="The delivery ledger (ops, central)", scope=NATION, roles=("ops", "central"),
           params=[Param(name, {"type": "string"}) for name in ("status", "channel", "kind", "recipient_code",
                                                                 "subject_ref", "since", "until")]
           + [Param("late", {"type": "string", "enum": ["0", "1"]}), _limit(), OFFSET],
           exports=True, ok={"200": ("newest first", Deliveries)}, errors=(400, 403, 422) + READ_ERRORS)
    def notification_deliveries(self, request, user):
        args = request.args
        export_format(args)
        filters = {name: args.get(name) for name in ("status", "channel", "kind", "recipient_code", "subject_ref",
                                                      "since", "until") if args.get(name)}
        if args.get("late") is not None:
            if args["late"] not in ("0", "1"):
                raise InputError("invalid", "late", "late ต้องเป็น 0 หรือ 1", "late must be 0 or 1", status=400)
            filters["late"] = args["late"] == "1"
        filters["limit"] = int_arg(args, "limit", 100)
        filters["offset"] = int_arg(args, "offset", 0)
        ledger = self.notifications.list_deliveries(filters)
        return 200, exported(request, ledger, ledger["items"], DELIVERY_COLUMNS, "deliveries")

    @route("POST", "/api/v1/notifications/chase", tag="notifications", th="ติดตามรายงานทันที",
           en="A reminder now, by hand (never twice a day)", scope=CHASED_OBLIGATION, write=True,
           roles=("district", "province", "central"), body=body(ChaseRequest, {"obligation_id": "<obligation id>"}),
           ok={"200": ("queued", Chased)}, errors=WRITE_ERRORS + (404, 409))
    def notification_chase(self, request, user):
        obligation_id = parse_body(request, ChaseRequest).obligation_id
        scope_root = None if user["role"] == "central" else user["org_code"]
        return 200, self.notifications.chase(obligation_id.strip(), user, scope_root)

    @route("GET", "/api/v1/notifications/reminder-ladders", tag="notifications", th="ลำดับการเตือน",
           en="Reminder ladders", scope=EVERYONE, ok={"200": ("ladders", ReminderLadders)}, errors=READ_ERRORS)
    def notification_ladders(self, request, user):
        return 200, self.notifications.list_reminder_ladders()

    @route("PUT", "/api/v1/notifications/reminder-ladders/<string:key>", tag="notifications", th="กำหนดลำดับการเตือน",
           en="Set a reminder ladder (default, rule:<id> or directive:<id>)", scope=NATION, write=True,
           roles=("central",),
           params=[Param("key", {"type": "string", "pattern": "^(default|(rule|directive):[^/]+)$"}, "path", True,
                         "default, rule:<rule id> or directive:<directive id>")],
           body=body(LadderSteps, {"steps": ["-P7D", "-P3D", "-P1D", "MORNING"]}),
           ok={"200": ("stored", ReminderLadder)}, errors=WRITE_ERRORS, target="reminder_ladder:{key}",
           before=_ladder_before)
    def notification_ladder_put(self, request, user, key):
        return 200, self.notifications.set_reminder_ladder(key, parse_body(request, LadderSteps).steps, user["username"])
