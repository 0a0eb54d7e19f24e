"""The registry-over-time rule (shared.unit_versions) for every sequence of versions and period."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from hypothesis import given, strategies as st

from shared.unit_versions import (CHANGE_KINDS, VersionConflict, check_versions, expected_units, holds_on,
                                  rewrites_period, version_for_period, versions_on)

START = date(2024, 10, 1)


@dataclass(frozen=True)
class V:
    code: str
    valid_from: date
    valid_to: date | None
    lao_type: str = "sao"


@st.composite
def tiled_versions(draw, code="LAO-1"):
    """A unit's versions as the registry keeps them: consecutive, each ending where the next begins,
    the last open or closed."""
    cuts = sorted(set(draw(st.lists(st.integers(0, 900), min_size=1, max_size=6))))
    closed = draw(st.booleans())
    days = [START + timedelta(days=c) for c in cuts]
    ends = days[1:] + [days[-1] + timedelta(days=draw(st.integers(1, 400))) if closed else None]
    types = draw(st.lists(st.sampled_from(["sao", "subdistrict_municipality", "town_municipality"]),
                          min_size=len(days), max_size=len(days)))
    return [V(code, f, t, ty) for f, t, ty in zip(days, ends, types)]


periods = st.tuples(st.integers(-100, 1400), st.integers(0, 120)).map(
    lambda p: (START + timedelta(days=p[0]), START + timedelta(days=p[0] + p[1])))


@given(tiled_versions(), periods)
def test_a_unit_counts_once_in_a_period_it_existed_in_and_never_otherwise(versions, period):
    check_versions(versions)
    start, end = period
    existed = any(holds_on(v, start + timedelta(days=d)) for v in versions for d in range((end - start).days + 1))
    found = expected_units(versions, start, end)
    assert len(found) == (1 if existed else 0)
    if existed:  # the version of the last day it existed in the period
        last = max(start + timedelta(days=d) for d in range((end - start).days + 1)
                   if any(holds_on(v, start + timedelta(days=d)) for v in versions))
        assert holds_on(found[0], last)
        assert version_for_period(versions, start, end) == found[0]


@given(st.lists(tiled_versions(), min_size=1, max_size=5), periods)
def test_expected_units_never_exceed_the_units_and_rates_stay_in_range(units, period):
    units = [V(f"LAO-{i}", v.valid_from, v.valid_to, v.lao_type) for i, vs in enumerate(units) for v in vs]
    found = expected_units(units, *period)
    assert len({v.code for v in found}) == len(found) <= len({v.code for v in units})
    reported = found[: len(found) // 2]
    assert 0 <= (len(reported) / len(found) if found else 0) <= 1


@given(tiled_versions(), st.integers(-50, 1500))
def test_on_any_day_at_most_one_version_holds(versions, offset):
    assert len(versions_on(versions, START + timedelta(days=offset))) <= 1


def test_overlapping_or_inverted_versions_are_refused():
    with pytest.raises(VersionConflict, match="not after"):
        check_versions([V("A", date(2026, 12, 7), date(2026, 12, 1))])
    with pytest.raises(VersionConflict, match="overlaps"):
        check_versions([V("A", date(2026, 1, 1), date(2026, 6, 1)), V("A", date(2026, 5, 1), None)])
    with pytest.raises(VersionConflict, match="overlaps"):
        check_versions([V("A", date(2026, 1, 1), None), V("A", date(2026, 5, 1), None)])
    check_versions([V("A", date(2026, 1, 1), date(2026, 5, 1)), V("A", date(2026, 5, 1), None),
                    V("B", date(2026, 1, 1), None)])


@given(st.sampled_from(CHANGE_KINDS), periods, st.integers(-200, 1500))
def test_a_change_rewrites_a_period_only_if_the_period_would_count_the_unit_differently(kind, period, offset):
    """Checked against the versions themselves: apply the change to an open-ended unit and compare
    the period's counted version (existence and type) before and after."""
    effective = START + timedelta(days=offset)
    start, end = period
    before = [V("A", START - timedelta(days=400), None)]
    if kind in ("closed", "merged", "split"):
        after = [V("A", START - timedelta(days=400), effective)] if effective > before[0].valid_from else []
    elif kind == "opened":
        after = [V("A", effective, None)]
        before = [V("A", min(effective, START - timedelta(days=400)), None)]
    elif kind in ("type_changed", "moved"):
        after = [V("A", before[0].valid_from, effective), V("A", effective, None, "changed")] \
            if effective > before[0].valid_from else [V("A", before[0].valid_from, None, "changed")]
    else:  # renames and contact changes: same counting attributes
        after = before
    counted = lambda vs: (lambda v: None if v is None else v.lao_type)(version_for_period(vs, start, end))  # noqa: E731
    if kind in ("renamed", "updated"):
        assert not rewrites_period(kind, effective, start, end)
    elif counted(before) != counted(after):
        assert rewrites_period(kind, effective, start, end)
