"""assessments' rules as pure functions over plain data: no database, no broker (the use cases that
load the facts and store the outcome are tested in test_assessments*.py)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.assessments import domain
from services.assessments.bootstrap import EVENT_HANDLERS, bootstrap, settings_from_env
from services.assessments.domain import IndicatorRule, ObligationState as O, Settings
from shared.errors import InputError

DUE = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)
OPENS = DUE - timedelta(days=10)
CLOSES = DUE + timedelta(days=30)


def obligation(**changes) -> dict:
    row = {"id": "o-1", "unit_code": "LAO-1", "state": O.OPEN, "period": "2569-12",
           "period_start": date(2026, 12, 1), "period_end": date(2026, 12, 31), "opens_at": OPENS,
           "due_at": DUE, "extended_due_at": None, "closes_at": CLOSES, "indicator_codes": '["DISB", "OLD"]'}
    return {**row, **changes}


def value(code, number, note=None):
    return SimpleNamespace(indicator_code=code, value=number, note=note)


RULES = {"DISB": IndicatorRule(code="DISB", value_type="percent", minimum=0, maximum=100, target=80),
         "OLD": IndicatorRule(code="OLD", value_type="count")}


def error_of(call) -> InputError:
    with pytest.raises(InputError) as caught:
        call()
    return caught.value


# --- the window -------------------------------------------------------------------------------------

def test_the_window_takes_the_owing_unit_between_opening_and_closing():
    domain.check_window(obligation(), "LAO-1", DUE)
    assert error_of(lambda: domain.check_window(obligation(), "LAO-2", DUE)).field == "unit_code"
    assert error_of(lambda: domain.check_window(obligation(), "LAO-1", OPENS - timedelta(seconds=1),
                                                "items[3].")).field == "items[3].obligation_id"
    late = error_of(lambda: domain.check_window(obligation(), "LAO-1", CLOSES + timedelta(seconds=1)))
    assert late.message_en == "the submission window has closed"
    # an extension beyond the closing keeps the window open until the new due time
    domain.check_window(obligation(extended_due_at=CLOSES + timedelta(days=2)), "LAO-1", CLOSES + timedelta(days=1))


def test_an_accepted_report_takes_no_more_and_a_closed_unit_is_refused_saying_so():
    assert error_of(lambda: domain.check_window(obligation(state=O.ACCEPTED), "LAO-1", DUE)).status == 409
    closed = domain.unit_closed_error("LAO-1", "2569-12", date(2026, 11, 30), ["TM-1"], "unit_code")
    assert "TM-1" in closed.message_en and closed.code == "unit_closed"
    assert error_of(lambda: domain.check_window(obligation(), "LAO-1", DUE, closed=closed)) is closed
    # a report already made may still be reviewed and replaced: its unit's closing does not matter
    domain.check_window(obligation(state=O.SUBMITTED), "LAO-1", DUE, closed=closed)


# --- the values ---------------------------------------------------------------------------------------

def test_values_cover_the_obligation_once_each():
    wanted = ["DISB", "OLD"]
    assert error_of(lambda: domain.check_values(wanted, [value("DISB", 90)], RULES)).message_en.startswith("missing")
    assert error_of(lambda: domain.check_values(wanted, [value("DISB", 90), value("DISB", 91)], RULES)
                    ).field == "values"
    assert error_of(lambda: domain.check_values(wanted, [value("X", 1)], RULES)).field == "values[0].indicator_code"
    checked = domain.check_values(wanted, [value("OLD", "๑๒"), value("DISB", "85%")], RULES)
    assert checked == [{"indicator_code": "OLD", "value": 12.0, "note": None, "target_missed": False},
                       {"indicator_code": "DISB", "value": 85.0, "note": None, "target_missed": False}]


def test_a_value_out_of_its_range_or_type_names_its_place():
    wrong = error_of(lambda: domain.check_values(["DISB", "OLD"], [value("DISB", 101), value("OLD", 1)], RULES,
                                                 "items[0]."))
    assert (wrong.code, wrong.field, wrong.status) == ("out_of_range", "items[0].values[0].value", 422)
    assert error_of(lambda: domain.check_values(["OLD"], [value("OLD", 1.5)], RULES)).code == "wrong_type"


@given(number=st.floats(min_value=0, max_value=100, allow_nan=False),
       target=st.none() | st.floats(min_value=0, max_value=100, allow_nan=False),
       direction=st.sampled_from(["increase", "decrease", "maintain", "none"]),
       note=st.none() | st.sampled_from(["", "  ", "ฝนตกหนัก"]))
def test_a_value_missing_its_target_is_taken_exactly_when_it_is_explained(number, target, direction, note):
    """For every value, target, direction and note: the value is stored, flagged as missing its
    target by the one shared rule, unless it misses and the note is empty, which is refused."""
    rules = {"I": IndicatorRule(code="I", value_type="number", target=target, direction=direction)}
    misses = domain.misses_target(direction, number, target)
    explained = bool(note and note.strip())
    if misses and not explained:
        assert error_of(lambda: domain.check_values(["I"], [value("I", number, note)], rules)).code == "note_required"
    else:
        [checked] = domain.check_values(["I"], [value("I", number, note)], rules)
        assert checked["value"] == number and checked["target_missed"] is misses


@given(offset=st.integers(min_value=-20 * 86400, max_value=60 * 86400),
       extension=st.none() | st.integers(min_value=0, max_value=60 * 86400))
def test_the_window_is_open_exactly_from_opening_to_the_later_of_closing_and_effective_due(offset, extension):
    extended = None if extension is None else DUE + timedelta(seconds=extension)
    now = DUE + timedelta(seconds=offset)
    row = obligation(extended_due_at=extended)
    open_ = OPENS <= now <= max(CLOSES, domain.effective_due(DUE, extended))
    try:
        domain.check_window(row, "LAO-1", now)
        taken = True
    except InputError:
        taken = False
    assert taken is open_
    assert domain.is_on_time(now, DUE, extended) is (now <= domain.effective_due(DUE, extended))


# --- the org tree and targets -------------------------------------------------------------------------

PARENT = {"LAO-1": "DLO-1", "DLO-1": "PLO-1", "PLO-1": "DLA", "DLA": None}


def test_a_unit_acts_for_itself_and_the_units_below_it_only():
    assert domain.may_act_for("PLO-1", "LAO-1", PARENT) and domain.may_act_for("LAO-1", "LAO-1", PARENT)
    assert domain.may_act_for(None, "LAO-1", PARENT)
    assert not domain.may_act_for("LAO-1", "DLO-1", PARENT) and not domain.may_act_for("LAO-9", "LAO-1", PARENT)


def test_the_most_specific_target_applies_by_the_unit_as_it_was_in_the_period():
    by_scope = {"*": 50.0, "level:lao": 60.0, "lao_type:sao": 70.0}
    sao = {"code": "LAO-1", "level": "lao", "lao_type": "sao", "valid_from": date(2000, 1, 1),
           "valid_to": date(2026, 12, 31)}
    town = {"code": "LAO-1", "level": "lao", "lao_type": "town", "valid_from": date(2027, 1, 1), "valid_to": None}
    assert domain.target_of(by_scope, "LAO-1", sao) == 70.0
    assert domain.target_of({**by_scope, "LAO-1": 90.0}, "LAO-1", sao) == 90.0
    assert domain.target_of(by_scope, "LAO-1", town) == 60.0
    assert domain.target_of(by_scope, "LAO-9", None) == 50.0 and domain.target_of({}, "LAO-1", sao) is None
    # upgraded in January: judged as an SAO for December
    assert domain.unit_in_period(town, [sao, town], date(2026, 12, 1), date(2026, 12, 31)) == sao
    assert domain.unit_in_period(town, [sao, town], None, None) == town


def test_values_are_judged_in_the_fiscal_year_of_the_period_reported():
    assert domain.fiscal_year_reported(obligation(period="2562-12", due_at=datetime(2026, 1, 5, tzinfo=timezone.utc))
                                       ) == 2563


# --- deadlines and the year -------------------------------------------------------------------------------

def test_a_returned_report_is_awaited_a_week_and_never_before_its_own_deadline():
    settings = Settings()
    early = DUE - timedelta(days=9)
    assert domain.resubmit_due(early, obligation(), None, settings) == DUE
    assert domain.resubmit_due(DUE, obligation(), None, settings) == DUE + settings.resubmit_within
    assert error_of(lambda: domain.resubmit_due(DUE, obligation(), DUE - timedelta(hours=1))).field == "resubmit_due_at"


def test_a_granted_extension_reopens_a_missed_report_and_never_closes_it_earlier():
    new_due = DUE + timedelta(days=5)
    granted = domain.extension_granted(obligation(state=O.MISSED), new_due, Settings(closes_after=timedelta(days=1)))
    assert granted == {"extended_due_at": new_due, "closes_at": CLOSES, "state": O.OPEN}
    assert domain.extension_granted(obligation(), new_due)["closes_at"] == new_due + timedelta(days=30)


def test_a_count_adds_up_over_the_year_and_a_level_stands_at_its_latest():
    at = datetime(2026, 11, 1, tzinfo=timezone.utc)
    points = [("2569-10", at, 4.0), ("2569-11", at, 5.0), ("2569-11", at + timedelta(hours=1), 6.0)]
    count = domain.yearly_achievement("OLD", 2570, points, IndicatorRule(code="OLD", value_type="count", target=120),
                                      elapsed=2)
    assert (count["actual"], count["periods_reported"], count["status"], count["at_risk"]) == (10.0, 2, "not_achieved",
                                                                                              True)
    level = domain.yearly_achievement("DISB", 2570, points, IndicatorRule(code="DISB", target=5), elapsed=2)
    assert (level["actual"], level["status"], level["trend"][-1]) == (6.0, "achieved", {"period": "2569-11",
                                                                                        "value": 6.0})
    assert domain.months_elapsed(datetime(2027, 9, 30, tzinfo=timezone.utc), date(2026, 10, 1)) == 12


# --- the composition root ---------------------------------------------------------------------------------

def test_bootstrap_reads_the_environment_when_asked_and_binds_the_use_cases_that_take_settings():
    assert settings_from_env({}) == Settings()
    assert settings_from_env({"THONGTHIN_OBLIGATION_HORIZON_DAYS": "165"}).horizon == timedelta(days=165)
    app = bootstrap(Settings(horizon=timedelta(days=165)))
    assert set(app.event_handlers) == set(EVENT_HANDLERS)
    created = app.event_handlers["plans.assignment_created.v1"]
    assert created.__name__ == "on_assignment_created" and created.many.keywords == {"settings": app.settings}
    assert app.bind(domain.closes_at).__name__ == "closes_at"


def test_the_domain_loads_no_file_parser_database_or_framework():
    import subprocess
    import sys
    loaded = subprocess.run([sys.executable, "-c", "import sys, services.assessments.domain; "
                             "print(sorted({m.split('.')[0] for m in sys.modules} & "
                             "{'openpyxl', 'sqlalchemy', 'nameko', 'eventlet', 'kombu'}))"],
                            capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_the_service_container_bootstraps_once_from_the_environment_for_its_inbox_and_workers(monkeypatch):
    from nameko.containers import ServiceContainer

    from services.assessments.bootstrap import AssessmentsInbox, Composed, Composition
    from services.assessments.service import AssessmentsService
    monkeypatch.setenv("THONGTHIN_OBLIGATION_HORIZON_DAYS", "165")
    container = ServiceContainer(AssessmentsService, {"AMQP_URI": "memory://", "DATABASE_URL": "sqlite://"})
    [composed] = [extension for extension in container.extensions if isinstance(extension, Composed)]
    [inbox] = [d for d in container.dependencies if isinstance(d, AssessmentsInbox)]
    [composition] = [d for d in container.dependencies if isinstance(d, Composition)]
    assert inbox.composed is composition.composed is composed
    assert composed.app.settings.horizon == timedelta(days=165)
    assert set(composed.app.event_handlers) == set(EVENT_HANDLERS)
