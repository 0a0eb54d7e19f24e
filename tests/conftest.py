"""Fixtures shared by integration and end-to-end tests: a broker and a PostgreSQL of their own."""
from __future__ import annotations

import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

TESTS = Path(__file__).parent


# Modules that share a session fixture run on one pytest-xdist worker, so the fixture is built once:
# both read the dashboard world, which takes real deadlines ~2 min to build.
SHARED_WORLDS = {"tests/e2e/test_dashboards_ui.py": "dashboard-world", "tests/e2e/test_reports_api.py": "dashboard-world"}
# The longest groups start first, so the workers finish together (longest processing time first);
# the rest keep their order. Seconds are rough, from `make test`'s --durations on a quiet machine.
LONG_GROUPS = {"tests/reliability/test_faults.py": 400, "dashboard-world": 240, "tests/e2e/test_api_fuzz.py": 210,
               "tests/e2e/test_authorization_matrix.py": 60, "tests/e2e/test_thin_journey.py": 90}


def _group(module: str) -> str:
    return SHARED_WORLDS.get(module, module)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """One module (or modules sharing a world) per worker: module-scoped platforms start once.
    (xdist's own --dist loadgroup marks do not reach its scheduler under pytest 9.)"""
    from xdist.scheduler import LoadFileScheduling

    class ByModule(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group(super()._split_scope(nodeid))

    return ByModule(config, log)


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath))
        for tier in ("integration", "e2e", "reliability"):
            if TESTS / tier in path.parents:
                item.add_marker(getattr(pytest.mark, tier))
    items.sort(key=lambda item: -LONG_GROUPS.get(_group(item.nodeid.split("::")[0]), 0))  # stable sort


def pytest_collection_finish(session):
    """Every test module is imported before any test runs: one that imports shared.runner patches
    sockets and threads with eventlet for the whole run (clients then hang). Checked in every run,
    on every worker, at no cost: the run stops here if it happened."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("socket"):
        raise pytest.UsageError("collecting the tests monkey-patched this process with eventlet: a test module "
                                "imports shared.runner (take EXIT_* from shared.observability.lifecycle)")


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
