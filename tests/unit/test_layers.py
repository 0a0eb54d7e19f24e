"""The import rules of ARCHITECTURE.md, kept by the build: no service imports another (the gateway
included), and the shared library imports no service. The contracts live in pyproject.toml
([tool.importlinter]); `make test` runs lint-imports before pytest, and this test runs it too (a third of
a second), so a forbidden import fails the unit tests as well, naming the import chain."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _contracts() -> list[dict]:
    return tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["importlinter"]["contracts"]


def test_every_service_is_in_the_independence_contract():
    services = {f"services.{path.parent.name}" for path in (REPO / "services").glob("*/service.py")}
    independent = [c for c in _contracts() if c["type"] == "independence"]
    assert len(independent) == 1
    assert services and set(independent[0]["modules"]) == services


def test_shared_may_not_import_services():
    forbidden = [c for c in _contracts() if c["type"] == "forbidden" and c["source_modules"] == ["shared"]]
    assert len(forbidden) == 1 and "services" in forbidden[0]["forbidden_modules"]


def test_lint_imports_keeps_every_contract():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in result.stdout
