"""HTTP helpers of the gateway: reading and parsing bodies, problem+json errors, authentication.

The route wrapper itself (role, scope rule, audit) is ``routing.route``."""
from __future__ import annotations

import hmac
import json
from typing import TypeVar

import structlog

from pydantic import BaseModel

from services.gateway import auth
from shared.errors import InputError
from shared.service_base import json_response
from shared.validation import check_json_depth, parse, refuse_control_characters

M = TypeVar("M", bound=BaseModel)

log = structlog.get_logger(__name__)

PROBLEM = "application/problem+json"
MAX_BODY_BYTES = 5 * 1024 * 1024


def problem(error: InputError):
    return json_response(error.status, error.as_problem(), PROBLEM)


JSON_TYPES = ("application/json",)


def read_json(request) -> dict:
    """The body as a JSON object. Refused before parsing: a body over 5 MB (413) or nested deeper than 32
    levels (400: the parser would recurse); after: NaN/Infinity, anything but an object, and any text
    holding a control character (422 naming where; each field's own limits are the services' commands)."""
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise InputError("too_large", "body", "ข้อมูลที่ส่งมีขนาดใหญ่เกินกำหนด", "request body too large",
                         status=413)
    text = request.get_data(as_text=True)
    if len(text) > MAX_BODY_BYTES:  # sent without a Content-Length
        raise InputError("too_large", "body", "ข้อมูลที่ส่งมีขนาดใหญ่เกินกำหนด", "request body too large",
                         status=413)
    if text and request.mimetype not in JSON_TYPES and not request.mimetype.endswith("+json"):
        raise InputError("unsupported_media_type", "Content-Type", "ต้องส่งข้อมูลแบบ JSON (Content-Type: application/json)",
                         "Content-Type must be application/json", status=415)
    check_json_depth(text)
    try:
        data = json.loads(text or "null", parse_constant=_not_json)
    except ValueError:
        raise InputError("invalid_json", "body", "ข้อมูลไม่ใช่ JSON ที่ถูกต้อง", "body is not valid JSON",
                         status=400) from None
    if not isinstance(data, dict):
        raise InputError("invalid_json", "body", "ข้อมูลต้องเป็นออบเจ็กต์ JSON", "body must be a JSON object",
                         status=400)
    refuse_control_characters(data)
    return data


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")  # Python reads NaN and Infinity; JSON has neither


def parse_body(request, model: type[M]) -> M:
    """The JSON body validated by a strict model: an unknown field, a wrong type (``true`` is not a
    number) or a value out of bounds is a 422 naming the field."""
    return parse(model, read_json(request))


def check_upload_size(request) -> None:
    """Refuse an upload by its declared size before reading it; a body without a length is refused too."""
    if request.content_length is None:
        raise InputError("length_required", "Content-Length", "ต้องระบุขนาดข้อมูลที่ส่ง", "Content-Length is required",
                         status=411)
    if request.content_length > MAX_BODY_BYTES + 64 * 1024:  # the file plus multipart framing
        raise InputError("too_large", "file", "ไฟล์ใหญ่เกินกำหนด (5 MB)", "file too large (5 MB)", status=413)


def read_text(request, content_types: tuple[str, ...]) -> str:
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise InputError("too_large", "body", "ข้อมูลที่ส่งมีขนาดใหญ่เกินกำหนด", "request body too large",
                         status=413)
    if request.mimetype not in content_types:
        raise InputError("unsupported_media_type", "Content-Type", "ชนิดไฟล์ไม่รองรับ",
                         f"Content-Type must be one of {', '.join(content_types)}", status=415)
    try:
        return request.get_data().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("encoding", "body", "ไฟล์ต้องเข้ารหัส UTF-8", "the file must be UTF-8", status=422) from None


SECRET_KEYS = frozenset({"password", "password_hash", "token", "token_hash", "csrf_token", "secret", "new_password",
                         "current_password"})


def without_secrets(value):
    """A JSON-like value with every secret-named key's value replaced (passwords, tokens and their hashes)."""
    if isinstance(value, dict):
        return {k: ("(not stored)" if str(k).lower() in SECRET_KEYS else without_secrets(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


SESSION_COOKIE = "tt_session"
CSRF_COOKIE = "tt_csrf"
CSRF_HEADER = "X-CSRF-Token"


def authenticate_request(service, request, write: bool) -> dict:
    """A machine sends ``Authorization: Bearer``; the web UI sends its session cookie, and for a
    write also the CSRF token (double submit: the header must equal the CSRF cookie)."""
    authorization = request.headers.get("Authorization")
    from_cookie = False
    if not authorization and request.cookies.get(SESSION_COOKIE):
        authorization = f"Bearer {request.cookies[SESSION_COOKIE]}"
        from_cookie = True
    with service.uow.database.session() as session:
        user = auth.authenticate(session, authorization)
    if write and "write" not in user["scopes"]:
        raise InputError("insufficient_scope", "Authorization", "โทเคนนี้ใช้ได้เฉพาะการอ่าน",
                         "this token may only read", status=403)
    if from_cookie and (write or request.method not in ("GET", "HEAD")):
        sent, expected = request.headers.get(CSRF_HEADER, ""), request.cookies.get(CSRF_COOKIE, "")
        if not expected or not hmac.compare_digest(sent, expected):
            raise InputError("csrf", CSRF_HEADER, "โทเคนป้องกันการปลอมคำขอ (CSRF) ไม่ถูกต้อง",
                             "missing or wrong CSRF token", status=403)
    return user


BOUNDS = {"limit": (1, 1000), "offset": (0, 10_000_000)}


def int_arg(args, name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError("invalid", name, f"{name} ต้องเป็นจำนวนเต็ม", f"{name} must be an integer",
                         status=400) from None
    low, high = BOUNDS.get(name, (0, 10_000_000))
    if not low <= value <= high:
        raise InputError("invalid", name, f"{name} ต้องอยู่ระหว่าง {low} ถึง {high}",
                         f"{name} must be between {low} and {high}", status=400)
    return value




def int_value(raw, name: str) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError, OverflowError):  # int(1e999) overflows
        raise InputError("invalid", name, f"{name} ต้องเป็นจำนวนเต็ม", f"{name} must be an integer",
                         status=422) from None
