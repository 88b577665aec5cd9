"""Pregnancy: the contraindication, the pregnancy tests a visit needs, and the prescription window.

RULES §3, §5 (``contraindication.pregnancy``, ``contraindication.ppp-not-met`` element 1), §9.1 and
§2 (epochs). All windows are calendar dates, inclusive (RULES §0.5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from domain.checks.matching import condition_matches
from domain.codes import PREGNANT
from domain.context import US_2026, Context, day, epoch_for, window_end, within_last
from domain.facts import PregnancyTest
from domain.rules import FALSE, Outcome, applies, unknown
from domain.vocab import (
    MEDICAL_SETTINGS,
    ConditionStatus,
    Jurisdiction,
    PregnancyPotential,
    PregnancyStatusValue,
    TestResult,
    TestSetting,
    VisitType,
)

US_WINDOW_DAYS = 7  # collection within 7 days of the specimen date, specimen day = day 1
US_CANNOT_WINDOW_DAYS = 30  # US/pre-2026, cannot become pregnant: 30 days from the office visit
US_CONFIRMATION_WAIT_DAYS = (
    19  # second test ≥ 19 days after the first; the pre-2026 missed-window wait
)
EU_RECENCY_DAYS = 3  # prescription date − 3 ≤ specimen date ≤ prescription date
EU_DISPENSE_DAYS = 7  # dispense within 7 days of the prescription date, prescription day = day 1
EU_MAX_SENSITIVITY_MIU_ML = 25.0  # a test at least this sensitive: detects hCG at ≤ 25 mIU/mL
POST_THERAPY_DAYS = {"1-month": 30, "5-weeks": 35}

_NEG, _POS, _IND = TestResult.NEGATIVE, TestResult.POSITIVE, TestResult.INDETERMINATE
_RESULT_ORDER = {_NEG: 0, _IND: 1, _POS: 2}  # same-day conflicts resolve towards positive


def describe(t: PregnancyTest) -> str:
    """A test in words, e.g. ``negative test on 2026-02-27 (medical-lab)``."""
    return f"{t.result.value} test on {t.specimen_date} ({t.setting.value})"


# --- contraindication.pregnancy ------------------------------------------------------------


def pregnancy(ctx: Context) -> Outcome:
    """``contraindication.pregnancy`` (RULES §5), shared by ``stop.pregnancy``."""
    return ctx.memo("pregnancy", _pregnancy)


def _pregnancy(ctx: Context) -> Outcome:
    statuses = ctx.statuses or ()
    latest_status_day = statuses[-1].recorded_on if statuses else None
    latest_statuses = {s.value for s in statuses if s.recorded_on == latest_status_day}
    if PregnancyStatusValue.PREGNANT in latest_statuses:
        return applies(f"pregnancy status 'pregnant' recorded on {latest_status_day}")
    for i, c in enumerate(ctx.facts.conditions or ()):
        if c.status is ConditionStatus.CURRENT and condition_matches(c, PREGNANT, ctx.policy):
            return applies(f"conditions[{i}]: current condition coded pregnant")
    tests = ctx.tests
    negatives = [t for t in tests if t.result is _NEG]
    last_negative = negatives[-1].specimen_date if negatives else None
    positives = [
        t
        for t in tests
        if t.result is _POS and (last_negative is None or t.specimen_date >= last_negative)
    ]
    if positives:
        return applies(*(f"positive pregnancy test on {t.specimen_date}" for t in positives))
    if ctx.category is PregnancyPotential.CANNOT:
        return FALSE
    history = tuple(
        f"earlier positive test on {t.specimen_date} superseded by a later negative test"
        for t in tests
        if t.result is _POS
    )
    uncertain = latest_statuses & {
        PregnancyStatusValue.POSSIBLE,
        PregnancyStatusValue.NOT_YET_CONFIRMED,
    }
    if uncertain:
        value = sorted(s.value for s in uncertain)[0]
        return unknown(
            "pregnancy_status", notes=(f"latest pregnancy status is '{value}'", *history)
        )
    if tests:
        last_day = tests[-1].specimen_date
        last = max((t for t in tests if t.specimen_date == last_day), key=_order)
        if last.result is _IND:
            return unknown(
                "pregnancy_tests", notes=(f"latest test on {last_day} is indeterminate", *history)
            )
    days = ctx.policy.pregnancy_recency_days
    recent_negative = any(within_last(t.specimen_date, ctx.as_of, days) for t in negatives)
    recent_status = any(
        s.value is PregnancyStatusValue.NOT_PREGNANT and within_last(s.recorded_on, ctx.as_of, days)
        for s in statuses
    )
    if not (recent_negative or recent_status):
        return unknown(
            "pregnancy_tests",
            notes=(
                f"no negative pregnancy test or 'not-pregnant' status within the {days} days up to "
                f"{ctx.as_of}",
                *history,
            ),
        )
    return FALSE


def _order(t: PregnancyTest) -> int:
    return _RESULT_ORDER[t.result]


# --- which tests count ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Accepted:
    """Whether a test counts for a requirement, and the note that goes with it."""

    ok: bool
    note: str | None = None


def accepted_on_treatment(ctx: Context, t: PregnancyTest) -> Accepted:
    """US, during or after treatment: medical setting; home tests by epoch (RULES §2, §9.1)."""
    if t.setting in MEDICAL_SETTINGS:
        return Accepted(True)
    if epoch_for(Jurisdiction.US, t.specimen_date, ctx.settings) == US_2026:
        if ctx.facts.home_testing_permitted is True:
            return Accepted(
                True, f"{t.setting.value} test accepted: the prescriber permits home tests"
            )
        return Accepted(False)
    return Accepted(
        True,
        f"{t.setting.value} test on {t.specimen_date} accepted: the REMS text before ipledge-2026 "
        "asks for a medical setting, and FDA does not enforce it (enforcement discretion since "
        "Oct 2023)",
    )


def _eu_accept(ctx: Context, t: PregnancyTest) -> Accepted:
    """EU/UK: medically supervised (UK from 2026: remotely supervised too), sensitive enough."""
    settings = set(MEDICAL_SETTINGS)
    if ctx.epoch == "UK/2026":
        settings.add(TestSetting.REMOTE_SUPERVISED)
    if t.setting not in settings:
        return Accepted(False)
    if t.sensitivity_miu_ml is None:
        return Accepted(True, "test sensitivity not recorded: confirm it detects ≤ 25 mIU/mL")
    if t.sensitivity_miu_ml > EU_MAX_SENSITIVITY_MIU_ML:
        return Accepted(False)
    return Accepted(True)


def _eu_recent(ctx: Context, t: PregnancyTest) -> bool:
    p = ctx.prescription_date
    return p - day(EU_RECENCY_DAYS) <= t.specimen_date <= p


# --- the US pre-treatment series ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsSeries:
    """The US screening/confirmation tests before the first dose (RULES §9.1, §9 window)."""

    screening: PregnancyTest | None = None
    confirmation: PregnancyTest | None = None
    missed: tuple[PregnancyTest, ...] = ()


def us_series(ctx: Context) -> UsSeries:
    """Walk the negative medical-setting tests in date order.

    The first test is the screening test. The confirmation test is the first test at least 19
    days after it. A test inside an open window does not move it. Once the window of the
    confirmation test has passed unused, the next test becomes the new confirmation test: at
    once from ``ipledge-2026`` on; before it, only a test at least 19 days after the previous
    confirmation test (the 19-day wait). Tests of an earlier isotretinoin course are ignored.
    """
    return ctx.memo("us_series", _us_series)


def _us_series(ctx: Context) -> UsSeries:
    ended = [c.end for c in ctx.previous_courses or () if c.end is not None]
    since = max(ended) if ended else None
    screening: PregnancyTest | None = None
    confirmation: PregnancyTest | None = None
    missed: list[PregnancyTest] = []
    for t in ctx.tests:
        if t.result is not _NEG or t.setting not in MEDICAL_SETTINGS:
            continue
        if since is not None and t.specimen_date <= since:
            continue
        if screening is None:
            screening = t
            continue
        if confirmation is None:
            if (t.specimen_date - screening.specimen_date).days >= US_CONFIRMATION_WAIT_DAYS:
                confirmation = t
            continue
        if t.specimen_date <= window_end(confirmation.specimen_date, US_WINDOW_DAYS):
            continue
        missed.append(confirmation)
        retest_now = epoch_for(Jurisdiction.US, t.specimen_date, ctx.settings) == US_2026
        gap = (t.specimen_date - confirmation.specimen_date).days
        if retest_now or gap >= US_CONFIRMATION_WAIT_DAYS:
            confirmation = t
    return UsSeries(screening, confirmation, tuple(missed))


# --- element 1 of the pregnancy prevention programme ---------------------------------------


@dataclass(frozen=True, slots=True)
class TestRequirement:
    """Whether the pregnancy tests this visit needs are met (``ppp-not-met`` element 1).

    Attributes:
        met: All required tests are recorded negative and the latest covers the prescription.
        unmet: What is missing, in words.
        not_before: A confirmation test not yet allowed: the first day it may be taken.
        notes: Notes that travel with the items (CLIA, home test, sensitivity).
        retest_now: ``US/ipledge-2026``: retest at once after a missed window.
        covering: The test that covers the prescription, when met.
    """

    met: bool
    unmet: tuple[str, ...] = ()
    not_before: date | None = None
    notes: tuple[str, ...] = ()
    retest_now: bool = False
    covering: PregnancyTest | None = None


def test_requirement(ctx: Context) -> TestRequirement:
    """Element 1 for this visit, jurisdiction and epoch (None of it applies to ``cannot``)."""
    return ctx.memo("test_requirement", _test_requirement)


def _test_requirement(ctx: Context) -> TestRequirement:
    if ctx.is_us:
        return _us_baseline(ctx) if ctx.baseline else _us_follow_up(ctx)
    return _eu_requirement(ctx)


def _us_baseline(ctx: Context) -> TestRequirement:
    series = us_series(ctx)
    notes: list[str] = []
    if series.screening is None:
        return TestRequirement(False, ("screening pregnancy test (medical setting)",))
    if series.confirmation is None:
        earliest = series.screening.specimen_date + day(US_CONFIRMATION_WAIT_DAYS)
        return TestRequirement(
            False,
            (f"confirmation pregnancy test (medical setting, on or after {earliest})",),
            not_before=earliest if earliest > ctx.as_of else None,
        )
    conf = series.confirmation
    if conf.clia_certified is not True and not ctx.us_2026:
        notes.append("confirm the test was run in a CLIA-certified laboratory")
    end = window_end(conf.specimen_date, US_WINDOW_DAYS)
    if conf.specimen_date <= ctx.prescription_date <= end:
        return TestRequirement(True, notes=tuple(notes), covering=conf)
    if ctx.prescription_date < conf.specimen_date:
        return TestRequirement(False, ("a negative test on or before the prescription date",))
    if ctx.us_2026:
        return TestRequirement(
            False,
            (
                f"a new confirmation test: the window {conf.specimen_date} to {end} was missed; "
                "retest at once, in a medical setting (no dose taken yet)",
            ),
            retest_now=True,
        )
    earliest = conf.specimen_date + day(US_CONFIRMATION_WAIT_DAYS)
    return TestRequirement(
        False,
        (
            f"a new confirmation test: the window {conf.specimen_date} to {end} was missed; the next "
            f"confirmation test may not be taken before {earliest} (19 days after the previous test)",
        ),
        not_before=earliest if earliest > ctx.as_of else None,
    )


def us_monthly_test(ctx: Context) -> tuple[PregnancyTest | None, tuple[str, ...]]:
    """The latest accepted negative test whose 7-day window covers the prescription date."""
    return ctx.memo("us_monthly", _us_monthly)


def _us_monthly(ctx: Context) -> tuple[PregnancyTest | None, tuple[str, ...]]:
    best: PregnancyTest | None = None
    note: str | None = None
    for t in ctx.tests:
        if t.result is not _NEG:
            continue
        if (
            not t.specimen_date
            <= ctx.prescription_date
            <= window_end(t.specimen_date, US_WINDOW_DAYS)
        ):
            continue
        accepted = accepted_on_treatment(ctx, t)
        if accepted.ok:
            best, note = t, accepted.note
    return best, ((note,) if note else ())


def _us_follow_up(ctx: Context) -> TestRequirement:
    if ctx.visit_type is not VisitType.FOLLOW_UP:
        return TestRequirement(True)
    test, notes = us_monthly_test(ctx)
    if test is not None:
        return TestRequirement(True, notes=notes, covering=test)
    return TestRequirement(
        False,
        ("a negative pregnancy test within the 7-day window of this prescription (no wait)",),
    )


def eu_test(ctx: Context) -> tuple[PregnancyTest | None, tuple[str, ...]]:
    """EU/UK: the latest accepted negative test within 3 days before the prescription."""
    return ctx.memo("eu_test", _eu_test)


def _eu_test(ctx: Context) -> tuple[PregnancyTest | None, tuple[str, ...]]:
    best: PregnancyTest | None = None
    note: str | None = None
    for t in ctx.tests:
        if t.result is _NEG and _eu_recent(ctx, t):
            accepted = _eu_accept(ctx, t)
            if accepted.ok:
                best, note = t, accepted.note
    return best, ((note,) if note else ())


def _eu_requirement(ctx: Context) -> TestRequirement:
    if ctx.visit_type not in (VisitType.BASELINE, VisitType.FOLLOW_UP):
        return TestRequirement(True)
    test, notes = eu_test(ctx)
    unmet: list[str] = []
    if test is None:
        unmet.append(
            "a negative, medically supervised pregnancy test (≤ 25 mIU/mL) dated within the 3 days "
            f"before the prescription date {ctx.prescription_date}"
        )
    window = eu_dispense_window(ctx)
    if window.expired:
        unmet.append(f"dispensing window {window.start} to {window.end} has passed")
    return TestRequirement(not unmet, tuple(unmet), notes=notes, covering=test)


@dataclass(frozen=True, slots=True)
class EuWindow:
    """EU/UK: dispense within 7 days of the prescription date (prescription day = day 1)."""

    start: date
    end: date
    dispensed_on: date | None
    expired: bool


def eu_dispense_window(ctx: Context) -> EuWindow:
    """The EU/UK dispensing window of this prescription."""
    start = ctx.prescription_date
    end = window_end(start, EU_DISPENSE_DAYS)
    dispensed = next(
        (d.dispensed_on for d in ctx.dispensings if start <= d.dispensed_on <= end), None
    )
    return EuWindow(start, end, dispensed, dispensed is None and ctx.as_of > end)


# --- tests at the end of therapy and after it ----------------------------------------------


def end_of_therapy_test(ctx: Context) -> tuple[PregnancyTest | None, tuple[str, ...]]:
    """A negative test since the previous visit, in a setting accepted during treatment."""
    return _latest_accepted(ctx, lambda t: ctx.in_item_window(t.specimen_date))


def post_therapy_due(ctx: Context) -> date | None:
    """The day the post-therapy test falls due (last dose + 1 month, or 5 weeks by setting)."""
    if ctx.last_dose is None:
        return None
    days = 30 if ctx.is_us else POST_THERAPY_DAYS[ctx.settings.eu_post_therapy_test.value]
    return ctx.last_dose + day(days)


def post_therapy_test(ctx: Context) -> tuple[PregnancyTest | None, tuple[str, ...]]:
    """A negative test on or after the post-therapy due date."""
    due = post_therapy_due(ctx)
    if due is None:
        return None, ()
    return _latest_accepted(ctx, lambda t: t.specimen_date >= due)


def _latest_accepted(
    ctx: Context, when: Callable[[PregnancyTest], bool]
) -> tuple[PregnancyTest | None, tuple[str, ...]]:
    best: PregnancyTest | None = None
    note: str | None = None
    for t in ctx.tests:
        if t.result is not _NEG or not when(t):
            continue
        accepted = accepted_on_treatment(ctx, t) if ctx.is_us else _eu_accept(ctx, t)
        if accepted.ok:
            best, note = t, accepted.note
    return best, ((note,) if note else ())
