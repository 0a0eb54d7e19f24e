"""A small service run by tests/unit/test_runner.py through ``python -m shared.runner`` (a real
process): it can kill its own container the way a lost broker connection used to, and hold a
request open while the process is asked to stop."""
from __future__ import annotations

import eventlet
from nameko.extensions import DependencyProvider

from shared.service_base import ServiceBase, json_response
from shared.web import http


class _ContainerFault(DependencyProvider):
    """``self.fault()``: an extension thread raises, as nameko's RPC reply did on ECONNREFUSED."""

    def get_dependency(self, worker_ctx):
        def fault():
            def broken():
                raise ConnectionRefusedError(111, "ECONNREFUSED (injected by runner_probe)")
            self.container.spawn_managed_thread(broken, identifier="injected_fault")
        return fault


class RunnerProbe(ServiceBase):
    name = "runnerprobe"
    fault = _ContainerFault()

    @http("POST", "/die")
    def die(self, request):
        self.fault()
        return json_response(202, {"dying": True})

    @http("GET", "/slow")
    def slow(self, request):
        seconds = float(request.args.get("s", "3"))
        eventlet.sleep(seconds)
        return json_response(200, {"slept": seconds})
