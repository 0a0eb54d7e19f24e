"""Fixtures shared by integration and end-to-end tests: a broker and a PostgreSQL of their own."""
from __future__ import annotations

import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

TESTS = Path(__file__).parent


# Modules that share a session fixture run on one worker (pytest-xdist, --dist loadgroup), so the
# fixture is built once: both read the dashboard world, which takes real deadlines ~2 min to build.
SHARED_WORLDS = {"tests/e2e/test_dashboards_ui.py": "dashboard-world", "tests/e2e/test_reports_api.py": "dashboard-world"}
# The longest groups start first, so the workers finish together (longest processing time first);
# the rest keep their order. Seconds are rough, from `make test`'s --durations on a quiet machine.
LONG_GROUPS = {"tests/reliability/test_faults.py": 400, "dashboard-world": 240, "tests/e2e/test_api_fuzz.py": 210,
               "tests/e2e/test_authorization_matrix.py": 120, "tests/e2e/test_thin_journey.py": 90}


def _group(item) -> str:
    module = item.nodeid.split("::")[0]
    return SHARED_WORLDS.get(module, module)


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the group marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath))
        for tier in ("integration", "e2e", "reliability"):
            if TESTS / tier in path.parents:
                item.add_marker(getattr(pytest.mark, tier))
        # one module (or shared world) per worker: module-scoped platforms start once
        item.add_marker(pytest.mark.xdist_group(_group(item)))
    items.sort(key=lambda item: -LONG_GROUPS.get(_group(item), 0))  # stable: the rest keep their order


# What each tier costs, printed at the end of every run (setup, call and teardown of its tests, so
# a session fixture's start-up is charged to the first tier that uses it).
TIER_SECONDS: dict[str, float] = defaultdict(float)
TIER_TESTS: dict[str, int] = defaultdict(int)
RUN_STARTED = time.monotonic()


def _tier(nodeid: str) -> str:
    parts = nodeid.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "tests" else "other"


# Lines a test asks to show in the run's summary (the reliability scenarios' RELIABILITY lines), carried
# on its report so they reach the summary from a pytest-xdist worker too.
SUMMARY_LINES: list[str] = []


def pytest_runtest_logreport(report):
    SUMMARY_LINES.extend(value for name, value in report.user_properties if name == "RELIABILITY"
                         and report.when == "teardown" and value not in SUMMARY_LINES)
    tier = _tier(report.nodeid)
    TIER_SECONDS[tier] += report.duration
    if report.when == "call":
        TIER_TESTS[tier] += 1


def pytest_terminal_summary(terminalreporter):
    if SUMMARY_LINES:
        terminalreporter.section("reliability: lost / unexpected / duplicated per scenario")
        for line in SUMMARY_LINES:
            terminalreporter.write_line(line)
    if not TIER_SECONDS:
        return
    tiers = ", ".join(f"{tier} {TIER_SECONDS[tier]:.0f} s ({TIER_TESTS[tier]} tests)"
                      for tier in ("unit", "interface", "integration", "e2e", "reliability", "other")
                      if tier in TIER_SECONDS)
    terminalreporter.write_line(f"tier times: {tiers}; whole run {time.monotonic() - RUN_STARTED:.0f} s")


@pytest.fixture(scope="session")
def rabbit():
    """A RabbitMQ node owned by this test run (or TEST_AMQP_URI if set)."""
    from tests.support.rabbitmq import rabbitmq_for_tests
    with rabbitmq_for_tests() as node:
        yield node


def new_vhost(rabbit) -> str:
    """A fresh virtual host on the test node; tests never share queues."""
    if not hasattr(rabbit, "ctl"):
        return rabbit.amqp_uri
    name = f"t-{uuid.uuid4().hex[:10]}"
    rabbit.ctl("add_vhost", name)
    rabbit.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    return rabbit.amqp_uri.rstrip("/") + "/" + name


@pytest.fixture(scope="module")
def module_amqp_uri(rabbit):
    return new_vhost(rabbit)


@pytest.fixture
def amqp_uri(rabbit):
    return new_vhost(rabbit)


@pytest.fixture(scope="session")
def postgres():
    from tests.support.postgres import postgres_for_tests
    with postgres_for_tests() as server:
        yield server


@pytest.fixture
def postgres_url(postgres):
    url = postgres.create_database("it")
    yield url
    postgres.drop_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    """Each store test runs against both stores the services support."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
        return
    server = request.getfixturevalue("postgres")
    url = server.create_database("it")
    yield url
    server.drop_database(url)
