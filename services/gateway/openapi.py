"""The gateway's OpenAPI 3.1 document (``GET /api/openapi.json``) and its browsable docs (``GET /api/docs``).

Built by walking the route declarations of ``GatewayService`` (``routing.route`` on each handler):
the document cannot disagree with the routes, their roles or their scope rules. Request bodies come
from the services' own pydantic commands (minus the fields the gateway fills in from the logged-in
user); responses from the models in ``schemas.py``. ``tests/e2e/test_api_fuzz.py`` runs
schemathesis against the served document.
"""
from __future__ import annotations

import copy
import html
import json
from typing import Any

from pydantic import BaseModel

from services.gateway.routing import IDEMPOTENCY_ERRORS, PUBLIC, REPLAYED_HEADER, Param, Route, declarations, route
from services.gateway.schemas import CSV_MEDIA, JSON, PROBLEM, XLSX_MEDIA, Problem
from shared.validation import TEXT_PATTERN

OPENAPI_PATH = "/api/openapi.json"
DOCS_PATH = "/api/docs"
REF = "#/components/schemas/{model}"

TAGS = [
    ("registry", "ทะเบียนหน่วยงาน", "Org registry: units, their history, CSV import"),
    ("documents", "หนังสือราชการ", "Official documents, their directive items and attachments"),
    ("directives", "ข้อสั่งการ", "Directives: issue, read, addressee preview, cascade"),
    ("assignments", "การมอบหมาย", "A unit's assignments: acknowledge, state, applicability, forward"),
    ("receipts", "ทะเบียนรับ", "Receipt register (unique per unit per calendar year)"),
    ("plans", "แผนพัฒนา", "Plan trees, indicators, targets, alignment links"),
    ("obligations", "ภาระการรายงาน", "Reporting obligations and their history"),
    ("submissions", "การส่งรายงาน", "Submitting values: form, JSON batch, CSV/XLSX upload"),
    ("reviews", "การตรวจรับ", "Supervisors accept or return submissions"),
    ("extensions", "การขยายเวลา", "Extension requests and decisions"),
    ("reports", "รายงานผล", "Compliance per directive, achievement against targets"),
    ("lpa", "การประเมิน LPA", "The annual LPA: frameworks, rounds, self-assessment, evidence, teams, scores, "
            "publication, follow-ups, results"),
    ("public", "ข้อมูลสาธารณะ", "Published LPA results, without logging in"),
    ("auth", "การเข้าสู่ระบบ", "Tokens, web sessions, who am I"),
    ("notifications", "การแจ้งเตือน", "Preferences, in-app inbox, LINE, delivery ledger, reminder ladders"),
    ("platform", "ระบบ", "Health, metrics, this document"),
]


# ================================================================================================
# Building the document
# ================================================================================================

class _Components:
    """components/schemas, filled from pydantic models; the same name must mean the same schema."""

    def __init__(self):
        self.schemas: dict[str, dict] = {}
        self.model(Problem)

    def _add(self, name: str, schema: dict) -> None:
        existing = self.schemas.get(name)
        if existing is not None and existing != schema:
            raise ValueError(f"two different schemas named {name}")
        self.schemas[name] = schema

    def _hoist(self, schema: dict, name: str, suffix: str = "") -> dict:
        schema = copy.deepcopy(schema)
        for def_name, definition in schema.pop("$defs", {}).items():
            self._add(def_name + suffix, _rename_refs(definition, suffix))
        ref = {"$ref": REF.format(model=name)}
        schema = _rename_refs(schema, suffix)
        if schema != ref:  # a recursive model's top level is only a reference to its own definition
            self._add(name, schema)
        return ref

    def model(self, model: type[BaseModel], mode: str = "validation") -> dict:
        suffix = "Export" if mode == "serialization" else ""
        return self._hoist(model.model_json_schema(ref_template=REF, mode=mode), model.__name__ + suffix, suffix)

    def command(self, model, drop: tuple[str, ...], name: str, optional: tuple[str, ...],
                require: tuple[str, ...] = ()) -> dict:
        schema = model.model_json_schema(ref_template=REF)
        for gone in drop:
            schema["properties"].pop(gone)
        required = [r for r in schema.get("required", []) if r not in drop and r not in optional]
        required += [r for r in require if r not in required]
        if required:
            schema["required"] = required
        else:
            schema.pop("required", None)
        if drop:
            name = name + "Body"
            schema["title"] = name
            schema["description"] = ((schema.get("description") or "").strip() + "\n\n" +
                                      "The gateway fills in " + ", ".join(drop) + " itself.").strip()
        return self._hoist(schema, name)

    def resolve(self, source) -> dict:
        """A schema from: a pydantic model, ("out", model), ("ref", model), a command(...) or a dict."""
        if isinstance(source, type) and issubclass(source, BaseModel):
            return self.model(source)
        if isinstance(source, tuple) and source[0] == "command":
            return self.command(*source[1:])
        if isinstance(source, tuple) and source[0] == "out":
            return self.model(source[1], mode="serialization")
        if isinstance(source, tuple) and source[0] == "ref":
            return self.model(source[1])
        if isinstance(source, dict):
            return {key: self._resolve_value(value) for key, value in source.items()}
        raise TypeError(f"not a schema source: {source!r}")

    def _resolve_value(self, value):
        if isinstance(value, list):
            return [self.resolve(v) if isinstance(v, (tuple, type)) else self._resolve_value(v) for v in value]
        if isinstance(value, dict):
            return self.resolve(value)
        return value


def _rename_refs(schema, suffix: str):
    if not suffix:
        return schema
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/schemas/"):
                out[key] = value + suffix
            else:
                out[key] = _rename_refs(value, suffix)
        return out
    if isinstance(schema, list):
        return [_rename_refs(v, suffix) for v in schema]
    return schema


def operations(service_cls) -> list[Route]:
    """The documented routes of a service class, in a stable order (by path, then method)."""
    order = {"GET": 0, "POST": 1, "PUT": 2, "DELETE": 3}
    return sorted((spec for spec in declarations(service_cls) if spec.documented),
                  key=lambda spec: (spec.doc_path, order.get(spec.method, 9)))


def _security(op: Route) -> list[dict]:
    if op.public:
        return []
    if op.write or op.method != "GET":
        return [{"bearer": []}, {"session": [], "csrf": []}]
    return [{"bearer": []}, {"session": []}]


def _description(op: Route) -> str:
    lines = [f"{op.summary_th}\n\n{op.summary_en}."]
    if op.description:
        lines.append(op.description)
    if op.roles:
        lines.append("Roles / บทบาท: " + ", ".join(op.roles) + ".")
    lines.append(f"Scope / ขอบเขต ({op.scope.name}): {op.scope.rule_en} / {op.scope.rule_th}.")
    if op.write:
        lines.append("Audited (who, when, what, from where, before and after). With the session cookie, "
                     "send X-CSRF-Token.")
    if op.idempotent:
        lines.append("Idempotent with `Idempotency-Key` (optional header): a retry with the same key and request "
                     "answers the first answer again, changing nothing; the same key with a different request: "
                     "422 `idempotency_key_reused`.")
    if op.documented:
        lines.append("Query parameters are strict: one not listed here is refused (422, named in `field`).")
    return "\n\n".join(lines)


ERROR_TEXT = {
    400: "bad request: body is not JSON, or a query parameter is not a valid number",
    401: "no valid bearer token or session",
    403: "the role may not do this, the unit is not the addressee, or the CSRF token is missing",
    404: "not found (or not within the caller's unit)",
    409: "conflict with the current state (or: a request with this Idempotency-Key is still running)",
    413: "body or file too large",
    415: "unsupported Content-Type or file type",
    422: "invalid input: field at fault in `field` (an unknown query parameter is named there too)",
    429: "account temporarily locked after repeated wrong passwords",
    502: "a service behind the gateway failed",
    503: "a service behind the gateway did not answer (retry with the same Idempotency-Key; the request may "
         "have taken effect), or not configured",
}


def implied_errors(op: Route) -> set[int]:
    """The statuses the declaration itself may answer, whatever the handler does."""
    errors: set[int] = set()
    if op.body and JSON in op.body:
        errors |= {400, 413, 415, 422}                # not JSON, too large, not application/json, invalid
    if op.documented:
        errors.add(422)                               # a query parameter the route does not declare
    if op.public:
        return errors
    errors |= {401, 502, 503}                         # upstream.py: a service failed, or gave no answer
    if op.write or op.roles:
        errors.add(403)                               # the role, a read-only token, CSRF, out of scope
    if op.scope.targets:
        errors.add(403 if op.write else 404)          # out of scope
    if op.exports:
        errors.add(422)                               # an unknown format
    if op.idempotent:
        errors |= set(IDEMPOTENCY_ERRORS)             # Idempotency-Key: bad (400), in progress (409), reused (422)
    return errors


def _no_control_characters(schema, components: dict, seen: set) -> None:
    """Every text of a JSON body is refused if it holds a control character (read_json; tab and line
    breaks only where the field allows them): say it, as a pattern, on every string that says nothing
    narrower (its own pattern, a list of values, a format)."""
    if isinstance(schema, list):
        for item in schema:
            _no_control_characters(item, components, seen)
        return
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name not in seen:
            seen.add(name)
            _no_control_characters(components.get(name), components, seen)
    kinds = schema.get("type")
    if (kinds == "string" or (isinstance(kinds, list) and "string" in kinds)) and not (
            {"pattern", "enum", "const", "format"} & set(schema)):
        schema["pattern"] = TEXT_PATTERN
    for key in ("properties", "patternProperties", "$defs"):
        for sub in (schema.get(key) or {}).values():
            _no_control_characters(sub, components, seen)
    for key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "prefixItems", "not"):
        if key in schema:
            _no_control_characters(schema[key], components, seen)


def build_document(service_cls) -> dict:
    """The OpenAPI 3.1 document of the gateway, from the route declarations of ``service_cls``."""
    components = _Components()
    problem_ref = {"$ref": REF.format(model="Problem")}
    paths: dict[str, dict] = {}
    bodies: list[dict] = []   # the JSON request bodies' schemas
    for op in operations(service_cls):
        operation: dict[str, Any] = {
            "operationId": op.operation_id, "tags": [op.tag], "summary": f"{op.summary_en} — {op.summary_th}",
            "description": _description(op), "security": _security(op),
            "x-scope": op.scope.name, "x-roles": list(op.allowed_roles) if not op.public else []}
        if op.all_params:
            operation["parameters"] = [_parameter(param) for param in op.all_params]
        if op.body:
            content = {}
            for media, spec in op.body.items():
                entry = {"schema": components.resolve(spec["schema"]) if not isinstance(spec["schema"], dict)
                         else components.resolve(spec["schema"])}
                if "example" in spec:
                    entry["example"] = spec["example"]
                if media == "multipart/form-data":
                    entry["encoding"] = {"file": {"contentType": "application/octet-stream"}}
                content[media] = entry
            operation["requestBody"] = {"required": op.body_required, "content": content}
        responses: dict[str, dict] = {}
        for status, (text, source) in op.ok.items():
            if isinstance(source, tuple) and source[0] not in ("out", "ref", "command"):
                media, schema = source
            else:
                media, schema = JSON, source
            responses[status] = {"description": text, "content": {media: {"schema": components.resolve(schema)}}}
            if op.exports and status == "200":
                responses[status]["description"] += "; with format=csv or xlsx the same rows as a file (attachment)"
                responses[status]["content"][CSV_MEDIA] = {"schema": {"type": "string"}}
                responses[status]["content"][XLSX_MEDIA] = {"schema": {"type": "string", "format": "binary"}}
        errors = set(op.errors) | implied_errors(op)
        for status in sorted(errors):
            if str(status) in responses:  # a report or a problem, told apart by the media type
                responses[str(status)]["content"][PROBLEM] = {"schema": problem_ref}
            else:
                responses[str(status)] = {"description": ERROR_TEXT[status],
                                          "content": {PROBLEM: {"schema": problem_ref}}}
        if op.idempotent:  # any final answer (2xx, 4xx) may be the replay of the key's first one
            for status, response in responses.items():
                if not status.startswith("5"):
                    response["headers"] = {REPLAYED_HEADER: {
                        "description": "`true` when this is the stored answer to an earlier request with the same "
                                       "Idempotency-Key (nothing was done again)",
                        "schema": {"type": "string", "enum": ["true"]}}}
        operation["responses"] = responses
        paths.setdefault(op.doc_path, {})[op.method.lower()] = operation
        bodies += [entry["schema"] for media, entry in operation.get("requestBody", {}).get("content", {}).items()
                   if media == JSON]
    _no_control_characters(bodies, components.schemas, set())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Thongthin API (ท้องถิ่น)",
            "version": "1",
            "summary": "ข้อสั่งการ ภาระการรายงาน และผลการรายงานของ อปท. / Directives, reporting obligations "
                       "and reports of Thailand's local administrative organisations",
            "description": (
                "ระบบส่งข้อสั่งการจากกระทรวงมหาดไทยถึงจังหวัด อำเภอ และองค์กรปกครองส่วนท้องถิ่น "
                "ติดตามการรายงานตามกำหนด และสรุปผล\n\n"
                "The Department of Local Administration's platform: directives travel from the Ministry of "
                "Interior down to provinces, districts and ~7,850 LAOs, become reporting obligations with "
                "deadlines, and are reported on.\n\n"
                "**Authentication**: `POST /api/v1/auth/token` gives a bearer token (`Authorization: Bearer "
                "<token>`). The web UI logs in with `POST /api/v1/auth/session` (HttpOnly cookie `tt_session`) "
                "and sends the CSRF token in `X-CSRF-Token` on every write.\n\n"
                "**Errors** are `application/problem+json` with a stable `code`, the `field` at fault, and "
                "`message_th` / `message_en`. Thai text is returned exactly as sent (UTF-8)."),
        },
        "servers": [{"url": "/", "description": "this gateway / เกตเวย์นี้"}],
        "tags": [{"name": name, "description": f"{thai} — {english}"} for name, thai, english in TAGS],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.schemas.items())),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "a token from POST /api/v1/auth/token / โทเคนจากการเข้าสู่ระบบ"},
                "session": {"type": "apiKey", "in": "cookie", "name": "tt_session",
                            "description": "the web session cookie from POST /api/v1/auth/session (HttpOnly)"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                         "description": "for writes with the session cookie: the csrf_token of the login "
                                        "(also in the tt_csrf cookie)"},
            },
        },
    }


def _parameter(param: Param) -> dict:
    out = {"name": param.name, "in": param.where, "required": param.required, "schema": param.schema}
    if param.description:
        out["description"] = param.description
    if param.example is not None:
        out["example"] = param.example
    return out


# ================================================================================================
# The docs page (server-side HTML, no external assets)
# ================================================================================================

_CSS = """
body{font-family:"Sarabun","Noto Sans Thai","Leelawadee UI",Tahoma,sans-serif;margin:0;color:#1d2430;
line-height:1.5;background:#fafbfc}
header{background:#13315c;color:#fff;padding:1.2rem 2rem}header h1{margin:0 0 .3rem;font-size:1.5rem}
header p{margin:.2rem 0;max-width:70rem}header a{color:#cfe3ff}
nav{padding:.6rem 2rem;background:#e9eef5;font-size:.95rem}nav a{margin-right:1rem;color:#13315c}
main{padding:1rem 2rem;max-width:80rem}h2{border-bottom:2px solid #13315c;padding-bottom:.2rem;margin-top:2rem}
details.op{background:#fff;border:1px solid #d5dbe3;border-radius:6px;margin:.5rem 0;padding:.4rem .8rem}
summary{cursor:pointer}.m{display:inline-block;min-width:4.2rem;font-weight:bold;font-family:monospace;
padding:0 .3rem;border-radius:3px;color:#fff;text-align:center}.GET{background:#1f7a4d}.POST{background:#1d5fa8}
.PUT{background:#8a5a00}.DELETE{background:#a3262a}code,.path{font-family:ui-monospace,Consolas,monospace}
.path{font-weight:bold}table{border-collapse:collapse;margin:.4rem 0;font-size:.92rem}
td,th{border:1px solid #d5dbe3;padding:.2rem .5rem;vertical-align:top;text-align:left}th{background:#f0f3f7}
pre{background:#f4f6f9;border:1px solid #d5dbe3;padding:.5rem;overflow:auto;font-size:.88rem}
.muted{color:#5b6675}.req{color:#a3262a}.schema{margin-left:1rem}
"""


def _type_text(schema: dict) -> str:
    if not isinstance(schema, dict):
        return ""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#schema-{html.escape(name)}">{html.escape(name)}</a>'
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            joiner = " & " if combinator == "allOf" else " | "
            return joiner.join(_type_text(part) for part in schema[combinator])
    kind = schema.get("type", "any")
    if kind == "array":
        return "array of " + _type_text(schema.get("items", {}))
    if kind == "object" and "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
        return "object of " + _type_text(schema["additionalProperties"])
    text = html.escape(str(kind))
    facts = []
    if "format" in schema:
        facts.append(html.escape(schema["format"]))
    if "enum" in schema:
        facts.append(" / ".join(html.escape(json.dumps(v, ensure_ascii=False)) for v in schema["enum"]))
    if "const" in schema:
        facts.append("= " + html.escape(json.dumps(schema["const"], ensure_ascii=False)))
    for key, sign in (("minimum", "≥"), ("maximum", "≤"), ("minLength", "length ≥"), ("maxLength", "length ≤"),
                      ("minItems", "items ≥"), ("maxItems", "items ≤")):
        if key in schema:
            facts.append(f"{sign} {schema[key]}")
    if "pattern" in schema:
        facts.append(f"<code>{html.escape(schema['pattern'])}</code>")
    if "default" in schema:
        facts.append("default " + html.escape(json.dumps(schema["default"], ensure_ascii=False)))
    return text + (f' <span class="muted">({"; ".join(facts)})</span>' if facts else "")


def _properties_table(schema: dict) -> str:
    properties = schema.get("properties") or {}
    if not properties:
        return f"<p>{_type_text(schema)}</p>"
    required = set(schema.get("required", []))
    rows = []
    for name, prop in properties.items():
        mark = ' <span class="req">*</span>' if name in required else ""
        rows.append(f"<tr><td><code>{html.escape(name)}</code>{mark}</td><td>{_type_text(prop)}</td>"
                    f"<td>{html.escape(prop.get('description', '') if isinstance(prop, dict) else '')}</td></tr>")
    extra = "" if schema.get("additionalProperties") is not False else \
        '<p class="muted">No other fields / ไม่รับช่องข้อมูลอื่น</p>'
    return ("<table><tr><th>field / ช่องข้อมูล</th><th>type / ชนิด</th><th>notes / หมายเหตุ</th></tr>"
            + "".join(rows) + "</table>" + extra)


def render_docs(document: dict) -> str:
    """The browsable docs: operations grouped by tag, parameters, bodies, responses, examples."""
    esc = html.escape
    info = document["info"]
    by_tag: dict[str, list] = {}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            by_tag.setdefault(operation["tags"][0], []).append((method.upper(), path, operation))
    tags = [t for t in document["tags"] if t["name"] in by_tag]
    out = ["<!DOCTYPE html><html lang=\"th\"><head><meta charset=\"utf-8\">",
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
           f"<title>{esc(info['title'])}</title><style>{_CSS}</style></head><body>",
           f"<header><h1>{esc(info['title'])}</h1><p>{esc(info['summary'])}</p>",
           "<p>คู่มือนี้สร้างจากเอกสาร OpenAPI 3.1 ที่ <a href=\"" + OPENAPI_PATH + "\">" + OPENAPI_PATH +
           "</a> / This page is rendered from the OpenAPI 3.1 document at <a href=\"" + OPENAPI_PATH + "\">"
           + OPENAPI_PATH + "</a>.</p></header>",
           "<nav>" + "".join(f'<a href="#tag-{esc(t["name"])}">{esc(t["name"])}</a>' for t in tags)
           + '<a href="#schemas">schemas</a></nav><main>']
    for paragraph in info["description"].split("\n\n"):
        out.append(f"<p>{esc(paragraph)}</p>")
    for tag in tags:
        out.append(f'<h2 id="tag-{esc(tag["name"])}">{esc(tag["name"])} '
                   f'<span class="muted">— {esc(tag["description"])}</span></h2>')
        for method, path, operation in by_tag[tag["name"]]:
            out.append(f'<details class="op" id="op-{esc(operation["operationId"])}"><summary>'
                       f'<span class="m {method}">{method}</span> <span class="path">{esc(path)}</span> '
                       f'— {esc(operation["summary"])}</summary>')
            for paragraph in operation["description"].split("\n\n")[1:]:
                out.append(f"<p>{esc(paragraph)}</p>")
            security = operation.get("security") or []
            out.append("<p><b>Auth / การยืนยันตัวตน:</b> " + (
                " or ".join(" + ".join(requirement) for requirement in security) if security
                else "none / ไม่ต้องเข้าสู่ระบบ") + f' · <code>operationId: {esc(operation["operationId"])}</code></p>')
            if operation.get("parameters"):
                out.append("<h4>Parameters / พารามิเตอร์</h4><table><tr><th>name</th><th>in</th><th>type</th>"
                           "<th>notes</th></tr>")
                for param in operation["parameters"]:
                    mark = ' <span class="req">*</span>' if param.get("required") else ""
                    example = (f' <span class="muted">e.g. {esc(json.dumps(param["example"], ensure_ascii=False))}'
                               f"</span>" if "example" in param else "")
                    out.append(f"<tr><td><code>{esc(param['name'])}</code>{mark}</td><td>{esc(param['in'])}</td>"
                               f"<td>{_type_text(param['schema'])}</td>"
                               f"<td>{esc(param.get('description', ''))}{example}</td></tr>")
                out.append("</table>")
            if operation.get("requestBody"):
                out.append("<h4>Request body / ข้อมูลที่ส่ง</h4>")
                for media, entry in operation["requestBody"]["content"].items():
                    out.append(f"<p><code>{esc(media)}</code>: {_type_text(entry['schema'])}</p>")
                    if "example" in entry:
                        example = entry["example"]
                        text = example if isinstance(example, str) else json.dumps(example, ensure_ascii=False,
                                                                                    indent=2)
                        out.append(f"<pre>{esc(text)}</pre>")
            out.append("<h4>Responses / ผลลัพธ์</h4><table><tr><th>status</th><th>content</th><th>meaning</th></tr>")
            for status, response in operation["responses"].items():
                contents = "<br>".join(f"<code>{esc(media)}</code> {_type_text(entry['schema'])}"
                                       for media, entry in response.get("content", {}).items())
                out.append(f"<tr><td>{esc(status)}</td><td>{contents}</td><td>{esc(response['description'])}</td></tr>")
            out.append("</table></details>")
    out.append('<h2 id="schemas">Schemas / โครงสร้างข้อมูล</h2>')
    for name, schema in document["components"]["schemas"].items():
        out.append(f'<details class="op" id="schema-{esc(name)}"><summary><code>{esc(name)}</code></summary>')
        if schema.get("description"):
            out.append(f"<p>{esc(schema['description'])}</p>")
        out.append(f'<div class="schema">{_properties_table(schema)}</div></details>')
    out.append('<h2>Example error / ตัวอย่างข้อผิดพลาด</h2><pre>' + esc(json.dumps({
        "type": "urn:thongthin:problem:invalid", "title": "the value misses the target (80): add a short explanation",
        "status": 422, "code": "note_required", "field": "values[0].note",
        "message_th": "ค่าไม่ถึงเป้าหมาย (80) ต้องอธิบายเหตุผล",
        "message_en": "the value misses the target (80): add a short explanation",
        "detail": "ค่าไม่ถึงเป้าหมาย (80) ต้องอธิบายเหตุผล / the value misses the target (80): add a short explanation"},
        ensure_ascii=False, indent=2)) + "</pre>")
    out.append("</main></body></html>")
    return "\n".join(out)


_CACHE: dict[Any, tuple[str, str]] = {}


def _rendered(service_cls) -> tuple[str, str]:
    if service_cls not in _CACHE:
        document = build_document(service_cls)
        _CACHE[service_cls] = (json.dumps(document, ensure_ascii=False), render_docs(document))
    return _CACHE[service_cls]


class ApiDocsRoutes:
    """Mixed into GatewayService: the document and the docs page (both public, no external assets)."""

    @route("GET", OPENAPI_PATH, tag="platform", th="เอกสาร OpenAPI นี้", en="This OpenAPI document", scope=PUBLIC,
           ok={"200": ("OpenAPI 3.1", {"type": "object"})})
    def openapi_document(self, request):
        return 200, {"Content-Type": "application/json; charset=utf-8",
                     "Access-Control-Allow-Origin": "*"}, _rendered(type(self))[0]

    @route("GET", DOCS_PATH, tag="platform", th="คู่มือ API (หน้าเว็บ)", en="Browsable API docs (HTML)", scope=PUBLIC,
           ok={"200": ("HTML page", ("text/html", {"type": "string"}))})
    def api_docs(self, request):
        return 200, {"Content-Type": "text/html; charset=utf-8",
                     "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                     "X-Content-Type-Options": "nosniff"}, _rendered(type(self))[1]


# ================================================================================================
# The README's "Who may do what", from the same declarations (tests/unit/test_openapi.py keeps it current)
# ================================================================================================

README_START = "<!-- who-may-do-what: generated by `python -m services.gateway.openapi readme`; do not edit -->"
README_END = "<!-- /who-may-do-what -->"


def who_may_do_what(service_cls) -> str:
    """Markdown: every route with its roles and scope rule, then what each rule means."""
    specs = sorted(declarations(service_cls), key=lambda spec: (spec.doc_path, spec.method))
    lines = [README_START, "", "| route | roles | scope rule |", "|---|---|---|"]
    for spec in specs:
        roles = "anyone" if spec.public else ("every role" if not spec.roles else ", ".join(spec.allowed_roles))
        write = " (write)" if spec.write else ""
        lines.append(f"| `{spec.method} {spec.doc_path}`{write} | {roles} | {spec.scope.name} |")
    lines += ["", "| scope rule | who may act on what |", "|---|---|"]
    rules = {spec.scope.name: spec.scope for spec in specs}
    for name in sorted(rules):
        lines.append(f"| {name} | {rules[name].rule_en} ({rules[name].rule_th}) |")
    return "\n".join(lines + ["", README_END])


if __name__ == "__main__":  # python -m services.gateway.openapi readme: rewrite the README's table
    import pathlib
    import sys

    from services.gateway.service import GatewayService
    if sys.argv[1:] != ["readme"]:
        raise SystemExit("usage: python -m services.gateway.openapi readme")
    readme = pathlib.Path(__file__).resolve().parents[2] / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(README_START), text.index(README_END) + len(README_END)
    readme.write_text(text[:start] + who_may_do_what(GatewayService) + text[end:], encoding="utf-8")
