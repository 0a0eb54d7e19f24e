"""reporting: the nameko service. Entrypoints only translate: decode, call a use case, return.

Events go to the projection (bootstrap.event_handlers: projection.record_and_project), queries to
views.py (the LPA's in views_lpa.py), each in its own read session. The figures are defined in docs/reporting.md (Definitions).
"""
from __future__ import annotations

from datetime import date

from services.reporting import bootstrap, views, views_lpa
from shared.messaging.nameko_ext import Inbox, reliable_event_handler
from shared.service_base import ServiceBase, rpc


class ReportingService(ServiceBase):
    name = "reporting"
    inbox = Inbox(bootstrap.event_handlers())

    @reliable_event_handler()
    def consume(self, messages: list[tuple[bytes, int]]):
        return self.inbox.process_batch(messages)

    def _read(self, query, *args, **kwargs):
        with self.uow.database.session() as session:
            return query(session, *args, **kwargs)

    @rpc
    def directive_compliance(self, directive_id: str, unit_codes: list[str] | None = None) -> dict:
        return self._read(views.directive_compliance, directive_id, unit_codes)

    @rpc
    def event_count(self) -> int:
        return self._read(views.event_count)

    # --- dashboards (docs/reporting.md) --------------------------------------------------------

    @rpc
    def compliance(self, unit_code: str | None = None, period: str | None = None, rule_id: str | None = None,
                   lao_type: str | None = None) -> dict:
        return self._read(views.compliance, unit_code, period, rule_id, lao_type)

    @rpc
    def compliance_matrix(self, unit_code: str | None = None, periods: list[str] | None = None,
                          rule_id: str | None = None, kind: str | None = None) -> dict:
        return self._read(views.compliance_matrix, unit_code, periods, rule_id, kind)

    @rpc
    def cascade(self, directive_id: str, unit_code: str | None = None) -> dict:
        return self._read(views.cascade, directive_id, unit_code)

    @rpc
    def achievement(self, indicator_code: str, fiscal_year_be: int, unit_code: str | None = None,
                    plan_id: str | None = None) -> dict:
        return self._read(views.achievement_report, indicator_code, fiscal_year_be, unit_code, plan_id)

    @rpc
    def notification_effectiveness(self, unit_code: str | None = None, period: str | None = None) -> dict:
        return self._read(views.notification_effectiveness, unit_code, period)

    @rpc
    def overdue(self, unit_code: str | None = None, limit: int = 100, offset: int = 0,
                sort: str | None = None) -> dict:
        return self._read(views.overdue, unit_code, limit, offset, sort)

    @rpc
    def dashboard_periods(self) -> list[str]:
        return self._read(views.known_periods)

    # --- the Local Performance Assessment (views_lpa) --------------------------------------------
    # ``today`` is an ISO date (Bangkok) for tests and previews; by default today in Bangkok.

    @rpc
    def lpa_summary(self, year_be: int, unit_code: str | None = None, today: str | None = None,
                    public_only: bool = False) -> dict:
        return self._read(views_lpa.lpa_summary, year_be, unit_code, _day(today), public_only)

    @rpc
    def lpa_results(self, year_be: int, province_code: str | None = None, district_code: str | None = None,
                    lao_type: str | None = None, unit_code: str | None = None, public_only: bool = False,
                    limit: int = 100, offset: int = 0, sort: str | None = None, today: str | None = None) -> dict:
        return self._read(views_lpa.lpa_results, year_be, province_code, district_code, lao_type, unit_code,
                          public_only, limit, offset, sort, _day(today))


def _day(value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        from shared.errors import invalid
        raise invalid("today", "วันที่ต้องอยู่ในรูป YYYY-MM-DD", "today must be an ISO date (YYYY-MM-DD)") from None
