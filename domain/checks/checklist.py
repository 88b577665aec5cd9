"""Checklist items that are records of things done (RULES §9.3, §12).

A missing record makes the item ``due``, never ``unknown``. Unless a row gives its own window, an
item is ``done`` when a qualifying record falls in the default item window (RULES §0.3):
within the 30 days up to the prescription date at baseline, since the previous visit after it.
Acknowledgement forms and iPLEDGE enrolment are one-off steps "before the first prescription":
they stay ``done`` once recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.context import Context, within_last
from domain.dosing import dosing_weight
from domain.rules import FALSE, Item, Outcome
from domain.vocab import FormKind, ItemCategory, ItemState, PregnancyPotential, VisitType

PRESCRIBING_VISITS = (VisitType.BASELINE, VisitType.FOLLOW_UP)


def _done(cat: ItemCategory, by: str, **kw: object) -> Outcome:
    return Outcome(True, item=Item(cat, ItemState.DONE, satisfied_by=by), **kw)  # type: ignore[arg-type]


def _due(cat: ItemCategory, *notes: str) -> Outcome:
    return Outcome(True, item=Item(cat, ItemState.DUE), notes=tuple(n for n in notes if n))


@dataclass(frozen=True, slots=True)
class Counselling:
    """A ``counselling.*`` item: due at baseline, then as the default item window says."""

    topic: str
    pregnancy_prevention_only: bool = False

    def run(self, ctx: Context) -> Outcome:
        """Done when the topic is recorded in the item window."""
        if self.pregnancy_prevention_only and not ctx.ppp:
            return FALSE
        cat = ItemCategory.COUNSELLING
        given = ctx.counselled.get(self.topic)
        if given is not None:
            return _done(cat, f"counselled on {given}")
        suffix = ctx.category_suffix if self.pregnancy_prevention_only else ""
        return _due(cat, f"counsel {ctx.item_window_text}{suffix}")


@dataclass(frozen=True, slots=True)
class PregnancyPotentialRecorded:
    """``documentation.pregnancy-potential``: the category is ``unknown``: record it (RULES §3)."""

    def run(self, ctx: Context) -> Outcome:
        """Due while the category is unknown; no finding once it is recorded."""
        if ctx.category is not PregnancyPotential.UNKNOWN:
            return FALSE
        return Outcome(
            True,
            item=Item(ItemCategory.DOCUMENTATION, ItemState.DUE),
            triggers=("pregnancy-potential category not documented",),
            notes=(
                "pregnancy-prevention requirements apply until the prescriber records the category",
            ),
        )


@dataclass(frozen=True, slots=True)
class Ipledge:
    """``documentation.ipledge``: enrolment, then a confirmation before each prescription.

    The confirmation must fall within the 30 days up to the prescription date.
    ``cannot-become-pregnant``: monthly before ``ipledge-2026``, at enrolment only from it.
    """

    def run(self, ctx: Context) -> Outcome:
        """Done when the steps this prescription needs are recorded."""
        if ctx.visit_type not in PRESCRIBING_VISITS:
            return FALSE
        cat = ItemCategory.DOCUMENTATION
        enrolled = ctx.upto(ctx.facts.rems.enrolled_on)
        confirmed = ctx.upto(ctx.facts.rems.monthly_confirmation_on)
        if enrolled is None:
            return _due(cat, "enrol the patient in iPLEDGE before the first prescription")
        monthly = ctx.ppp or not ctx.us_2026
        if not monthly:
            return _done(cat, f"enrolled on {enrolled} (cannot become pregnant: at enrolment only)")
        days = ctx.policy.baseline_lookback_days
        if confirmed is not None and within_last(confirmed, ctx.prescription_date, days):
            return _done(cat, f"enrolled on {enrolled}; confirmed on {confirmed}")
        return _due(
            cat,
            f"record the prescriber's iPLEDGE confirmation within the {days} days up to the "
            f"prescription date {ctx.prescription_date}",
        )


@dataclass(frozen=True, slots=True)
class AcknowledgementForm:
    """An acknowledgement form signed before the first prescription (UK ARF, EU form).

    Attributes:
        form: The form version due while this variant is in force.
        pregnancy_prevention_only: Only for can/unknown (the EU form).
    """

    form: FormKind
    pregnancy_prevention_only: bool = False

    def run(self, ctx: Context) -> Outcome:
        """Done once the form version due is recorded."""
        if self.pregnancy_prevention_only and not ctx.ppp:
            return FALSE
        if ctx.visit_type not in PRESCRIBING_VISITS:
            return FALSE
        cat = ItemCategory.DOCUMENTATION
        signed = [f for f in ctx.forms if f.form is self.form]
        if signed:
            return _done(cat, f"{self.form.value} signed on {signed[-1].signed_on}")
        return _due(cat, f"form due: {self.form.value}")


@dataclass(frozen=True, slots=True)
class MoodScreenItem:
    """``monitoring.mood``: a mood screen at every visit."""

    def run(self, ctx: Context) -> Outcome:
        """Done with a screen in the item window."""
        cat = ItemCategory.SCREENING
        for s in reversed(ctx.screens or ()):
            if ctx.in_item_window(s.screened_on):
                return _done(cat, f"{s.instrument.value} on {s.screened_on}: total {s.total}")
        extra = "; ask about psychiatric history (patient and family)" if ctx.baseline else ""
        return _due(cat, f"mood screen (PHQ-9 suggested) {ctx.item_window_text}{extra}")


@dataclass(frozen=True, slots=True)
class WeightItem:
    """``monitoring.weight``: weight for dosing, at every visit."""

    def run(self, ctx: Context) -> Outcome:
        """Done with a weight recent enough for dosing (and, after baseline, since the last visit)."""
        cat = ItemCategory.SCREENING
        kg, measured, why = dosing_weight(ctx)
        if (
            kg is not None
            and measured is not None
            and (ctx.baseline or ctx.in_item_window(measured))
        ):
            return _done(cat, f"{kg:g} kg on {measured}")
        return _due(cat, why or f"weigh the patient {ctx.item_window_text}")


@dataclass(frozen=True, slots=True)
class NotRequired:
    """An item the checklist states is not needed at baseline (``monitoring.cbc``).

    RULES §9.3 gives it no "during" entry, so it appears at the baseline visit only.
    """

    reason: str

    def run(self, ctx: Context) -> Outcome:
        """``not-required`` at the baseline visit."""
        if not ctx.baseline:
            return FALSE
        return Outcome(
            True, item=Item(ItemCategory.LAB, ItemState.NOT_REQUIRED), notes=(self.reason,)
        )


@dataclass(frozen=True, slots=True)
class SymptomReview:
    """``monitoring.symptom-review``: every visit after baseline; done when symptoms were asked."""

    def run(self, ctx: Context) -> Outcome:
        """Done when symptoms were asked at this visit or within the item window (RULES §0.3).

        ``reported_symptoms`` given (``[]`` = asked, none) without ``reported_symptoms_on`` is
        this visit's report; with it, the report of that date (a course's latest visit).
        """
        if ctx.baseline:
            return FALSE
        cat = ItemCategory.SCREENING
        on = ctx.facts.reported_symptoms_on
        if ctx.symptoms is not None:
            if on is None:
                return _done(cat, f"{len(ctx.symptoms)} symptom(s) reported at this visit")
            if ctx.in_item_window(on):
                return _done(cat, f"{len(ctx.symptoms)} symptom(s) reported on {on}")
            return _due(cat, f"ask about the symptoms of the stop rules (last asked on {on})")
        return _due(cat, "ask about the symptoms of the stop rules")


@dataclass(frozen=True, slots=True)
class SexualFunction:
    """``monitoring.sexual-function`` (UK): assess at baseline and every follow-up."""

    def run(self, ctx: Context) -> Outcome:
        """Done when an assessment is recorded in the item window."""
        if ctx.visit_type not in PRESCRIBING_VISITS:
            return FALSE
        cat = ItemCategory.SCREENING
        when = ctx.upto(ctx.facts.sexual_function_assessed_on)
        if when is not None and ctx.in_item_window(when):
            return _done(cat, f"assessed on {when}")
        return _due(cat, f"assess sexual function {ctx.item_window_text}")
