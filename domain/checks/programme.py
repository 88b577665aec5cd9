"""Checks of the pregnancy prevention programme (RULES §3, §5, §9.1, §9.2).

The contraindications, the test items, the contraception item, the prescription window and the
supply limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.checks import pregnancy as preg
from domain.checks.contraception import contraception
from domain.context import Context, day, window_end
from domain.facts import PregnancyTest
from domain.rules import FALSE, Item, Outcome, applies, unknown
from domain.vocab import ItemCategory, ItemState, PregnancyPotential, TestResult, VisitType

PT = ItemCategory.PREGNANCY_TEST


@dataclass(frozen=True, slots=True)
class Pregnancy:
    """``contraindication.pregnancy``."""

    def run(self, ctx: Context) -> Outcome:
        """See :func:`domain.checks.pregnancy.pregnancy`."""
        return preg.pregnancy(ctx)


@dataclass(frozen=True, slots=True)
class StopPregnancy:
    """``stop.pregnancy``: ``contraindication.pregnancy`` at a visit after the first dose."""

    def run(self, ctx: Context) -> Outcome:
        """Applies (or is unknown) with the contraindication, except at baseline."""
        if ctx.baseline:
            return FALSE
        return preg.pregnancy(ctx)


def counselling_met(ctx: Context) -> tuple[bool, str | None]:
    """Pregnancy-prevention counselling recorded within the item window (element 3)."""
    given = ctx.counselled.get("pregnancy-prevention")
    if given is not None:
        return True, f"pregnancy-prevention counselling on {given}"
    return False, None


@dataclass(frozen=True, slots=True)
class PppNotMet:
    """``contraindication.ppp-not-met``: any programme element unmet (RULES §5).

    Evaluated for ``can-become-pregnant`` (applies) and ``unknown`` (unknown, gating), at the
    visits that lead to a prescription (baseline and follow-up); never for
    ``cannot-become-pregnant``.
    """

    def run(self, ctx: Context) -> Outcome:
        """The unmet elements, with the time-limited ones' ``not_before``."""
        if not ctx.ppp or ctx.visit_type not in (VisitType.BASELINE, VisitType.FOLLOW_UP):
            return FALSE
        unmet: list[str] = []
        lapses: list[date] = []
        tests = preg.test_requirement(ctx)
        if not tests.met:
            unmet += [f"pregnancy test: {u}" for u in tests.unmet]
            if tests.not_before:
                lapses.append(tests.not_before)
        c = contraception(ctx)
        if not c.met:
            unmet.append(f"contraception: {c.reason}")
            if c.not_before and c.not_before > ctx.as_of:
                lapses.append(c.not_before)
        ok, _ = counselling_met(ctx)
        if not ok:
            unmet.append(f"pregnancy-prevention counselling {ctx.item_window_text}")
        if not unmet:
            return FALSE
        not_before = max(lapses) if lapses else None
        if ctx.category is PregnancyPotential.UNKNOWN:
            return Outcome(
                None,
                missing=("pregnancy_potential",),
                triggers=tuple(unmet),
                notes=("the category is not documented and programme elements are unmet",),
                not_before=not_before,
            )
        return applies(*unmet, not_before=not_before)


def _item(state: ItemState, **kw: object) -> Item:
    return Item(PT, state, **kw)  # type: ignore[arg-type]  # keyword fields of Item


@dataclass(frozen=True, slots=True)
class ScreeningTest:
    """``monitoring.pregnancy-test.screening``: baseline, can/unknown."""

    def run(self, ctx: Context) -> Outcome:
        """US: the first negative test in a medical setting; EU/UK: the 3-day-recent test."""
        if not ctx.ppp or not ctx.baseline:
            return FALSE
        suffix = ctx.category_suffix
        if ctx.is_us:
            s = preg.us_series(ctx).screening
            if s is None:
                return Outcome(True, item=_item(ItemState.DUE), notes=(f"medical setting{suffix}",))
            return Outcome(True, item=_item(ItemState.DONE, satisfied_by=preg.describe(s)))
        test, notes = preg.eu_test(ctx)
        window = (ctx.prescription_date - day(preg.EU_RECENCY_DAYS), ctx.prescription_date)
        if test is None:
            return Outcome(
                True,
                item=_item(ItemState.DUE, due_from=window[0], due_by=window[1]),
                notes=(f"negative, medically supervised, ≤ 25 mIU/mL{suffix}",),
            )
        return Outcome(
            True,
            item=_item(
                ItemState.DONE,
                due_from=window[0],
                due_by=window[1],
                satisfied_by=preg.describe(test),
            ),
            notes=notes,
        )


@dataclass(frozen=True, slots=True)
class ConfirmationTest:
    """``monitoring.pregnancy-test.confirmation``: US baseline, can/unknown."""

    def run(self, ctx: Context) -> Outcome:
        """Due from the screening test + 19 days; done with a valid confirmation test."""
        if not ctx.ppp or not ctx.baseline:
            return FALSE
        series = preg.us_series(ctx)
        req = preg.test_requirement(ctx)
        notes = tuple(n for n in req.notes if "CLIA" in n)
        if series.screening is None:
            return Outcome(
                True,
                item=_item(ItemState.DUE),
                notes=("after the screening test" + ctx.category_suffix,),
            )
        earliest = series.screening.specimen_date + day(preg.US_CONFIRMATION_WAIT_DAYS)
        conf = series.confirmation
        if conf is None:
            return Outcome(
                True,
                item=_item(ItemState.DUE, due_from=earliest),
                notes=(f"medical setting{ctx.category_suffix}",),
            )
        if req.met:
            return Outcome(
                True,
                item=_item(ItemState.DONE, due_from=earliest, satisfied_by=preg.describe(conf)),
                notes=notes,
            )
        return Outcome(True, item=_item(ItemState.DUE, due_from=req.not_before), notes=req.unmet)


def _covering_item(
    test: PregnancyTest | None, notes: tuple[str, ...], missing: str, suffix: str
) -> Outcome:
    if test is not None:
        return Outcome(
            True, item=_item(ItemState.DONE, satisfied_by=preg.describe(test)), notes=notes
        )
    return Outcome(True, item=_item(ItemState.DUE), notes=(missing + suffix,))


@dataclass(frozen=True, slots=True)
class MonthlyTest:
    """``monitoring.pregnancy-test.monthly``: follow-ups, can/unknown."""

    def run(self, ctx: Context) -> Outcome:
        """A negative test covering this month's prescription."""
        if not ctx.ppp or ctx.visit_type is not VisitType.FOLLOW_UP:
            return FALSE
        if ctx.is_us:
            test, notes = preg.us_monthly_test(ctx)
            return _covering_item(
                test,
                notes,
                "a negative test within 7 days before the prescription",
                ctx.category_suffix,
            )
        test, notes = preg.eu_test(ctx)
        return _covering_item(
            test,
            notes,
            "a negative, medically supervised test within 3 days before the prescription",
            ctx.category_suffix,
        )


@dataclass(frozen=True, slots=True)
class EndOfTherapyTest:
    """``monitoring.pregnancy-test.end-of-therapy``."""

    def run(self, ctx: Context) -> Outcome:
        """At the end-of-therapy visit: a negative test since the previous visit."""
        if not ctx.ppp or ctx.visit_type is not VisitType.END_OF_THERAPY:
            return FALSE
        test, notes = preg.end_of_therapy_test(ctx)
        return _covering_item(
            test, notes, "a negative test at the end of treatment", ctx.category_suffix
        )


@dataclass(frozen=True, slots=True)
class PostTherapyTest:
    """``monitoring.pregnancy-test.post-therapy``: 1 month (EU/UK setting: or 5 weeks) after."""

    def run(self, ctx: Context) -> Outcome:
        """Due on last dose + 30 (or 35) days; overdue after it without a negative test."""
        if not ctx.ppp or ctx.visit_type is not VisitType.POST_THERAPY:
            return FALSE
        due = preg.post_therapy_due(ctx)
        if due is None:
            return Outcome(True, item=_item(ItemState.DUE), notes=("last dose date not recorded",))
        test, notes = preg.post_therapy_test(ctx)
        if test is not None:
            return Outcome(
                True,
                item=_item(ItemState.DONE, due_from=due, satisfied_by=preg.describe(test)),
                notes=notes,
            )
        state = ItemState.DUE if ctx.as_of <= due else ItemState.OVERDUE
        return Outcome(
            True, item=_item(state, due_from=due), notes=(f"due on {due}{ctx.category_suffix}",)
        )


@dataclass(frozen=True, slots=True)
class ContraceptionItem:
    """``monitoring.contraception`` (RULES §9.2)."""

    def run(self, ctx: Context) -> Outcome:
        """Done when the recorded methods meet the programme, else due."""
        if not ctx.ppp:
            return FALSE
        c = contraception(ctx)
        cat = ItemCategory.CONTRACEPTION
        if c.met:
            return Outcome(
                True, item=Item(cat, ItemState.DONE, satisfied_by=c.satisfied_by), notes=c.notes
            )
        notes = (*c.notes, c.reason + ctx.category_suffix)
        return Outcome(True, item=Item(cat, ItemState.DUE, due_from=c.not_before), notes=notes)


@dataclass(frozen=True, slots=True)
class PrescriptionWindow:
    """``prescription.window`` (RULES §9.1): the window in which the prescription may be filled."""

    def run(self, ctx: Context) -> Outcome:
        """Due while open (dates shown), overdue once passed; ≤ 30 days' supply, no refills."""
        if ctx.visit_type not in (VisitType.BASELINE, VisitType.FOLLOW_UP):
            return FALSE
        reminder = "≤ 30 days' supply, no refills"
        cat = ItemCategory.PRESCRIPTION
        if ctx.is_us:
            if not ctx.ppp:
                if ctx.us_2026:
                    return Outcome(
                        True,
                        item=Item(cat, ItemState.NOT_REQUIRED),
                        notes=(
                            "no prescription window for patients who cannot become pregnant "
                            "from ipledge-2026 (unverified)",
                            reminder,
                        ),
                    )
                start = ctx.visit_date
                end = window_end(start, preg.US_CANNOT_WINDOW_DAYS)
                return _window(ctx, cat, start, end, reminder)
            anchor = preg.us_series(ctx).confirmation if ctx.baseline else _latest_us_test(ctx)
            if anchor is None:
                return Outcome(
                    True,
                    item=Item(cat, ItemState.DUE),
                    notes=(
                        "opens on the specimen date of a qualifying negative pregnancy test"
                        + ctx.category_suffix,
                        reminder,
                    ),
                )
            start = anchor.specimen_date
            return _window(ctx, cat, start, window_end(start, preg.US_WINDOW_DAYS), reminder)
        if not ctx.ppp:
            return FALSE
        w = preg.eu_dispense_window(ctx)
        if w.dispensed_on is not None:
            return Outcome(
                True,
                item=Item(
                    cat,
                    ItemState.DONE,
                    w.start,
                    w.end,
                    satisfied_by=f"dispensed on {w.dispensed_on}",
                ),
                notes=(reminder,),
            )
        state = ItemState.OVERDUE if w.expired else ItemState.DUE
        return Outcome(
            True,
            item=Item(cat, state, w.start, w.end),
            notes=("dispense within 7 days of the prescription date", reminder),
        )


def _latest_us_test(ctx: Context) -> PregnancyTest | None:
    negatives = [
        t
        for t in ctx.tests
        if t.result is TestResult.NEGATIVE and t.specimen_date <= ctx.prescription_date
    ]
    accepted = [t for t in negatives if preg.accepted_on_treatment(ctx, t).ok]
    return accepted[-1] if accepted else None


def _window(ctx: Context, cat: ItemCategory, start: date, end: date, reminder: str) -> Outcome:
    state = ItemState.OVERDUE if ctx.prescription_date > end else ItemState.DUE
    return Outcome(True, item=Item(cat, state, start, end), notes=(reminder,))


@dataclass(frozen=True, slots=True)
class SupplyLimit:
    """``prescription.supply-limit``: at most 30 days' supply and no refills (RULES §9.1).

    Evaluated only when a planned supply is given (or, for a course's checklist, on the recorded
    dispensings); never gating. US: every patient (the
    ``cannot-become-pregnant`` tier is a warning); EU/UK: can/unknown only.
    """

    max_days: int = 30

    def run(self, ctx: Context) -> Outcome:
        """Applies when the planned supply breaks the limit."""
        plan = ctx.facts.plan
        dispensed = ctx.dispensings if ctx.supply_from_dispensings else ()
        if plan.planned_days_supply is None and plan.planned_refills is None and not dispensed:
            return FALSE
        if not ctx.is_us and not ctx.ppp:
            return FALSE
        broken = [
            f"dispensing on {d.dispensed_on}: {d.days_supplied} days supplied (limit {self.max_days})"
            for d in dispensed
            if d.days_supplied > self.max_days
        ]
        if plan.planned_days_supply is not None and plan.planned_days_supply > self.max_days:
            broken.append(f"planned supply {plan.planned_days_supply} days (limit {self.max_days})")
        if plan.planned_refills:
            broken.append(f"{plan.planned_refills} refill(s) planned (none allowed)")
        if not broken:
            return FALSE
        tier = "cannot-become-pregnant" if ctx.is_us and not ctx.ppp else None
        return applies(*broken, tier=tier)


__all__ = ["unknown"]
