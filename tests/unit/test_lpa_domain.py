"""The LPA's rules (services/assessments/lpa/domain.py) for every input, and the demo frameworks."""
from __future__ import annotations

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.assessments.lpa import domain
from shared import ranking
from shared.config import REPO_ROOT
from shared.contracts.lpa_framework import LpaFramework
from shared.errors import InputError
from shared.validation import parse
from shared.vocabulary import LAO_TYPES

DEMO = {year: parse(LpaFramework, yaml.safe_load((REPO_ROOT / "data" / "lpa" / f"framework-{year}.yaml").read_text()))
        for year in (2568, 2569)}
FRAMEWORK = DEMO[2569]


def scores(lao_type):
    """Any points on each applicable indicator's own scale, some indicators left unscored."""
    pairs = domain.applicable(FRAMEWORK, lao_type)
    return st.fixed_dictionaries({}, optional={
        indicator.code: st.sampled_from([level.points for level in indicator.levels]) for _, indicator in pairs})


@st.composite
def lao_and_points(draw):
    lao_type = draw(st.sampled_from(LAO_TYPES))
    return lao_type, draw(scores(lao_type))


def test_the_demo_frameworks_are_valid_and_marked_synthetic():
    for framework in DEMO.values():
        assert framework.synthetic and "Synthetic" in framework.source_note
        assert sum(indicator.max_points for _, indicator in framework.indicators() if not indicator.pilot
                   and indicator.lao_types is None) <= 1015
    assert [area.name_th for area in FRAMEWORK.areas][:5] == [
        "ด้านการบริหารจัดการ", "ด้านงานบุคคลและกิจการสภา", "ด้านการเงินการคลัง", "ด้านการบริการสาธารณะ", "ด้านธรรมาภิบาล"]
    # every counted indicator of an area adds up to 2561's public maximum of the area (1,015 in all);
    # an LAO type is assessed on fewer: an SAO runs no sewage plant and no transferred health centre
    assert [sum(i.max_points for i in area.indicators if not i.pilot) for area in FRAMEWORK.areas] == [
        140, 215, 250, 345, 65, 0]
    assert [area.max_points for area in domain.totals(FRAMEWORK, "sao", {}).areas] == [140, 215, 250, 297, 65, 0]


@settings(max_examples=150, deadline=None)
@given(lao_and_points())
def test_totals_stay_within_the_maximum_and_ignore_pilots(case):
    lao_type, points = case
    result = domain.totals(FRAMEWORK, lao_type, points)
    assert 0 <= result.points <= result.max_points
    for area in result.areas:
        assert 0 <= area.points <= area.max_points
    pilots = {indicator.code for _, indicator in FRAMEWORK.indicators() if indicator.pilot}
    without_pilots = domain.totals(FRAMEWORK, lao_type, {code: value for code, value in points.items() if code not in pilots})
    assert (without_pilots.points, without_pilots.passed) == (result.points, result.passed)
    assert result.complete == all(indicator.code in points for _, indicator in domain.applicable(FRAMEWORK, lao_type)
                                  if not indicator.pilot)


@settings(max_examples=150, deadline=None)
@given(lao_and_points(), st.data())
def test_a_higher_score_never_turns_a_pass_into_a_fail(case, data):
    lao_type, points = case
    pairs = [indicator for _, indicator in domain.applicable(FRAMEWORK, lao_type)]
    indicator = data.draw(st.sampled_from(pairs))
    higher = data.draw(st.sampled_from([level.points for level in indicator.levels]))
    assume(higher >= points.get(indicator.code, 0))
    before = domain.totals(FRAMEWORK, lao_type, points)
    after = domain.totals(FRAMEWORK, lao_type, {**points, indicator.code: higher})
    assert after.points >= before.points and after.pass_value >= before.pass_value
    assert after.passed or not before.passed


def test_pass_is_the_average_of_the_area_percentages_at_70():
    perfect = {indicator.code: indicator.max_points for _, indicator in domain.applicable(FRAMEWORK, "sao")}
    assert domain.totals(FRAMEWORK, "sao", perfect).passed
    assert not domain.totals(FRAMEWORK, "sao", {}).passed
    # full marks in every area but governance, nothing there: the mean is 80 %, a pass
    governance = {i.code for i in FRAMEWORK.areas[4].indicators}
    result = domain.totals(FRAMEWORK, "sao", {c: v for c, v in perfect.items() if c not in governance})
    assert round(result.pass_value, 6) == 80 and result.passed
    assert [area.code for area in domain.weak_areas(FRAMEWORK, result)] == ["GOV"]


@given(st.dictionaries(st.sampled_from([f"LAO-{i}" for i in range(30)]), st.integers(0, 5).map(float), min_size=1))
def test_ranks_are_competition_ranks(values):
    ranked = ranking.ranks(values)
    for code, value in values.items():
        assert ranked[code] == 1 + sum(1 for other in values.values() if other > value)


@given(st.dictionaries(st.sampled_from([f"LAO-{i}" for i in range(30)]), st.integers(0, 5).map(float), min_size=1),
       st.dictionaries(st.sampled_from([f"LAO-{i}" for i in range(30)]), st.sampled_from(["P1", "P2", "P3"])))
def test_ranks_within_a_group_compare_only_the_group(values, group_of):
    ranked = ranking.ranks_within(values, group_of)
    for code, value in values.items():
        peers = [other for name, other in values.items() if group_of.get(name) == group_of.get(code)]
        assert ranked[code] == 1 + sum(1 for other in peers if other > value)


def team(*roles, unit="PLO-18"):
    return [domain.Member(person=f"p{i}", role=role, unit_code=None if role == "community_leader" else unit)
            for i, role in enumerate(roles)]


def codes(problems):
    return sorted(problem.code for problem in problems)


def test_a_team_needs_a_community_leader_enough_members_one_lead_and_no_insider():
    assert domain.team_problems(team("lead", "member", "member", "community_leader"), "LAO-1", 4) == []
    assert codes(domain.team_problems(team("lead", "member", "member", "member"), "LAO-1", 4)) == ["community_leader_required"]
    assert codes(domain.team_problems(team("lead", "member", "community_leader"), "LAO-1", 4)) == ["team_incomplete"]
    assert codes(domain.team_problems(team("member", "member", "member", "community_leader"), "LAO-1", 4)) == ["invalid"]
    insider = team("lead", "member", "member", "community_leader") + [domain.Member("p9", "member", "LAO-1")]
    problem, = domain.team_problems(insider, "LAO-1", 4)
    assert problem.code == "conflict_of_interest" and "p9" in problem.message_en and problem.status == 409


def test_a_score_must_be_a_level_of_the_scale():
    indicator = FRAMEWORK.areas[0].indicators[0]
    assert domain.check_points(indicator, indicator.max_points, "scores[0].points") == indicator.max_points
    with pytest.raises(InputError) as refused:
        domain.check_points(indicator, 7, "scores[0].points")
    assert refused.value.field == "scores[0].points" and "0, 4.5, 9, 13.5, 18" in refused.value.message_en


def test_the_changes_between_the_demo_years():
    found = {(change.kind, change.code): change for change in domain.changes(DEMO[2568], DEMO[2569])}
    assert ("area_added", "INNOV") in found
    assert found[("indicator_changed", "MGMT-09")].fields["pilot"] == (True, False)
    assert found[("indicator_changed", "MGMT-08")].fields["max_points"][0] - 10 == \
        found[("indicator_changed", "MGMT-08")].fields["max_points"][1]
    assert not domain.changes(DEMO[2569], DEMO[2569])


def test_a_framework_refuses_a_scale_that_does_not_reach_its_maximum():
    document = yaml.safe_load((REPO_ROOT / "data" / "lpa" / "framework-2569.yaml").read_text())
    document["areas"][0]["indicators"][0]["max_points"] = 20
    with pytest.raises(InputError) as refused:
        parse(LpaFramework, document)
    assert refused.value.field.startswith("areas[0].indicators[0]")


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(LAO_TYPES), st.data())
def test_claims_or_scores_name_an_applicable_indicator_once_on_its_scale(lao_type, data):
    from types import SimpleNamespace
    indicators = {indicator.code: indicator for _, indicator in domain.applicable(FRAMEWORK, lao_type)}
    chosen = data.draw(st.lists(st.sampled_from(sorted(indicators)), min_size=1, max_size=8, unique=True))
    entries = [SimpleNamespace(indicator_code=code, points=data.draw(st.sampled_from(
        [None] + [level.points for level in indicators[code].levels]))) for code in chosen]
    domain.check_entries(indicators, entries, "scores", "points")            # on the scale: accepted
    twice = entries + [entries[0]]
    with pytest.raises(InputError) as repeated:
        domain.check_entries(indicators, twice, "scores", "points")
    assert repeated.value.field == f"scores[{len(entries)}].indicator_code"
    off = SimpleNamespace(indicator_code=chosen[0], points=indicators[chosen[0]].max_points + 0.5)
    with pytest.raises(InputError) as refused:
        domain.check_entries(indicators, [off], "scores", "points")
    assert refused.value.field == "scores[0].points" and refused.value.status == 422
