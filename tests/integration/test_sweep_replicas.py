"""Two replicas of assessments sweep one PostgreSQL database at once: every miss exactly once."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, insert, select

from devtools.stack import free_port
from services.assessments.models import obligations
from shared.config import REPO_ROOT
from shared.contracts import decode, utcnow
from shared.db import Database
from shared.messaging.tables import outbox
from shared.migrate import upgrade

OBLIGATIONS = 3000


def test_two_replicas_never_emit_the_same_miss_twice(postgres_url, amqp_uri, tmp_path):
    upgrade("assessments", postgres_url)
    database = Database(postgres_url)
    due = utcnow() - timedelta(minutes=5)
    rows = [{"id": str(uuid.uuid4()), "unit_code": f"LAO-{i:05d}", "source_key": "rule:bench", "rule_id": "bench",
             "directive_id": "d", "assignment_id": None, "indicator_code": "I", "indicator_name_th": "ตัวชี้วัด",
             "indicator_codes": '["I"]', "period": "2569-11", "period_start": None, "period_end": None,
             "opens_at": None, "due_at": due, "extended_due_at": None, "closes_at": None, "state": "open",
             "missed_at": None, "correlation_id": "c", "created_at": due} for i in range(OBLIGATIONS)]
    with database.session() as session:
        session.execute(insert(obligations), rows)
        session.commit()
    replicas = []
    for index in range(2):
        env = {"AMQP_URI": amqp_uri, "ASSESSMENTS_DATABASE_URL": postgres_url, "PATH": "/usr/bin:/bin",
               "ASSESSMENTS_HTTP_ADDRESS": f"127.0.0.1:{free_port()}", "THONGTHIN_VAR_DIR": str(tmp_path),
               "THONGTHIN_SWEEP_INTERVAL_S": "0.2", "THONGTHIN_SWEEP_BATCH_SIZE": "50"}
        log = open(tmp_path / f"replica-{index}.log", "wb")
        replicas.append(subprocess.Popen([sys.executable, "-m", "shared.runner", "assessments"], cwd=REPO_ROOT,
                                         env=env, stdout=log, stderr=subprocess.STDOUT))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with database.session() as session:
                still_open = session.execute(select(func.count()).select_from(obligations)
                                             .where(obligations.c.state == "open")).scalar_one()
            if still_open == 0:
                break
            time.sleep(0.5)
        time.sleep(1.5)  # several more sweeps by both replicas
    finally:
        for replica in replicas:
            replica.terminate()
        for replica in replicas:
            replica.wait(30)
    with database.session() as session:
        bodies = session.execute(select(outbox.c.body).where(
            outbox.c.event_type == "assessments.deadline_missed.v1")).scalars().all()
    per_obligation = Counter(decode(body)[1].obligation_id for body in bodies)
    swept_by = [sum(json.loads(line).get("deadlines_missed", 0)
                    for line in (tmp_path / f"replica-{i}.log").read_text().splitlines()
                    if '"deadline_sweep"' in line) for i in range(2)]
    print(f"misses emitted: {len(bodies)} for {OBLIGATIONS} obligations; per replica {swept_by}")
    assert still_open == 0
    assert len(per_obligation) == OBLIGATIONS and max(per_obligation.values()) == 1
    assert sum(swept_by) == OBLIGATIONS and min(swept_by) > 0, "both replicas took part"
    database.dispose()
