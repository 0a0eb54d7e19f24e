"""The gateway built in the test process: ``GatewayService`` from nameko's ``worker_factory``, its RPC
proxies replaced by the fakes of tests/interface/fakes.py, its own database a real SQLite file migrated
with its alembic history, and requests made with werkzeug's test tools and routed by the same route
declarations nameko serves (services/gateway/routing.py). No broker, no process, no eventlet patching:
a request is a method call, so the matrix of every route and role answers in seconds.

    gateway = InProcessGateway(tmp_path, template_dir)
    response = gateway.call("GET", "/api/v1/obligations/obl-in", role="lao")
    response.status_code, response.json
"""
from __future__ import annotations

import io
import json
import shutil
import uuid
from datetime import timedelta

from werkzeug.routing import Map, Rule
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from devtools.demo import DEMO_USERS
from services.gateway import auth, service as gateway_module
from services.gateway.idempotency import IdempotentRequest
from services.gateway.routing import declarations
from services.gateway.service import GatewayService
from shared.db import Database
from tests.interface.fakes import FakeAssessments, FakeNotifications, FakePlans, FakeReporting, World
from tests.support.inprocess import WorkerCtx, migrated_sqlite, unit_of_work, worker_factory

# role -> (username, org code) of the demo user acting in that role
USERS = {role: (username, org) for username, _password, role, org, _name in DEMO_USERS}
PASSWORDS = {username: password for username, password, *_ in DEMO_USERS}
OUTSIDER = ("lao-170101", "singburi-lao-2569", "lao", "LAO-170101")   # Sing Buri's LAO
ROUTES = sorted(declarations(GatewayService), key=lambda spec: (spec.doc_path, spec.method))
BY_ID = {spec.operation_id: spec for spec in ROUTES}
URL_MAP = Map([Rule(spec.path, methods=[spec.method], endpoint=spec.operation_id) for spec in ROUTES])

_TEMPLATE: dict[str, object] = {}


def _template(template_dir) -> tuple:
    """The gateway database with the demo users (and Sing Buri's LAO) and a token for each, built once
    per test process (argon2 is slow on purpose) and copied for each test."""
    if "path" not in _TEMPLATE:
        path = template_dir / "gateway-users.db"
        url = migrated_sqlite("gateway", path, template_dir)
        database = Database(url)
        tokens = {}
        with database.session() as session:
            for username, password, role, org, name in [*DEMO_USERS, (*OUTSIDER, "อบต. สิงห์บุรี")]:
                auth.create_user(session, username=username, password=password, role=role, org_code=org,
                                 display_name=name)
            session.commit()
            for username, password, *_ in [*DEMO_USERS, OUTSIDER]:
                tokens[username] = auth.login(session, username, password)["token"]
            session.commit()
        database.dispose()
        _TEMPLATE.update(path=path, tokens=tokens)
    return _TEMPLATE["path"], _TEMPLATE["tokens"]


class InProcessGateway:
    def __init__(self, tmp_path, template_dir):
        template, self.tokens = _template(template_dir)
        shutil.copyfile(template, tmp_path / "gateway.db")
        self.database = Database(f"sqlite:///{tmp_path / 'gateway.db'}")
        self.world = World()
        self.plans, self.assessments = FakePlans(self.world), FakeAssessments(self.world)
        self.notifications, self.reporting = FakeNotifications(self.world), FakeReporting(self.world)
        self.config = {"SERVICE_URLS": {}, "COOKIE_SECURE": False}
        gateway_module._SCOPES.clear()   # the subtree cache is per process; each test has its own world

    def close(self) -> None:
        self.database.dispose()

    def fakes(self):
        return (self.plans, self.assessments, self.notifications, self.reporting)

    def writes(self) -> list[str]:
        return [name for fake in self.fakes() for name in fake.writes()]

    def forget_calls(self) -> None:
        for fake in self.fakes():
            fake.calls.clear()

    def worker(self, correlation_id: str):
        """A fresh worker, as nameko makes one per request."""
        ctx = WorkerCtx(correlation_id=correlation_id)
        return worker_factory(
            GatewayService, plans=self.plans, assessments=self.assessments, notifications=self.notifications,
            reporting=self.reporting, config=self.config, context=correlation_id,
            uow=unit_of_work(self.database, correlation_id=correlation_id),
            idempotency=IdempotentRequest(ctx, self.database, timedelta(hours=24), timedelta(seconds=150)))

    def token(self, role: str | None = None, username: str | None = None) -> str:
        return self.tokens[username or USERS[role][0]]

    def call(self, method: str, path: str, *, role: str | None = None, username: str | None = None,
             token: str | None = None, query=None, json_body=None, data=None, files=None,
             headers: dict | None = None, cookies: dict | None = None) -> Response:
        """One request through the route its method and path match; ``role``/``username``/``token``
        authenticate it with a bearer token (none: anonymous)."""
        headers = dict(headers or {})
        if token or role or username:
            headers.setdefault("Authorization", f"Bearer {token or self.token(role, username)}")
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        if files:
            data = {**(data or {}), **{name: (io.BytesIO(content), filename, content_type)
                                       for name, (filename, content, content_type) in files.items()}}
        builder = EnvironBuilder(method=method, path=path, query_string=query, json=json_body, data=data,
                                 headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        try:
            request = Request(builder.get_environ())
        finally:
            builder.close()
        endpoint, values = URL_MAP.bind_to_environ(request.environ).match()
        correlation_id = str(uuid.uuid4())
        result = getattr(self.worker(correlation_id), endpoint)(request, **values)
        return as_response(result)

    def audit_rows(self, **where) -> list[dict]:
        from sqlalchemy import select
        from services.gateway.models import audit_log
        query = select(audit_log).order_by(audit_log.c.id)
        for column, value in where.items():
            query = query.where(audit_log.c[column] == value)
        with self.database.session() as session:
            return [dict(row) for row in session.execute(query).mappings()]


def as_response(result) -> Response:
    """What nameko's HttpRequestHandler makes of an entrypoint's result."""
    if isinstance(result, Response):
        return result
    status, headers, payload = result if len(result) == 3 else (result[0], None, result[1])
    return Response(payload, status=status, headers=headers)


def body(response: Response):
    return json.loads(response.get_data(as_text=True))
