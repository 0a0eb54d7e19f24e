"""Who owes a rule's report for a period, by the period's truth: the versions of the units the
rule names and of the units that took over from them (issue #16). Pure: no database.

A unit the rule names owes a period it existed in (on at least one day: ``shared.unit_versions``);
a unit the registry copy does not know (yet) is expected, as before. A unit that closed (its last
version ends on D) hands the rule on to its successors (the ``successor_codes`` of that version, and
every unit whose version names it among its ``predecessor_codes``): a successor owes the periods
starting on or after D in which it exists, its predecessor none of them, so a territory reports
once. Successors of successors inherit in turn (from the later date).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from shared.unit_versions import expected_units, versions_on


def _codes(value) -> list[str]:
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else list(value)


@dataclass
class Registry:
    """Versions by code and successor links, as far as they were loaded."""

    versions: dict[str, list[Mapping]] = field(default_factory=dict)
    links: dict[str, set[str]] = field(default_factory=dict)   # code -> codes that took over from it

    @classmethod
    def of(cls, rows: Iterable[Mapping]) -> Registry:
        registry = cls()
        registry.add(rows)
        return registry

    def add(self, rows: Iterable[Mapping]) -> None:
        for row in rows:
            own = self.versions.setdefault(row["code"], [])
            if not any(v["valid_from"] == row["valid_from"] for v in own):
                own.append(row)
                own.sort(key=lambda v: v["valid_from"])
            self.link(row)

    def link(self, row: Mapping) -> None:
        for successor in _codes(row.get("successor_codes")):
            self.links.setdefault(row["code"], set()).add(successor)
        for predecessor in _codes(row.get("predecessor_codes")):
            self.links.setdefault(predecessor, set()).add(row["code"])

    def knows(self, code: str) -> bool:
        return bool(self.versions.get(code))

    def exists_in(self, code: str, start: date, end: date) -> bool:
        """The unit existed on a day of the period (unknown units are taken to)."""
        own = self.versions.get(code)
        return not own or bool(expected_units(own, start, end))

    def closing(self, code: str) -> date | None:
        """The day the unit closed: its last version's valid_to (None while it lasts)."""
        own = self.versions.get(code)
        return own[-1]["valid_to"] if own else None

    def successors(self, code: str) -> list[str]:
        """Who took over from the unit, once it closed (a successor link of a unit still open is
        not a hand-over: the unit still owes its reports)."""
        if self.closing(code) is None:
            return []
        return sorted(self.links.get(code, ()))

    def forward(self, codes: Iterable[str]) -> set[str]:
        """The codes and every unit that took over from them, transitively."""
        found, frontier = set(codes), list(codes)
        while frontier:
            code = frontier.pop()
            for successor in self.links.get(code, ()):
                if successor not in found:
                    found.add(successor)
                    frontier.append(successor)
        return found

    def backward(self, codes: Iterable[str]) -> set[str]:
        """The codes and every unit they took over from, transitively."""
        reverse: dict[str, set[str]] = {}
        for code, successors in self.links.items():
            for successor in successors:
                reverse.setdefault(successor, set()).add(code)
        found, frontier = set(codes), list(codes)
        while frontier:
            code = frontier.pop()
            for predecessor in reverse.get(code, ()):
                if predecessor not in found:
                    found.add(predecessor)
                    frontier.append(predecessor)
        return found

    def component(self, codes: Iterable[str]) -> set[str]:
        """The codes and every unit linked to them by successions, either way, transitively (what
        one unit's change can change the obligations of)."""
        found = set(codes)
        while True:
            grown = self.forward(self.backward(found))
            if grown == found:
                return found
            found = grown

    def owing(self, named: Iterable[str], start: date, end: date) -> dict[str, str | None]:
        """The units that owe a period of a rule naming ``named``: code -> the named unit it
        inherited the rule from (None: named itself)."""
        owed: dict[str, str | None] = {}
        named = list(dict.fromkeys(named))
        for code in named:
            if self.exists_in(code, start, end):
                owed[code] = None
        # (code, from: inherited for periods starting on or after, the named unit it came from)
        frontier = [(code, None, code) for code in named]
        seen: set[tuple[str, str]] = set()
        while frontier:
            code, since, origin = frontier.pop()
            closed = self.closing(code)
            for successor in self.successors(code):
                begins = closed if since is None else max(since, closed)
                if (successor, origin) in seen:
                    continue
                seen.add((successor, origin))
                if start >= begins and successor not in owed and self.exists_in(successor, start, end):
                    owed[successor] = origin
                frontier.append((successor, begins, origin))
        return owed

    def current(self, code: str, day: date) -> Mapping | None:
        """The version holding on ``day``, else the latest one (a closed unit as it last stood)."""
        own = self.versions.get(code)
        if not own:
            return None
        holding = versions_on(own, day)
        return holding[0] if holding else own[-1]

    def closed_for(self, code: str, start: date) -> date | None:
        """The closing day if the unit had closed by the start of a period, else None."""
        closed = self.closing(code)
        return closed if closed is not None and start >= closed else None


def closing_reason(code: str, closed: date, successors: list[str], kind: str | None = None) -> str:
    """Why a closed unit's obligation is cancelled, in Thai and English, naming the date and who
    took over."""
    if successors:
        names = ", ".join(successors)
        how = {"merged": "merged into", "split": "split into"}.get(kind or "", "succeeded by")
        return (f"หน่วยงาน {code} สิ้นสภาพเมื่อ {closed.isoformat()} โดย {names} รับภาระแทน / "
                f"unit {code} closed on {closed.isoformat()} ({how} {names})")
    return f"หน่วยงาน {code} สิ้นสภาพเมื่อ {closed.isoformat()} / unit {code} closed on {closed.isoformat()}"


__all__ = ["Registry", "closing_reason"]
