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

from nameko.exceptions import RemoteError
from shared.web import http

from services.gateway.exports import columns, export_format, exported
from services.gateway.http import PROBLEM, api, int_arg, problem, read_json
from shared.errors import InputError, invalid
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


class NotificationsRoutes:
    """Mixed into GatewayService, which provides ``notifications`` (RpcProxy), ``uow`` and ``_audit``."""

    # --- my preferences ---------------------------------------------------------------------------
    @http("GET", "/api/v1/me/notification-preferences")
    @api()
    def notification_preferences_get(self, request, user):
        return 200, self.notifications.get_preferences(user)

    @http("PUT", "/api/v1/me/notification-preferences")
    @api(write=True, target=lambda user: f"preferences:{user['username']}" if user else None,
         before=lambda service, user: service.notifications.get_preferences(user))
    def notification_preferences_put(self, request, user):
        return 200, self.notifications.upsert_person(user, read_json(request))

    # --- my in-app inbox ----------------------------------------------------------------------------
    @http("GET", "/api/v1/me/inbox")
    @api()
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

    @http("POST", "/api/v1/me/inbox/<string:item_id>/read")
    @api(write=True, target="inbox_item:{item_id}")
    def notification_inbox_read(self, request, user, item_id):
        return 200, self.notifications.mark_read(user, item_id)

    # --- LINE -------------------------------------------------------------------------------------
    @http("POST", "/api/v1/me/line-link")
    @api(write=True)
    def notification_line_link(self, request, user):
        body = read_json(request) if request.get_data() else {}
        target = body.get("target", "me")
        if set(body) - {"target"}:
            raise invalid(sorted(set(body) - {"target"})[0], "ไม่รู้จักช่องนี้", "unknown field")
        return 201, self.notifications.create_line_link(user, target)

    @http("POST", "/api/v1/line/webhook")
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
        except RemoteError as error:
            status = 502
            result = {"type": "urn:thongthin:problem:upstream", "status": 502, "code": "upstream",
                      "message_th": "บริการภายในขัดข้อง", "message_en": "an internal service failed",
                      "detail": error.exc_type}
            return json_response(502, result, PROBLEM)
        finally:
            self._audit(request, None, status, result)

    # --- operations -------------------------------------------------------------------------------
    @http("GET", "/api/v1/notifications/deliveries")
    @api(roles=("ops", "central"))
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

    @http("POST", "/api/v1/notifications/chase")
    @api(write=True, roles=("district", "province", "central"))
    def notification_chase(self, request, user):
        body = read_json(request)
        obligation_id = body.get("obligation_id")
        if not isinstance(obligation_id, str) or not obligation_id.strip() or len(obligation_id) > 64:
            raise invalid("obligation_id", "ต้องระบุ obligation_id", "obligation_id is required")
        scope_root = None if user["role"] == "central" else user["org_code"]
        return 200, self.notifications.chase(obligation_id.strip(), user, scope_root)

    @http("GET", "/api/v1/notifications/reminder-ladders")
    @api()
    def notification_ladders(self, request, user):
        return 200, self.notifications.list_reminder_ladders()

    @http("PUT", "/api/v1/notifications/reminder-ladders/<string:key>")
    @api(write=True, roles=("central",), target="reminder_ladder:{key}", before=_ladder_before)
    def notification_ladder_put(self, request, user, key):
        return 200, self.notifications.set_reminder_ladder(key, read_json(request).get("steps"), user["username"])
