"""The interface tier: each service built in the test process with nameko's ``worker_factory``, its
own database a migrated SQLite file, the other services as fakes (tests/interface/fakes.py). No
broker and no processes: the tier answers in seconds. What only a real stack can show (events
crossing the broker, processes restarting) stays in tests/e2e as journeys."""
from __future__ import annotations

import pytest

from tests.interface.gateway import InProcessGateway


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory):
    """Migrated databases are built here once per test process and copied for each test."""
    return tmp_path_factory.mktemp("templates")


@pytest.fixture
def gateway(tmp_path, template_dir):
    built = InProcessGateway(tmp_path, template_dir)
    yield built
    built.close()
