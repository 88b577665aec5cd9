"""RULES §7: a recent item 9 > 0 on a PHQ-9 or PHQ-A is current suicidal ideation.

``precaution.suicidal-ideation-now`` applies on "item 9 > 0 on any PHQ-9 or PHQ-A dated within the
30 days up to `as_of` even when a later screen is negative (the explanation names that screen's
date)". The 30 days are a local-policy setting (``suicidal_ideation_lookback_days``).
``precaution.psychiatric-history`` keeps reading the positive screen on the most recent screen.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.catalog import build_catalog
from domain.errors import PolicyError
from domain.facts import Dispensing, Facts, MoodScreen
from domain.settings import EvaluationSettings, LocalPolicy
from domain.vocab import Decision, Jurisdiction, MoodInstrument, Severity, Status
from tests.factories import AS_OF, a1, a1_eu, d, fires, run

RULE = "precaution.suicidal-ideation-now"
HISTORY = "precaution.psychiatric-history"
PHQ9, PHQA, PHQ2 = MoodInstrument.PHQ9, MoodInstrument.PHQA, MoodInstrument.PHQ2


def screen(
    day: str | date, total: int, item_9: int | None, instrument: MoodInstrument = PHQ9
) -> MoodScreen:
    when = d(day) if isinstance(day, str) else day
    return MoodScreen(instrument=instrument, total=total, item_9=item_9, screened_on=when)


NEGATIVE_LATEST = screen("2026-02-27", 3, 0)


def triggers(facts: Facts, settings: EvaluationSettings | None = None) -> tuple[str, ...]:
    f = run(facts, settings=settings).finding(RULE)
    assert f is not None
    return f.triggers


@pytest.mark.parametrize("instrument", [PHQ9, PHQA])
def test_a_recent_item_9_applies_although_a_later_screen_is_negative(
    instrument: MoodInstrument,
) -> None:
    screens = (screen("2026-02-10", 6, 1, instrument), NEGATIVE_LATEST)
    ev = run(a1(mood_screens=screens))

    f = ev.finding(RULE)
    assert f is not None
    assert f.status is Status.APPLIES
    assert f.severity is Severity.CRITICAL
    assert ev.decision is Decision.DO_NOT_START
    (trigger,) = f.triggers
    assert "2026-02-10" in trigger  # the explanation names that screen's date
    assert f"{instrument.value} on 2026-02-10: item 9 = 1" in trigger
    assert "a later screen does not cancel it" in trigger


def test_the_same_applies_in_the_eu_and_uk() -> None:
    screens = (screen("2026-02-10", 6, 2), NEGATIVE_LATEST)
    for jurisdiction in (Jurisdiction.EU, Jurisdiction.UK):
        ev = run(a1_eu(mood_screens=screens), jurisdiction=jurisdiction)
        assert fires(ev, RULE), jurisdiction


def test_a_negative_later_screen_was_enough_before() -> None:
    # The most recent screen alone is negative: without the earlier one, the rule is quiet.
    assert not fires(run(a1(mood_screens=(NEGATIVE_LATEST,))), RULE)


@pytest.mark.parametrize(
    ("days_before", "applies"),
    [
        pytest.param(0, True, id="on-as_of"),
        pytest.param(29, True, id="day-1-of-30"),
        pytest.param(30, False, id="31-days-up-to-as_of"),
    ],
)
def test_the_window_is_the_30_days_up_to_as_of(days_before: int, applies: bool) -> None:
    early = screen(AS_OF - timedelta(days=days_before), 6, 1)
    later = [] if days_before == 0 else [screen(AS_OF, 3, 0)]
    # A PHQ-9 in the item window keeps the rule known when the earlier screen is out of range.
    ev = run(a1(mood_screens=(early, *later)))
    assert fires(ev, RULE) is applies


def test_the_most_recent_screen_with_item_9_is_named_once() -> None:
    only = triggers(a1(mood_screens=(screen("2026-02-27", 6, 1),)))
    assert only == ("phq-9 on 2026-02-27: item 9 = 1",)


def test_the_most_recent_positive_item_9_is_named() -> None:
    screens = (screen("2026-02-05", 6, 2), screen("2026-02-15", 5, 1), NEGATIVE_LATEST)
    (trigger,) = triggers(a1(mood_screens=screens))
    assert trigger.startswith("phq-9 on 2026-02-15: item 9 = 1")


def test_at_a_follow_up_a_screen_before_the_previous_visit_still_counts() -> None:
    # The item window starts at the previous visit (02-20); the screen of 02-15 is older but
    # within the 30 days up to as_of.
    dispensed = Dispensing(dispensed_on=d("2026-01-30"), mg_per_day=60, days_supplied=30)
    facts = a1(
        treatment_start_date=d("2026-01-30"),
        dispensings=(dispensed,),
        previous_visit_date=d("2026-02-20"),
        mood_screens=(screen("2026-02-15", 6, 1), NEGATIVE_LATEST),
    )
    assert fires(run(facts), RULE)


def test_without_a_screen_in_the_item_window_a_recent_item_9_applies() -> None:
    # Only a screen older than the item window (previous visit 02-20), but within 30 days: the
    # rule applies instead of "unknown, no screen this visit".
    dispensed = Dispensing(dispensed_on=d("2026-01-30"), mg_per_day=60, days_supplied=30)
    facts = a1(
        treatment_start_date=d("2026-01-30"),
        dispensings=(dispensed,),
        previous_visit_date=d("2026-02-20"),
        mood_screens=(screen("2026-02-15", 6, 1),),
    )
    ev = run(facts)
    f = ev.finding(RULE)
    assert f is not None
    assert f.status is Status.APPLIES
    assert "2026-02-15" in f.triggers[0]


def test_phq2_has_no_item_9() -> None:
    screens = (screen("2026-02-10", 4, None, PHQ2), NEGATIVE_LATEST)
    assert not fires(run(a1(mood_screens=screens)), RULE)


def test_a_screen_after_as_of_is_not_seen() -> None:
    screens = (NEGATIVE_LATEST, screen(AS_OF + timedelta(days=1), 6, 1))
    assert not fires(run(a1(mood_screens=screens)), RULE)


def test_the_lookback_is_a_local_policy_setting() -> None:
    screens = (screen("2026-02-10", 6, 1), NEGATIVE_LATEST)  # 20 days before as_of
    shorter = EvaluationSettings(local_policy=LocalPolicy(suicidal_ideation_lookback_days=14))
    assert not fires(run(a1(mood_screens=screens), settings=shorter), RULE)
    longer = EvaluationSettings(
        local_policy=LocalPolicy.from_mapping({"suicidal_ideation_lookback_days": 21})
    )
    (trigger,) = triggers(a1(mood_screens=screens), settings=longer)
    assert "within the 21 days up to 2026-03-01" in trigger


def test_the_lookback_setting_must_be_a_whole_number_of_days() -> None:
    with pytest.raises(PolicyError, match="suicidal_ideation_lookback_days"):
        LocalPolicy.from_mapping({"suicidal_ideation_lookback_days": 2.5})


def test_the_default_lookback_is_30_days_and_the_rule_is_version_2() -> None:
    assert LocalPolicy().suicidal_ideation_lookback_days == 30
    rule = build_catalog(EvaluationSettings()).rule(RULE)
    assert rule.version == 2
    for v in rule.variants:
        assert "30 days" in v.text
        assert "local policy" in v.text


def test_psychiatric_history_still_reads_the_most_recent_screen() -> None:
    # RULES §7 "Positive mood screen": item 9 > 0 *on the most recent screen*.
    earlier_positive = (screen("2026-02-10", 6, 1), NEGATIVE_LATEST)
    assert not fires(run(a1(mood_screens=earlier_positive)), HISTORY)

    latest_positive = (NEGATIVE_LATEST, screen("2026-02-28", 6, 1))
    ev = run(a1(mood_screens=latest_positive))
    assert fires(ev, HISTORY)
    f = ev.finding(HISTORY)
    assert f is not None
    assert f.triggers == ("positive phq-9 on 2026-02-28: total 6, item 9 = 1",)
