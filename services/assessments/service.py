"""assessments: the nameko service. Entrypoints only translate: decode, call a use case, return.

Use cases by family: ``submissions`` (form, batch, file), ``reviews`` (reviews and extensions),
``views`` (queries, on a read session), ``sweeps`` (timers); events go to ``copies`` and
``obligations`` through the Inbox. ``bootstrap`` builds the settings when the container starts and
binds them to the use cases that take them (``self.app``)."""
from __future__ import annotations

import structlog

from services.assessments import reviews, submissions, sweeps, views
from services.assessments.bootstrap import AssessmentsInbox, Composition
from services.assessments.lpa.entrypoints import LpaEntrypoints
from shared.contracts.commands.assessments import (DecideExtension, RequestExtension, ReviewSubmission, SubmitBatch,
                                           SubmitValues)
from shared.messaging.nameko_ext import config_timer, reliable_event_handler
from shared.observability import metrics
from shared.errors import invalid
from shared.service_base import ServiceBase, rpc, run_command
from shared.validation import parse

log = structlog.get_logger(__name__)


class AssessmentsService(LpaEntrypoints, ServiceBase):
    name = "assessments"
    app = Composition()
    inbox = AssessmentsInbox()

    @reliable_event_handler()
    def consume(self, messages: list[tuple[bytes, int]]):
        return self.inbox.process_batch(messages)

    # --- submissions ----------------------------------------------------------------------------
    @rpc
    def submit_values(self, payload: dict) -> dict:
        return run_command(self.uow, submissions.submit_values, parse(SubmitValues, payload))

    @rpc
    def submit_batch(self, payload: dict) -> dict:
        return run_command(self.uow, submissions.submit_batch, parse(SubmitBatch, payload))

    @rpc
    def submit_file(self, content_base64: str, filename: str, submitter_unit_code: str,
                    submitted_by: str | None = None, mode: str = "all_or_nothing") -> dict:
        if mode not in ("all_or_nothing", "keep_good_rows"):
            raise invalid("mode", "mode ต้องเป็น all_or_nothing หรือ keep_good_rows",
                          "mode must be all_or_nothing or keep_good_rows")
        upload = submissions.SubmitFile(content_base64=content_base64, filename=filename,
                                        submitter_unit_code=submitter_unit_code, submitted_by=submitted_by, mode=mode)
        with self.uow() as uow:  # not through run_command: no idempotency record, as before
            result = submissions.submit_file(upload, uow)
            uow.commit()
            return result

    @rpc
    def review_submission(self, payload: dict) -> dict:
        return run_command(self.uow, self.app.bind(reviews.review_submission), parse(ReviewSubmission, payload))

    @rpc
    def request_extension(self, payload: dict) -> dict:
        return run_command(self.uow, reviews.request_extension, parse(RequestExtension, payload))

    @rpc
    def decide_extension(self, payload: dict) -> dict:
        return run_command(self.uow, self.app.bind(reviews.decide_extension), parse(DecideExtension, payload))

    # --- queries ----------------------------------------------------------------------------------
    @rpc
    def list_obligations(self, unit_code=None, directive_id=None, state=None, limit=100, offset=0,
                         unit_codes=None, rule_id=None, period=None, overdue=None, sort=None):
        with self.uow.database.session() as session:
            return views.list_obligations(session, unit_codes=unit_codes, unit_code=unit_code,
                                          directive_id=directive_id, rule_id=rule_id, state=state, period=period,
                                          overdue=bool(overdue), limit=min(int(limit), 1000), offset=int(offset),
                                          sort=sort)

    @rpc
    def get_obligation(self, obligation_id: str) -> dict:
        with self.uow.database.session() as session:
            return views.get_obligation(session, obligation_id)

    @rpc
    def get_submission(self, submission_id: str) -> dict:
        with self.uow.database.session() as session:
            return views.get_submission(session, submission_id)

    @rpc
    def get_extension_request(self, request_id: str) -> dict:
        with self.uow.database.session() as session:
            return views.get_extension_request(session, request_id)

    @rpc
    def list_extension_requests(self, unit_codes=None, status="pending", limit=100, offset=0, sort=None):
        with self.uow.database.session() as session:
            return views.list_extension_requests(session, unit_codes=unit_codes, status=status,
                                                 limit=min(int(limit), 1000), offset=int(offset), sort=sort)

    @rpc
    def achievement(self, unit_code: str, fiscal_year_be: int, indicator_code: str | None = None):
        with self.uow.database.session() as session:
            return views.achievement(session, unit_code=unit_code, fiscal_year_be=int(fiscal_year_be),
                                     indicator_code=indicator_code)

    @rpc
    def obligation_counts(self) -> dict:
        with self.uow.database.session() as session:
            return views.counts(session)

    # --- periodic work --------------------------------------------------------------------------
    @config_timer("SWEEP_INTERVAL_S", 30)
    def sweep_deadlines(self):
        batch = int(self.config.get("SWEEP_BATCH_SIZE", 1000))
        missed = sweeps.sweep_deadlines(self.uow.database, batch_size=batch)
        overdue = sweeps.sweep_acknowledgements(self.uow.database, batch_size=batch)
        metrics.SWEEP_LAST_RUN.labels(self.name).set_to_current_time()
        if missed:
            metrics.DEADLINES_MISSED.labels(self.name).inc(missed)
        if missed or overdue:
            log.info("deadline_sweep", deadlines_missed=missed, acknowledgements_overdue=overdue)
        return {"deadlines_missed": missed, "acknowledgements_overdue": overdue}

    @config_timer("GENERATION_INTERVAL_S", 3600)
    def extend_obligations(self):
        return sweeps.extend_all(self.uow.database, settings=self.app.settings)
