"""Alembic migrations, one history per service database.

    python -m shared.migrate                      # upgrade every service to head
    python -m shared.migrate plans reporting      # only these
    python -m shared.migrate --revision plans "add receipts"   # autogenerate a revision
"""
from __future__ import annotations

import sys

from alembic import command
from alembic.config import Config

from shared.config import REPO_ROOT, database_url

MIGRATED_SERVICES = ("plans", "assessments", "notifications", "reporting", "gateway")


def alembic_config(service: str, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(REPO_ROOT / "services" / service / "migrations"))
    config.set_main_option("sqlalchemy.url", (url or database_url(service)).replace("%", "%%"))
    config.attributes["service"] = service
    return config


def upgrade(service: str, url: str | None = None) -> None:
    from shared.db import make_engine
    engine = make_engine(url or database_url(service))  # creates var/ for SQLite files
    engine.dispose()
    command.upgrade(alembic_config(service, url), "head")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--revision"]:
        service, message = argv[1], argv[2]
        command.revision(alembic_config(service), message=message, autogenerate=True)
        return 0
    for service in argv or MIGRATED_SERVICES:
        upgrade(service)
        print(f"migrated {service}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
