"""HTTP helpers of the gateway: reading bodies, problem+json errors, the authenticated route wrapper."""
from __future__ import annotations

import hmac
import json
from functools import wraps

import structlog

from werkzeug.wrappers import Response

from services.gateway import auth
from services.gateway.idempotency import replayed_response
from services.gateway.upstream import problem_body, problem_headers, upstream_problem
from shared.errors import InputError, forbidden
from shared.service_base import json_response
from shared.validation import check_json_depth, refuse_control_characters

log = structlog.get_logger(__name__)

PROBLEM = "application/problem+json"
MAX_BODY_BYTES = 5 * 1024 * 1024


def problem(error: InputError):
    return json_response(error.status, error.as_problem(), PROBLEM)


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


def api(write: bool = False, roles: tuple[str, ...] | None = None, before=None, target=None):
    """Wrap a route: authenticate, check role, turn errors into problem+json, audit writes.

    For a write on an existing resource, ``target`` names it in the audit log (a format string over the
    route's arguments such as ``"assignment:{assignment_id}"``, or ``target(user, **route_args)``), and
    ``before(self, user, **route_args)`` returns the resource as it is before the write (or None). The
    before-image is taken after authentication and the role check, so a caller who may not write gets
    none; any error in it (an unknown id, another unit's resource) gives None and never stops the write."""
    def decorate(method):
        @wraps(method)
        def wrapper(self, request, *args, **kwargs):
            user, status, result, image = None, 500, None, None
            try:
                user = authenticate_request(self, request, write)
                if roles and user["role"] not in roles:
                    raise forbidden(None, "บทบาทของท่านไม่มีสิทธิ์ทำรายการนี้",
                                    "your role may not do this")
                if write and (replay := self.idempotency.begin(request, user)) is not None:
                    status, result = replay
                    return replayed_response(status, result)
                if write and before is not None:
                    image = _before_image(self, before, user, kwargs)
                status, result = method(self, request, user, *args, **kwargs)
                if isinstance(result, Response):  # a file (exports.py), already complete
                    return result
                return json_response(status, result)
            except InputError as error:
                status, result = error.status, error.as_problem()
                return problem(error)
            except Exception as error:  # a service that failed or gave no answer: 502 / 503
                if (upstream := upstream_problem(error)) is None:
                    raise
                status, result = upstream.status, problem_body(upstream, self.context)
                return status, {"Content-Type": f"{PROBLEM}; charset=utf-8", **problem_headers(upstream)}, \
                    json.dumps(result, ensure_ascii=False)
            finally:
                if write:
                    self.idempotency.finish(status, result)
                    self._audit(request, user, status, result, target=_target(target, user, kwargs), before=image)
        return wrapper
    return decorate


def _target(target, user, route_args: dict) -> str | None:
    if target is None:
        return None
    try:
        return (target.format(**route_args) if isinstance(target, str) else target(user, **route_args))[:200]
    except Exception:  # noqa: BLE001 - the audit row is written anyway, without a target
        log.warning("audit_target_failed", target=str(target), exc_info=True)
        return None


def _before_image(service, resolver, user, route_args: dict) -> dict | None:
    try:
        return resolver(service, user, **route_args)
    except InputError:  # an unknown id or a resource out of scope: the write itself answers 404/403
        return None
    except Exception:  # noqa: BLE001 - the audit must never break the write it records
        log.warning("audit_before_image_failed", resolver=getattr(resolver, "__name__", "?"), exc_info=True)
        return None


def scoped(service, user, resource: dict | None, unit_field: str = "unit_code") -> dict | None:
    """``resource`` when its unit is within the caller's scope, else None (no before-image of another
    unit's resource leaks into the audit log)."""
    if resource is None:
        return None
    try:
        service._require_in_scope(user, resource[unit_field])
    except InputError:
        return None
    return resource


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
