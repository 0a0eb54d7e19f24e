"""The OpenAPI document stays honest: every gateway route is declared once (with its roles and scope
rule) and the document is built from those declarations; valid OpenAPI 3.1, request bodies taken from
the services' own commands, and a docs page that renders it."""
from __future__ import annotations

import inspect
import json
import pathlib
import re

import pytest
from nameko.web.handlers import HttpRequestHandler

from services.gateway import openapi, routing
from services.gateway.service import GatewayService

CONVERTER = re.compile(r"<(?:[a-zA-Z_]+(?:\([^)]*\))?:)?([a-zA-Z_][a-zA-Z0-9_]*)>")


def gateway_routes(service_cls=GatewayService) -> dict[tuple[str, str], str]:
    """(METHOD, path with {name}) -> method name, for every nameko @http entrypoint of the service,
    found the way nameko's container finds them (inspect.getmembers + nameko_entrypoints)."""
    routes = {}
    for name, member in inspect.getmembers(service_cls, inspect.isfunction):
        for entrypoint in getattr(member, "nameko_entrypoints", ()):
            if not isinstance(entrypoint, HttpRequestHandler):
                continue
            for method in entrypoint.method.split(","):
                routes[(method.strip().upper(), CONVERTER.sub(r"{\1}", entrypoint.url))] = name
    return routes


def documented(document) -> dict[tuple[str, str], dict]:
    return {(method.upper(), path): operation for path, methods in document["paths"].items()
            for method, operation in methods.items()}


@pytest.fixture(scope="module")
def document():
    return openapi.build_document(GatewayService)


def test_every_gateway_route_is_declared_with_a_scope_rule_and_documented(document):
    routes = gateway_routes()
    assert routes, "no @http entrypoints found on GatewayService"
    assert routing.undeclared(GatewayService) == [], "an @http route without routing.route(...): declare it"
    declared = {(spec.method, spec.doc_path): spec for spec in routing.declarations(GatewayService)}
    assert set(declared) == set(routes)
    for key, spec in declared.items():
        assert isinstance(spec.scope, routing.Scope), key
        assert spec.public == (spec.scope is routing.PUBLIC), key
        assert spec.tag and spec.summary_th and spec.summary_en, key
        assert set(spec.allowed_roles) <= set(routing.ROLES), key
    ops = documented(document)
    assert set(ops) == {key for key, spec in declared.items() if spec.documented}
    assert {key for key, spec in declared.items() if not spec.documented} == {("GET", "/"), ("GET", "/static/{name}"),
                                                                                ("GET", "/public/lpa/{year_be}")}
    for key, operation in ops.items():
        assert operation["x-scope"] == declared[key].scope.name, key


def test_a_route_cannot_be_declared_without_a_scope_rule():
    with pytest.raises(TypeError):
        routing.route("GET", "/api/v1/nothing", tag="platform", th="ไม่มี", en="nothing")
    with pytest.raises(TypeError):
        routing.route("GET", "/api/v1/nothing", tag="platform", th="ไม่มี", en="nothing", scope="subtree")
    with pytest.raises(ValueError):
        routing.route("GET", "/api/v1/nothing", tag="platform", th="ไม่มี", en="nothing", scope=routing.OWN,
                      roles=("mayor",))


def test_public_routes_are_exactly_the_ones_meant_to_be():
    public = {(spec.method, spec.doc_path) for spec in routing.declarations(GatewayService) if spec.public}
    assert public == {("GET", "/health"), ("GET", "/metrics"), ("GET", "/api/openapi.json"), ("GET", "/api/docs"),
                      ("POST", "/api/v1/auth/token"), ("POST", "/api/v1/auth/session"),
                      ("POST", "/api/v1/line/webhook"), ("GET", "/"), ("GET", "/static/{name}"),
                      ("GET", "/api/v1/public/lpa/{year_be}/results"), ("GET", "/api/v1/public/lpa/{year_be}/summary"),
                      ("GET", "/public/lpa/{year_be}")}


def test_the_route_converter_is_read_like_werkzeug():
    assert CONVERTER.sub(r"{\1}", "/a/<string:x>/b/<int:token_id>/<y>/<path:name>") == \
        "/a/{x}/b/{token_id}/{y}/{name}"


def test_path_parameters_match_the_route_and_operation_ids_are_unique(document):
    ids = []
    for (method, path), operation in documented(document).items():
        ids.append(operation["operationId"])
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"{([^}]+)}", path)), (method, path)
        assert len(operation["tags"]) == 1 and operation["tags"][0] in {t["name"] for t in document["tags"]}
    assert len(ids) == len(set(ids))


def test_the_document_validates_as_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    json.dumps(document)  # plain JSON
    try:
        from openapi_spec_validator import validate
    except ImportError:  # fall back on schemathesis's own loader, which also checks the document
        import schemathesis
        schema = schemathesis.openapi.from_dict(document)
        operations = list(schema.get_all_operations())
        assert all(result.ok() for result in operations)
        assert len(operations) == sum(len(methods) for methods in document["paths"].values())
    else:
        validate(document)


def test_schemathesis_loads_every_operation(document):
    schemathesis = pytest.importorskip("schemathesis")
    schema = schemathesis.openapi.from_dict(document)
    labels = [result.ok().label for result in schema.get_all_operations()]
    assert len(labels) == sum(len(methods) for methods in document["paths"].values())


def test_request_bodies_come_from_the_service_commands_minus_what_the_gateway_fills_in(document):
    schemas = document["components"]["schemas"]
    submit = documented(document)[("POST", "/api/v1/obligations/{obligation_id}/submissions")]
    body = submit["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/SubmitValuesBody"}
    properties = schemas["SubmitValuesBody"]["properties"]
    assert set(properties) == {"unit_code", "values"}
    assert schemas["SubmitValuesBody"]["required"] == ["values"]
    assert schemas["SubmitValuesBody"]["additionalProperties"] is False
    receipt = schemas["RegisterReceiptBody"]
    assert "unit_code" not in receipt["properties"] and "unit_code" not in receipt["required"]
    assert schemas["RegisterUnits"]["properties"]["units"]["items"] == {"$ref": "#/components/schemas/OrgUnitInput"}


def test_security_schemes_bounds_and_problems(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer"
    assert (schemes["session"]["in"], schemes["session"]["name"]) == ("cookie", "tt_session")
    assert (schemes["csrf"]["in"], schemes["csrf"]["name"]) == ("header", "X-CSRF-Token")
    ops = documented(document)
    limit = next(p for p in ops[("GET", "/api/v1/org-units")]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 1000)
    offset = next(p for p in ops[("GET", "/api/v1/obligations")]["parameters"] if p["name"] == "offset")
    assert offset["schema"]["minimum"] == 0
    assert ops[("POST", "/api/v1/directives")]["security"] == [{"bearer": []}, {"session": [], "csrf": []}]
    assert ops[("GET", "/health")]["security"] == []
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "code", "field", "message_th", "message_en",
                                        "detail"}
    for (method, path), operation in ops.items():
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")) and path != "/health":
                assert response["content"]["application/problem+json"] == {
                    "schema": {"$ref": "#/components/schemas/Problem"}}, (method, path, status)


def test_info_is_in_thai_and_english(document):
    info = document["info"]
    assert "ท้องถิ่น" in info["title"] and "Directives" in info["summary"] and "ข้อสั่งการ" in info["summary"]


def test_the_docs_page_is_self_contained_and_bilingual(document):
    page = openapi.render_docs(document)
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert "ข้อสั่งการ" in page and "Directives" in page
    assert "องค์การบริหารส่วนตำบลบ้านกล้วย ๒" in page  # an example with Thai text and digits
    for operation in documented(document).values():
        assert f'id="op-{operation["operationId"]}"' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the docs page must not load external assets"
    assert "<script" not in page


def test_the_docs_routes_are_served_by_the_gateway():
    routes = gateway_routes()
    assert routes[("GET", openapi.OPENAPI_PATH)] == "openapi_document"
    assert routes[("GET", openapi.DOCS_PATH)] == "api_docs"


def test_every_table_route_documents_its_csv_and_xlsx_files(document):
    ops = documented(document)
    tables = [("GET", p) for p in ("/api/v1/reports/compliance", "/api/v1/reports/compliance/matrix",
                                   "/api/v1/reports/directives/{directive_id}/cascade",
                                   "/api/v1/reports/directives/{directive_id}/compliance", "/api/v1/reports/achievement",
                                   "/api/v1/reports/notifications", "/api/v1/reports/overdue", "/api/v1/obligations",
                                   "/api/v1/assignments", "/api/v1/extension-requests", "/api/v1/audit",
                                   "/api/v1/notifications/deliveries")]
    for key in tables:
        operation = ops[key]
        fmt = next(p for p in operation["parameters"] if p["name"] == "format")
        assert fmt["schema"]["enum"] == ["json", "csv", "xlsx"] and fmt["schema"]["default"] == "json", key
        content = operation["responses"]["200"]["content"]
        assert {"application/json", "text/csv", openapi.XLSX_MEDIA} <= set(content), key
        assert "422" in operation["responses"], key
    for key in (("GET", "/api/v1/reports/compliance"), ("GET", "/api/v1/reports/overdue")):
        names = {p["name"] for p in ops[key]["parameters"]}
        assert "unit_code" in names and 404 in {int(s) for s in ops[key]["responses"]}


def test_the_readme_says_who_may_do_what_as_declared():
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start, end = readme.index(openapi.README_START), readme.index(openapi.README_END) + len(openapi.README_END)
    assert readme[start:end] == openapi.who_may_do_what(GatewayService), \
        "README's 'Who may do what' table is stale: run python -m services.gateway.openapi readme"


# --- query parameters are declared, and strict -----------------------------------------------------------

def _query_names_read(function) -> set[str]:
    """The query parameters a handler reads: ``args.get("x")``, ``request.args["x"]``, ``int_arg(args, "x")``."""
    import ast
    import textwrap
    tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(function))))

    def is_args(node) -> bool:
        return (isinstance(node, ast.Name) and node.id == "args") or (isinstance(node, ast.Attribute)
                                                                       and node.attr == "args")
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            if isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "getlist") and is_args(node.func.value):
                names.add(node.args[0].value)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "int_arg" and len(node.args) >= 2:
            names.add(node.args[1].value)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and is_args(node.value):
            names.add(node.slice.value)
    return names


def test_every_query_parameter_a_handler_reads_is_declared():
    """A handler cannot read a query parameter its declaration does not name: it would be refused (422)."""
    undeclared = {}
    for spec in routing.declarations(GatewayService):
        read = _query_names_read(getattr(GatewayService, spec.operation_id))
        if isinstance(spec.scope, routing.UnitParam):
            read.add(spec.scope.param)
        if spec.documented and read - spec.query_names:
            undeclared[f"{spec.method} {spec.path}"] = sorted(read - spec.query_names)
    assert undeclared == {}


def test_an_unknown_query_parameter_is_refused_naming_it_in_thai_and_english():
    from werkzeug.test import EnvironBuilder

    from shared.errors import InputError
    specs = {spec.operation_id: spec for spec in routing.declarations(GatewayService)}
    request = EnvironBuilder(path="/api/v1/org-units", query_string="limit=5&colour=red&debug=1").get_request()
    with pytest.raises(InputError) as refused:
        specs["list_units"].check_query(request)
    error = refused.value
    assert (error.status, error.code, error.field) == (422, "unknown_parameter", "colour")
    assert "colour, debug" in error.message_en and "colour, debug" in error.message_th
    assert "ไม่รู้จักพารามิเตอร์" in error.message_th and "limit" in error.message_en  # what it takes
    specs["list_units"].check_query(EnvironBuilder(query_string="limit=5&within=PLO-09").get_request())
    # export parameters belong to the routes that export; an idempotency key is a header, not a parameter
    exporting = next(spec for spec in specs.values() if spec.exports)
    exporting.check_query(EnvironBuilder(query_string="format=csv&lang=en").get_request())
    plain = specs["me"]
    with pytest.raises(InputError):
        plain.check_query(EnvironBuilder(query_string="format=csv").get_request())
    with pytest.raises(InputError):
        specs[next(i for i, s in specs.items() if s.idempotent)].check_query(
            EnvironBuilder(query_string="Idempotency-Key=x").get_request())
    # the web UI's pages are not the API: its assets are fetched with ?v=<hash>
    specs["ui_static"].check_query(EnvironBuilder(query_string="v=abc").get_request())


def test_every_documented_operation_documents_the_422_of_an_unknown_query_parameter(document):
    for key, operation in documented(document).items():
        assert "422" in operation["responses"], key


# --- Idempotency-Key, documented where it is honoured -----------------------------------------------------

def test_the_idempotency_key_is_documented_on_exactly_the_routes_that_honour_it(document):
    ops = documented(document)
    declared = {(spec.method, spec.doc_path): spec for spec in routing.declarations(GatewayService) if spec.documented}
    honoured = {key for key, spec in declared.items() if spec.write and not spec.public}
    assert honoured, "no idempotent write?"
    with_header = {key for key, operation in ops.items()
                   if any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))}
    assert with_header == honoured
    for key in honoured:
        operation = ops[key]
        [header] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        assert header["required"] is False and header["schema"]["maxLength"] == 200
        assert "idempotency_key_reused" in header["description"] and "422" in header["description"]
        assert {"400", "409", "422"} <= set(operation["responses"]), key
        for status, response in operation["responses"].items():
            assert ("Idempotent-Replayed" in response.get("headers", {})) == (not status.startswith("5")), (key, status)
    for key in set(ops) - honoured:
        assert not any(p["name"] == "Idempotency-Key" for p in ops[key].get("parameters", [])), key


def test_a_query_value_must_fit_its_declared_schema():
    from shared.errors import InputError
    cases = [  # (schema, accepted, refused)
        ({"type": "integer", "minimum": 1, "maximum": 1000}, ["1", "1000", "007"], ["0", "1001", "1.5", " 1", "1_0", "",
                                                                                     "9" * 30]),
        ({"type": "string", "enum": ["0", "1"]}, ["0", "1"], ["", "true", "2"]),
        ({"type": "string", "maxLength": 3}, ["", "abc"], ["abcd"]),
        ({"type": "string", "pattern": "^-?(code|level)(,-?(code|level))*$"}, ["code", "-level,code"], ["", "name"]),
        ({"type": "string", "format": "date"}, ["2026-12-07", "2569-12-31"], ["", "2026-13-01", "7/12/2026"]),
    ]
    for schema, accepted, refused in cases:
        param = routing.Param("p", schema)
        for value in accepted:
            routing.check_query_value(param, value)
        for value in refused:
            with pytest.raises(InputError) as error:
                routing.check_query_value(param, value)
            assert (error.value.status, error.value.field) == (422, "p"), (schema, value)
            assert error.value.message_th and error.value.message_en
