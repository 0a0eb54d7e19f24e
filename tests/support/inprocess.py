"""A service built in the test process, without a broker or a container: its own database as a real
SQLite file migrated with the service's alembic history, and the dependencies nameko would inject
(``uow``, ``config``, ``context``) as plain objects, for ``nameko.testing.services.worker_factory``.

Nothing here imports eventlet's monkey patching: a worker built this way runs its entrypoint as a
plain method call in the pytest process (tests/conftest.py checks that no test patches it).
"""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

from shared.db import Database

with warnings.catch_warnings():  # importing nameko's testing tools imports eventlet, which warns it is deprecated
    warnings.simplefilter("ignore")
    from nameko.testing.services import worker_factory

_TEMPLATES: dict[str, Path] = {}


def migrated_sqlite(service: str, path: Path, template_dir: Path) -> str:
    """A SQLite file at ``path`` holding ``service``'s schema at alembic head. The migration runs once
    per test process (into ``template_dir``); every later database is a copy of that file."""
    template = _TEMPLATES.get(service)
    if template is None or not template.exists():
        from shared.migrate import upgrade
        template = template_dir / f"{service}-template.db"
        upgrade(service, f"sqlite:///{template}")
        _TEMPLATES[service] = template
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


__all__ = ["WorkerCtx", "migrated_sqlite", "unit_of_work", "worker_factory"]


class WorkerCtx:
    """What a dependency reads of nameko's worker context: ``data`` (correlation and idempotency keys)."""

    def __init__(self, **data):
        self.data = dict(data)


def unit_of_work(database: Database, *, correlation_id: str = "interface-test", entrypoint: str = "test",
                 idempotency_key: str | None = None):
    """``self.uow`` as shared.messaging.nameko_ext.UnitOfWork gives it to a worker."""
    def factory(**kwargs):
        kwargs.setdefault("correlation_id", correlation_id)
        return database.unit_of_work(**kwargs)
    factory.database = database
    factory.idempotency_key = idempotency_key
    factory.entrypoint = entrypoint
    return factory
