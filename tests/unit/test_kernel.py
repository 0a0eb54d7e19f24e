"""The shared kernel's rules, for every input: the org-tree walks, the indicator rules, the vocabulary.
Each rule has one implementation (shared.orgtree, shared.indicators, shared.vocabulary); these tests
pin what it means, so a service that uses it cannot disagree with another."""
from __future__ import annotations

import typing

from hypothesis import given, settings
from hypothesis import strategies as st

from shared import indicators, orgtree, vocabulary
from shared.contracts import events
from shared.contracts.commands import plans as plan_commands

CODES = [f"U{i}" for i in range(12)]


@st.composite
def trees(draw):
    """A forest over CODES: each unit's parent is an earlier unit or none (no cycles)."""
    parent_of = {}
    for index, code in enumerate(CODES):
        parent_of[code] = draw(st.sampled_from([None, *CODES[:index]])) if index else None
    return parent_of


@settings(max_examples=200, deadline=None)
@given(trees(), st.sampled_from(CODES), st.sampled_from(CODES))
def test_below_and_above_are_the_same_relation(parent_of, root, code):
    assert (code in orgtree.subtree(root, parent_of)) == orgtree.is_within(code, root, parent_of)
    assert (root in orgtree.ancestors(code, parent_of)) == (code != root and orgtree.is_within(code, root, parent_of))


@settings(max_examples=200, deadline=None)
@given(trees(), st.sampled_from(CODES))
def test_ancestors_are_nearest_first_and_end_at_a_root(parent_of, code):
    chain = orgtree.ancestors(code, parent_of)
    walk = code
    for above in chain:
        assert parent_of[walk] == above
        walk = above
    assert parent_of.get(walk) is None


def test_a_loop_in_a_registry_mid_update_ends_the_walk():
    loop = {"A": "B", "B": "C", "C": "A"}
    assert orgtree.ancestors("A", loop) == ["B", "C"]
    assert orgtree.subtree("A", loop) == {"A", "B", "C"}


def test_ancestor_at_finds_the_nearest_unit_of_a_level():
    parent_of = {"LAO-1": "DLO-1", "DLO-1": "PLO-1", "PLO-1": "DLA", "DLA": None}
    level_of = {"LAO-1": "lao", "DLO-1": "district_office", "PLO-1": "provincial_office", "DLA": "department"}
    assert orgtree.ancestor_at("LAO-1", parent_of, level_of, "provincial_office") == "PLO-1"
    assert orgtree.ancestor_at("PLO-1", parent_of, level_of, "district_office") is None


values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
targets = st.none() | st.floats(min_value=0.001, max_value=1e6, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(vocabulary.DIRECTIONS), st.sampled_from(vocabulary.VALUE_TYPES),
       st.none() | st.integers(min_value=1, max_value=12), st.lists(values, max_size=12), targets)
def test_the_dashboard_classifier_is_the_assessment_rule(direction, value_type, months, series, target):
    """Reporting's fast classifier and assessments' achievement / at-risk agree for every input."""
    cumulative = indicators.is_cumulative(value_type)
    latest = series[-1] if series else None
    total = sum(series) if series else None
    actual, status, risky = indicators.classifier(direction, value_type, months)(latest, total, target)
    expected_actual = (total if cumulative else latest) if series else None
    assert actual == expected_actual
    assert status == indicators.achievement(direction, expected_actual, target)
    assert risky == (bool(months) and indicators.at_risk(direction, cumulative, series, months or 0, 12, target))


@given(st.sampled_from(vocabulary.DIRECTIONS), values, targets)
def test_achieved_means_not_missing_the_target(direction, value, target):
    status = indicators.achievement(direction, value, target)
    assert status == ("no_target" if target is None else
                      "not_achieved" if indicators.misses_target(direction, value, target) else "achieved")
    if direction == "none" and target is not None:
        assert status == "achieved"


@given(st.dictionaries(st.sampled_from(["SAO-1", "lao_type:sao", "level:lao", "*", "SAO-2"]), targets))
def test_the_most_specific_target_row_wins(by_scope):
    applies, value = indicators.resolve_target(by_scope, "SAO-1", "lao", "sao")
    order = ["SAO-1", "lao_type:sao", "level:lao", "*"]
    first = next((scope for scope in order if scope in by_scope), None)
    assert applies == (first is not None)
    assert value == (by_scope[first] if first else None)


def test_the_contracts_speak_the_vocabulary():
    """Events and commands take their words from shared.vocabulary, so a new level or LAO type is
    one edit: the contracts, the OpenAPI document and the JSON Schemas follow."""
    org = events.OrgUnitChanged.model_fields
    assert typing.get_args(org["level"].annotation) == vocabulary.LEVELS
    assert vocabulary.LaoType in typing.get_args(org["lao_type"].annotation)
    assert plan_commands.Level is vocabulary.Level and plan_commands.LaoType is vocabulary.LaoType
    assert [level.value for level in vocabulary.OrgLevel] == list(vocabulary.LEVELS)
    assert vocabulary.level_rank("ministry") < vocabulary.level_rank("provincial_office") < vocabulary.level_rank("lao")
    assert vocabulary.level_rank("unknown") == len(vocabulary.LEVELS)
