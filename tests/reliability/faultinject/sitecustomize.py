"""Fault injection for service processes started by tests/reliability (never shipped, never imported
by production code). Python imports this module at start-up when this directory is on PYTHONPATH;
it does nothing unless THONGTHIN_FAULT is set:

    THONGTHIN_FAULT=kill_before_commit:<event type>    SIGKILL inside UnitOfWork.commit, before the
                                                       commit of a consumer transaction holding it
    THONGTHIN_FAULT=kill_before_ack:<event type>       SIGKILL at the first kombu Message.ack after
                                                       that transaction committed
    THONGTHIN_FAULT=kill_before_mark_sent:<event type> SIGKILL after the relay's publish of it was
                                                       confirmed, before the row is marked sent
    THONGTHIN_FAULT=poison:<text>                      reporting's handler raises ValueError for an
                                                       envelope containing <text>
    THONGTHIN_FAULT=block:<event type>                 reporting's handler blocks the OS thread
                                                       (the eventlet hub) for an hour
    THONGTHIN_FAULT=slow:<event type>:<seconds>        reporting's handler takes <seconds>
                                                       (cooperatively) once
    THONGTHIN_FAULT=slow_rpc:<handler>:<seconds>       plans' command handler (e.g. issue_directive)
                                                       takes <seconds> once, after doing its work and
                                                       before its transaction commits and the RPC
                                                       replies (a test stops the broker meanwhile)

Each fault wraps a stable seam and calls the real code; it fires once per process. It writes JSON
lines to THONGTHIN_FAULT_LOG ("armed" at start-up, "fired"/"done" with the message ids involved)
and prints a marker to stderr, so a test can prove that the fault was really injected.

Modules are patched right after they are imported (an import hook), because this file runs before
the runner monkey-patches eventlet and must not import kombu or the services that early.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import signal
import sys
import threading
import time

_real_sleep = time.sleep  # captured before eventlet.monkey_patch() makes it cooperative
SPEC = os.environ.get("THONGTHIN_FAULT", "")
LOG = os.environ.get("THONGTHIN_FAULT_LOG", "")
_lock = threading.Lock()
_state = {"fired": False, "kill_at_ack": None}


def record(stage: str, **fields) -> None:
    line = json.dumps({"stage": stage, "fault": SPEC, "pid": os.getpid(), "t": time.time(), **fields})
    if LOG:
        with open(LOG, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    sys.stderr.write(f"THONGTHIN_FAULT {line}\n")
    sys.stderr.flush()


def die(**fields) -> None:
    record("fired", **fields)
    os.kill(os.getpid(), signal.SIGKILL)


def _fire_once() -> bool:
    with _lock:
        if _state["fired"]:
            return False
        _state["fired"] = True
        return True


# --- seams ----------------------------------------------------------------------------------------

def _inbox_rows(parameters) -> list[tuple[str, str]]:
    """(message id, event type) of an INSERT INTO inbox, whatever form its parameters take
    (one dict, a list of dicts, or SQLAlchemy's insertmanyvalues keys message_id__0, ...)."""
    rows = parameters if isinstance(parameters, (list, tuple)) else [parameters]
    found = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        ids = {k[len("message_id"):]: v for k, v in row.items() if k.startswith("message_id")}
        for suffix, message_id in ids.items():
            found.append((message_id, row.get("event_type" + suffix)))
    return found


def patch_shared_db(module) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "before_cursor_execute")
    def _sniff_inbox(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO INBOX"):
            conn.info.setdefault("tt_inbox", []).extend(_inbox_rows(parameters))

    @event.listens_for(Engine, "rollback")
    def _forget(conn):
        conn.info.pop("tt_inbox", None)

    unit_of_work = module.UnitOfWork
    real_commit = unit_of_work.commit
    kind, _, event_type = SPEC.partition(":")

    def commit(self, *args, **kwargs):
        try:
            info = self.session.connection().info
        except Exception:  # no connection: nothing was written
            info = {}
        rows = info.pop("tt_inbox", [])
        matched = [mid for mid, etype in rows if etype == event_type]
        if kind == "kill_before_commit" and matched and _fire_once():
            die(message_ids=[mid for mid, _ in rows], matched=matched)
        result = real_commit(self, *args, **kwargs)
        if kind == "kill_before_ack" and matched and _fire_once():
            _state["kill_at_ack"] = {"message_ids": [mid for mid, _ in rows], "matched": matched}
            record("committed", **_state["kill_at_ack"])
        return result

    unit_of_work.commit = commit


def patch_kombu_message(module) -> None:
    message_class = module.Message
    real_ack = message_class.ack

    def ack(self, *args, **kwargs):
        pending = _state["kill_at_ack"]
        if pending is not None:
            die(acking=(self.properties or {}).get("message_id"), **pending)
        return real_ack(self, *args, **kwargs)

    message_class.ack = ack


def patch_outbox(module) -> None:
    relay_class = module.OutboxRelay
    real_init = relay_class.__init__
    event_type = SPEC.partition(":")[2]

    def __init__(self, database, publisher, *args, **kwargs):
        real_init(self, database, publisher, *args, **kwargs)
        real_publish = publisher.publish_batch

        def publish_batch(messages):
            result = real_publish(messages)
            types = {m.message_id: m.event_type for m in messages}
            matched = [mid for mid in result.confirmed if types.get(mid) == event_type]
            if matched and _fire_once():
                die(message_ids=list(result.confirmed), matched=matched)
            return result

        # only this relay's publisher: the consumers' retry/dead-letter publisher is left alone
        self.publisher = _PublisherView(publisher, publish_batch)

    relay_class.__init__ = __init__


class _PublisherView:
    def __init__(self, publisher, publish_batch):
        self._publisher = publisher
        self.publish_batch = publish_batch

    def __getattr__(self, name):
        return getattr(self._publisher, name)


def patch_reporting_handlers(module) -> None:
    real = module.record_and_project
    kind, _, rest = SPEC.partition(":")
    target, _, seconds = rest.partition(":")

    def inject(envelope) -> bool:
        """Fire the fault this message calls for; True when it was slowed (and is to be done)."""
        if kind == "poison" and target in envelope.model_dump_json():
            record("fired", message_ids=[envelope.message_id])
            raise ValueError(f"injected poison: envelope mentions {target!r}")
        if kind == "block" and envelope.type == target and _fire_once():
            record("fired", message_ids=[envelope.message_id])
            _real_sleep(3600)  # holds the eventlet hub: no heartbeat, no HTTP, nothing
        if kind == "slow" and envelope.type == target and _fire_once():
            record("fired", message_ids=[envelope.message_id])
            time.sleep(float(seconds or 3))  # cooperative after monkey-patching
            return True
        return False

    def record_and_project_many(uow, items):  # a batch: a poisoned message fails it (it is then split)
        slowed = [envelope.message_id for envelope, _ in items if inject(envelope)]
        real.many(uow, items)
        if slowed:
            record("done", message_ids=slowed)

    @module.handles_many(record_and_project_many)
    def record_and_project(event, uow, envelope):
        slowed = inject(envelope)
        real(event, uow, envelope)
        if slowed:
            record("done", message_ids=[envelope.message_id])

    module.record_and_project = record_and_project  # read by event_handlers() at class definition


def patch_plans_handlers(module) -> None:
    _, _, rest = SPEC.partition(":")
    name, _, seconds = rest.partition(":")
    real = getattr(module, name)

    def slowed(command, uow, **kwargs):
        result = real(command, uow, **kwargs)
        if _fire_once():
            record("fired", message_ids=[], command=command.model_dump(mode="json"), result=result)
            time.sleep(float(seconds or 3))  # cooperative after monkey-patching
            record("done", message_ids=[], result=result)
        return result

    slowed.__name__ = real.__name__  # run_command keys its stored results by the handler's name
    setattr(module, name, slowed)


PATCHES = {
    "kill_before_commit": {"shared.db": patch_shared_db},
    "kill_before_ack": {"shared.db": patch_shared_db, "kombu.message": patch_kombu_message},
    "kill_before_mark_sent": {"shared.messaging.outbox": patch_outbox},
    "poison": {"services.reporting.projection": patch_reporting_handlers},
    "block": {"services.reporting.projection": patch_reporting_handlers},
    "slow": {"services.reporting.projection": patch_reporting_handlers},
    "slow_rpc": {"services.plans.document_actions": patch_plans_handlers},
}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a patch on a module right after its code has run (before anyone uses it)."""

    def __init__(self, patches):
        self.patches = dict(patches)

    def find_spec(self, name, path=None, target=None):
        patch = self.patches.pop(name, None)
        if patch is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        real_exec = spec.loader.exec_module

        def exec_module(module):
            real_exec(module)
            patch(module)
            record("patched", module=name)

        spec.loader.exec_module = exec_module
        return spec


if SPEC:
    _kind = SPEC.partition(":")[0]
    if _kind not in PATCHES:
        raise SystemExit(f"THONGTHIN_FAULT: unknown fault {SPEC!r}")
    sys.meta_path.insert(0, _AfterImport(PATCHES[_kind]))
    record("armed")
