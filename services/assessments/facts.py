"""What the submission, review and achievement rules need to know, loaded once per use case: the org
units a request is about and their ancestors (the registry copy, a level of the tree per query),
the indicators, and the targets of an indicator and fiscal year. The rules themselves are in
``domain.py``; this is the imperative shell that feeds them plain rows.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from services.assessments import domain
from services.assessments.models import indicators, org_units, targets
from services.assessments.obligations import load_registry
from services.assessments.registry import Registry
from shared.contracts import utcnow
from shared.db import chunks
from shared import orgtree
from shared.errors import InputError
from shared.thai import BANGKOK


class Facts:
    """Rows read for the rules, cached for the length of one use case."""

    def __init__(self, session):
        self.session = session
        self.unit_rows: dict[str, dict | None] = {}  # code -> org unit (None: not in the registry)
        self.versions: dict[str, list] = {}           # code -> its versions
        self.parent_of: dict[str, str | None] = {}     # code -> parent code, of the units loaded
        self.indicators = {row["code"]: row for row in session.execute(select(indicators)).mappings()}
        self._targets: dict[tuple, dict[str, float]] = {}

    def load_units(self, codes) -> None:
        """The org units ``codes`` and all their ancestors, a level of the tree per query: a batch
        request reads the few hundred units it is about, not the whole registry."""
        wanted = {code for code in codes if code and code not in self.unit_rows}
        today = utcnow().astimezone(BANGKOK).date()
        while wanted:
            registry = Registry()
            for chunk in chunks(sorted(wanted)):
                registry.add(self.session.execute(select(org_units).where(org_units.c.code.in_(chunk))).mappings())
            # the unit as it stands today (a closed one as it last stood)
            found = {code: registry.current(code, today) for code in registry.versions}
            self.versions.update(registry.versions)
            self.unit_rows.update({code: found.get(code) for code in wanted})
            self.parent_of.update({code: found[code]["parent_code"] if code in found else None for code in wanted})
            wanted = {row["parent_code"] for row in found.values()
                      if row["parent_code"] and row["parent_code"] not in self.unit_rows}

    def ancestors(self, code: str) -> list[str]:
        self.load_units([code])
        return orgtree.ancestors(code, self.parent_of)

    def may_act_for(self, actor: str | None, unit_code: str) -> bool:
        if actor is not None and actor != unit_code:
            self.load_units([unit_code])
        return domain.may_act_for(actor, unit_code, self.parent_of)

    def closed_error(self, code: str, period: str, period_start: date | None, field: str) -> InputError | None:
        """The error saying that the unit had closed by the start of the period, or None."""
        if period_start is None:
            return None
        self.load_units([code])
        own = self.versions.get(code)
        if not own:
            return None
        closed = Registry.of(own).closed_for(code, period_start)
        if closed is None:
            return None
        successors = load_registry(self.session, [code]).successors(code)
        return domain.unit_closed_error(code, period, closed, successors, field)

    def rule(self, code: str, target: float | None) -> domain.IndicatorRule:
        return domain.indicator_rule(code, self.indicators.get(code), target)

    def target(self, indicator_code: str, fiscal_year: int, unit_code: str, period_start: date | None = None,
               period_end: date | None = None) -> float | None:
        """The most specific target (``domain.target_of``), by the unit's type and level as they
        were in the period reported when it is given: an SAO upgraded later is judged as an SAO for
        the periods before."""
        key = (indicator_code, fiscal_year)
        if key not in self._targets:
            self._targets[key] = {scope: value for scope, value in self.session.execute(
                select(targets.c.scope, targets.c.value).where(targets.c.indicator_code == indicator_code,
                                                               targets.c.fiscal_year_be == fiscal_year)).all()}
        by_scope = self._targets[key]
        if not by_scope:
            return None
        self.load_units([unit_code])
        unit = domain.unit_in_period(self.unit_rows[unit_code], self.versions.get(unit_code), period_start, period_end)
        return domain.target_of(by_scope, unit_code, unit)

    def rules_for(self, obligation: dict, codes) -> dict[str, domain.IndicatorRule]:
        """The rule of each indicator of ``codes`` for this obligation, its target resolved for the
        obligation's unit, fiscal year and period."""
        fiscal_year = domain.fiscal_year_reported(obligation)
        return {code: self.rule(code, self.target(code, fiscal_year, obligation["unit_code"],
                                                  obligation["period_start"], obligation["period_end"]))
                for code in codes}
