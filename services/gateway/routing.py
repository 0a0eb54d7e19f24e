"""One declaration per gateway route: what it is, who may call it, and over which units.

    @route("POST", "/api/v1/obligations/<string:obligation_id>/submissions", tag="submissions",
           th="ส่งรายงานตัวชี้วัด", en="Submit every indicator's value", write=True,
           roles=("lao", "district", "province", "central"), scope=OBLIGATION_IN_SUBTREE,
           params=[path_param("obligation_id")], body=body(...), ok={"201": ("stored", SubmissionAccepted)})
    def submit(self, request, user, obligation_id): ...

The decorator is nameko's ``@http`` plus the work every route needs, in this order: authenticate
(bearer token, or the session cookie and for a write its CSRF token), refuse a query parameter the
route does not declare (422; public routes too), check the role (403), for a write honour its
``Idempotency-Key`` (idempotency.py), apply
the **scope rule** (out of scope: a read answers 404, a write 403; the rule's look-up of the target
is also the audit's before-image), call the handler, turn errors into problem+json, and audit every
write. ``build_document`` (openapi.py) walks the same declarations, so a route cannot exist without
its rule and its documentation; ``scope`` is a required argument.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from datetime import date
from functools import wraps
from typing import Any, Callable, Literal

import structlog
from werkzeug.wrappers import Response

from services.gateway.http import authenticate_request, problem, read_json
from services.gateway.idempotency import HEADER as IDEMPOTENCY_HEADER
from services.gateway.idempotency import MAX_KEY_LENGTH, REPLAYED_HEADER, replayed_response
from services.gateway.upstream import upstream_response
from shared.errors import InputError, forbidden
from shared.service_base import json_response
from shared.web import HttpEntrypoint, http

log = structlog.get_logger(__name__)

CONVERTER = re.compile(r"<(?:[a-zA-Z_]+(?:\([^)]*\))?:)?([a-zA-Z_][a-zA-Z0-9_]*)>")
ROLES = ("central", "province", "district", "lao", "reviewer", "ops")
NATIONWIDE_ROLES = ("central", "ops")   # they see every unit (auth.ROLES has the same six)


# ================================================================================================
# Scope rules: where the target's owning unit comes from, and how the caller must relate to it
# ================================================================================================

def out_of_scope(field_name: str | None, write: bool) -> InputError:
    """Out of scope: a read does not learn that the thing exists (404); a write is refused (403)."""
    if write:
        return forbidden(field_name, "รายการนี้อยู่นอกหน่วยงานของท่าน ท่านไม่มีสิทธิ์ทำรายการนี้",
                         "outside your unit: you may not do this")
    return InputError("not_found", field_name, "ไม่พบรายการนี้ในหน่วยงานของท่าน", "not found within your unit",
                      status=404)


def in_subtree(service, user, unit_code: str | None) -> bool:
    scope = service._scope(user)
    return scope is None or unit_code in scope


@dataclass(frozen=True)
class Scope:
    """A scope rule. ``name`` keys the authorization matrix's fixtures and the README table;
    ``targets`` says whether a target outside the caller's scope can exist at all."""
    name: str
    rule_en: str
    rule_th: str
    public: bool = False
    targets: bool = False

    def check(self, service, user, request, args: dict, write: bool) -> dict | None:
        """Raise when the target is out of scope; return the target as it is now (the before-image) or None."""
        return None

    def refusal(self, write: bool) -> int:
        """The status of a call on a target out of scope."""
        return 403 if write else 404


@dataclass(frozen=True)
class UnitParam(Scope):
    """The unit is a query parameter (default: the caller's own unit); it must be within the caller's subtree."""
    param: str = "unit_code"

    def check(self, service, user, request, args, write):
        code = request.args.get(self.param)
        if code and not in_subtree(service, user, code):
            raise out_of_scope(self.param, write)
        return None


Relation = Literal["unit", "subtree", "visible", "recorder"]


@dataclass(frozen=True)
class Resource(Scope):
    """The target is looked up by an id (a path parameter, or a JSON body field with ``in_body``).

    relation: ``unit`` the caller's own unit owns it; ``subtree`` its owner is the caller's unit or
    below; ``visible`` the owning service decides from the caller's subtree (a document its unit sent
    or one addressed within its subtree), and what the caller cannot see is not found (404) even for a
    write; ``recorder`` visible, and recorded by the caller's unit (or the caller is central)."""
    param: str = ""
    lookup: Callable[..., dict] | None = None    # (service, id, visible_to) -> the record; 404 when unknown
    owner: str = "unit_code"
    relation: Relation = "subtree"
    in_body: bool = False

    def refusal(self, write: bool) -> int:
        return 404 if self.relation == "visible" else super().refusal(write)

    def _id(self, request, args):
        if not self.in_body:
            return args[self.param]
        value = read_json(request).get(self.param)
        return value if isinstance(value, str) and value else None

    def check(self, service, user, request, args, write):
        target_id = self._id(request, args)
        if target_id is None:  # a body without the field: the service names it (422)
            return None
        if self.relation in ("visible", "recorder"):
            # what the caller cannot see is not found for it, a write included (no hint that it exists)
            record = self.lookup(service, target_id, service._scope(user))
            if self.relation == "recorder" and user["role"] != "central" and record[self.owner] != user["org_code"]:
                raise out_of_scope(self.param, write)
            return record
        record = self.lookup(service, target_id, None)
        if self.relation == "unit":
            allowed = record[self.owner] == user["org_code"]
        else:
            allowed = in_subtree(service, user, record[self.owner])
        if not allowed:
            raise out_of_scope(self.param, write)
        return record


@dataclass(frozen=True)
class BodyUnit(Scope):
    """A unit named in the JSON body (default: the caller's own) must be the caller's own unit; central
    may name any unit."""
    field: str = "unit_code"

    def check(self, service, user, request, args, write):
        code = read_json(request).get(self.field)
        if code is not None and user["role"] != "central" and code != user["org_code"]:
            raise out_of_scope(self.field, write)
        return None


@dataclass(frozen=True)
class Delegated(Scope):
    """The owning unit is known only once the owning service has parsed the request (e.g. a plan
    document in YAML, or each item of a batch): the service checks it, with the caller passed along."""


@dataclass(frozen=True)
class AllOf(Scope):
    rules: tuple[Scope, ...] = ()

    def check(self, service, user, request, args, write):
        images = [rule.check(service, user, request, args, write) for rule in self.rules]
        return next((image for image in images if image is not None), None)


# ================================================================================================
# The declaration and the decorator
# ================================================================================================

@dataclass
class Param:
    name: str
    schema: dict
    where: str = "query"
    required: bool = False
    description: str = ""
    example: Any = None


INTEGER = re.compile(r"-?[0-9]{1,18}")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def check_query_value(param: Param, raw: str) -> None:
    """A query value against the declared schema of its parameter (the subset the declarations use:
    integer with bounds; string with a date format, enum, pattern, lengths). Raises InputError (422) naming it."""
    schema, name = param.schema, param.name

    def refuse(th: str, en: str):
        raise InputError("invalid", name, f"{name}: {th}", f"{name}: {en}", status=422)
    if schema.get("type") == "integer":
        if not INTEGER.fullmatch(raw):
            refuse("ต้องเป็นจำนวนเต็ม", "must be a whole number")
        value = int(raw)
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"{low if low is not None else '…'}–{high if high is not None else '…'}"
            refuse(f"ต้องอยู่ในช่วง {bounds}", f"must be within {bounds}")
        return
    if schema.get("format") == "date":
        try:
            if not DATE.fullmatch(raw):
                raise ValueError(raw)
            date.fromisoformat(raw)
        except ValueError:
            refuse("ต้องเป็นวันที่ YYYY-MM-DD", "must be a date, YYYY-MM-DD")
    if "enum" in schema and raw not in schema["enum"]:
        choices = ", ".join(map(str, schema["enum"]))
        refuse(f"ต้องเป็นหนึ่งใน {choices}", f"must be one of {choices}")
    if len(raw) > schema.get("maxLength", len(raw)):
        refuse(f"ยาวได้ไม่เกิน {schema['maxLength']} ตัวอักษร", f"at most {schema['maxLength']} characters")
    if len(raw) < schema.get("minLength", 0):
        refuse(f"ต้องมีอย่างน้อย {schema['minLength']} ตัวอักษร", f"at least {schema['minLength']} characters")
    if "pattern" in schema and not re.search(schema["pattern"], raw):
        example = f" (e.g. {param.example})" if param.example is not None else ""
        refuse(f"รูปแบบไม่ถูกต้อง{example}", f"not in the expected form {schema['pattern']}{example}")


# Parameters every route of a kind takes, whatever its declaration lists.
EXPORT_PARAMS = [
    Param("format", {"type": "string", "enum": ["json", "csv", "xlsx"], "default": "json"},
          description="json (default), or the table as a file: csv (UTF-8 with BOM, for Excel) or xlsx"),
    Param("lang", {"type": "string", "enum": ["th", "en"], "default": "th"},
          description="the language of the file's column headers")]
IDEMPOTENCY_KEY = Param(
    IDEMPOTENCY_HEADER, {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[ -~]+$"},
    "header", description=(
        f"Optional: a value of the client's own (1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID "
        "such as 5f0c3d4e-9a1b-4c2d-8e7f-0a1b2c3d4e5f, new for each new request), "
        "kept 24 hours per caller. Sending the same request again with the same key (after a timeout, a 503, a "
        "dropped connection) answers the first final answer (2xx or 4xx) again, with the header "
        f"`{REPLAYED_HEADER}: true`, and changes nothing more: one effect, however many retries. The same key "
        "with another method, path, query or body: 422 `idempotency_key_reused`; while the first request with "
        "the key is still running: 409 `idempotency_in_progress` (with Retry-After); a key that is not printable "
        "ASCII or too long: 400. An answer of 5xx is not kept: the retry runs again (and the service still "
        "applies the write at most once). / ส่งคำขอเดิมซ้ำด้วยค่าเดิมได้คำตอบแรกคืน โดยไม่เกิดผลซ้ำ"))
IDEMPOTENCY_ERRORS = (400, 409, 422)   # a bad key; the key's first request still running; the key reused


@dataclass
class Route:
    method: str
    path: str                                  # werkzeug rule, e.g. /api/v1/documents/<string:document_id>
    operation_id: str
    tag: str
    summary_th: str
    summary_en: str
    scope: Scope
    description: str = ""
    write: bool = False                        # audited; session callers need X-CSRF-Token
    roles: tuple[str, ...] | None = None       # None: every role
    params: list[Param] = field(default_factory=list)
    body: dict[str, dict] | None = None        # media type -> {"schema": ..., "example": ...}
    body_required: bool = True
    ok: dict[str, tuple[str, Any]] = field(default_factory=dict)   # status -> (description, schema source)
    errors: tuple[int, ...] = ()
    exports: bool = False                      # ?format=csv|xlsx (&lang=en) turn the table into a file
    documented: bool = True                    # False: a web page, not part of the JSON API
    target: str | Callable | None = None       # names the written resource in the audit log
    before: Callable | None = None             # (service, user, **args) -> the before-image, when the scope has none

    @property
    def doc_path(self) -> str:
        return CONVERTER.sub(r"{\1}", self.path)

    @property
    def public(self) -> bool:
        return self.scope.public

    @property
    def allowed_roles(self) -> tuple[str, ...]:
        return tuple(self.roles) if self.roles else ROLES

    @property
    def idempotent(self) -> bool:
        """A signed-in caller's write honours ``Idempotency-Key`` (``_guarded``, idempotency.py)."""
        return self.write and not self.public

    @property
    def all_params(self) -> list[Param]:
        """Every parameter the route takes: its own, the export ones, the idempotency key."""
        return [*self.params, *(EXPORT_PARAMS if self.exports else ()), *((IDEMPOTENCY_KEY,) if self.idempotent else ())]

    @property
    def query_names(self) -> frozenset[str]:
        return frozenset(param.name for param in self.all_params if param.where == "query")

    def check_query(self, request) -> None:
        """Query parameters are strict, like bodies: one the route does not declare is refused (422), and
        each value must fit its declared schema (422 naming it)."""
        if not self.documented:  # web pages and their assets (cache-busting ?v=) are not the API
            return
        unknown = sorted(set(request.args) - self.query_names)
        if unknown:
            names, known = ", ".join(unknown), ", ".join(sorted(self.query_names)) or "-"
            raise InputError("unknown_parameter", unknown[0],
                             f"ไม่รู้จักพารามิเตอร์ {names} (พารามิเตอร์ที่ใช้ได้: {known})",
                             f"unknown query parameter {names} (this route takes: {known})", status=422)
        for param in self.all_params:
            if param.where == "query" and param.name in request.args:
                values = request.args.getlist(param.name)
                if len(values) > 1:
                    raise InputError("invalid", param.name, f"ระบุ {param.name} ได้ครั้งเดียว",
                                     f"give {param.name} once", status=422)
                check_query_value(param, values[0])


def route(method: str, path: str, *, tag: str, th: str, en: str, scope: Scope, **declaration):
    """Declare and serve one route (see the module docstring). A public handler is
    ``(self, request, **path_args)`` and answers as it likes; any other is
    ``(self, request, user, **path_args)`` and returns ``(status, body)`` or a complete Response."""
    if not isinstance(scope, Scope):
        raise TypeError(f"{method} {path}: scope must be a scope rule (routing.PUBLIC, OWN, ...)")
    roles = declaration.get("roles")
    if roles is not None and not set(roles) <= set(ROLES):
        raise ValueError(f"{method} {path}: unknown role in {roles}")

    def decorate(function):
        spec = Route(method, path, function.__name__, tag, th, en, scope, **declaration)
        if scope.public:
            wrapper = _strict_query(function, spec)
        else:
            wrapper = _guarded(function, spec)
        wrapper.route = spec
        return http(method, path)(wrapper)
    return decorate


def _strict_query(function, spec: Route):
    """A public handler answers as it likes, once its query parameters are known ones."""
    @wraps(function)
    def wrapper(self, request, *args, **kwargs):
        try:
            spec.check_query(request)
        except InputError as error:
            return problem(error)
        return function(self, request, *args, **kwargs)
    return wrapper


def _guarded(function, spec: Route):
    @wraps(function)
    def wrapper(self, request, *args, **kwargs):
        user, status, result, image = None, 500, None, None
        try:
            user = authenticate_request(self, request, spec.write)
            spec.check_query(request)  # the request's shape first: its parameters are public knowledge
            if user["role"] not in spec.allowed_roles:
                raise forbidden(None, "บทบาทของท่านไม่มีสิทธิ์ทำรายการนี้", "your role may not do this")
            if spec.idempotent and (replay := self.idempotency.begin(request, user)) is not None:
                status, result = replay
                return replayed_response(status, result)
            image = spec.scope.check(self, user, request, kwargs, spec.write)
            request.target = image  # the handler may answer with it instead of reading it again
            if spec.write and spec.before is not None:
                image = _before_image(self, spec.before, user, kwargs)
            status, result = function(self, request, user, *args, **kwargs)
            if isinstance(result, Response):  # a file (exports.py) or a response with cookies, complete
                return result
            return json_response(status, result)
        except InputError as error:
            status, result = error.status, error.as_problem()
            return problem(error)
        except Exception as error:  # a service that failed or gave no answer: 502 / 503
            if (upstream := upstream_response(error, self.context)) is None:
                raise
            status, headers, text, result = upstream
            return status, headers, text
        finally:
            if spec.idempotent:
                self.idempotency.finish(status, result)
            if spec.write:
                # a write on an existing resource names it (target) and records it as it was (before)
                self._audit(request, user, status, result, target=_target(spec.target, user, kwargs),
                            before=image if spec.target else None)
    return wrapper


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
    except InputError:  # an unknown id: the write itself answers 404
        return None
    except Exception:  # noqa: BLE001 - the audit must never break the write it records
        log.warning("audit_before_image_failed", resolver=getattr(resolver, "__name__", "?"), exc_info=True)
        return None


def declarations(service_cls) -> list[Route]:
    """Every route declaration of a service class, found the way nameko finds its entrypoints."""
    found = []
    for _, member in inspect.getmembers(service_cls, inspect.isfunction):
        if any(isinstance(e, HttpEntrypoint) for e in getattr(member, "nameko_entrypoints", ())):
            spec = getattr(member, "route", None)
            if spec is not None:
                found.append(spec)
    return found


def undeclared(service_cls) -> list[str]:
    """Names of HTTP entrypoints without a declaration (must be none)."""
    return sorted(name for name, member in inspect.getmembers(service_cls, inspect.isfunction)
                  if getattr(member, "nameko_entrypoints", ()) and getattr(member, "route", None) is None)


# ================================================================================================
# The rules that need no look-up
# ================================================================================================

PUBLIC = Scope("public", "anyone, without logging in", "ทุกคน ไม่ต้องเข้าสู่ระบบ", public=True)
OWN = Scope("own", "the caller's own account: its tokens, preferences and inbox",
            "บัญชีของผู้ใช้เอง (โทเคน การตั้งค่า กล่องข้อความ)")
EVERYONE = Scope("everyone", "every signed-in user: national reference data (registry, plans, reminder ladders)",
                 "ผู้ใช้ทุกคนที่เข้าสู่ระบบ: ข้อมูลอ้างอิงระดับประเทศ")
NATION = Scope("nation", "a national function: the roles named may act for the whole country",
               "งานระดับประเทศ: เฉพาะบทบาทที่ระบุ")
SUBTREE_LIST = Scope("subtree-list", "lists hold only the caller's unit and the units below it (an LAO: its own); "
                                     "asking for a unit outside that gives an empty list",
                     "แสดงเฉพาะหน่วยงานของผู้ใช้และหน่วยงานในสังกัด", targets=True)
REPORT_UNIT = UnitParam("report-unit", "the unit_code looked at (default: the caller's own unit, the nation "
                                       "for central and ops) must be the caller's unit or below it",
                        "หน่วยงานที่ดู (unit_code) ต้องเป็นหน่วยงานของผู้ใช้หรือในสังกัด", targets=True)
