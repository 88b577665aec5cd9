"""Contraindications, precautions and interactions that are more than a lookup (RULES §5–§7)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.checks.common import MedicationIn, allergies_to, conditions_in, symptoms_in
from domain.checks.labs import tg_mg_dl
from domain.checks.matching import code_match
from domain.codes import BREASTFEEDING, PSYCHIATRIC, SUICIDAL_IDEATION, TRIGLYCERIDES, value_set
from domain.context import Context, within_last
from domain.facts import MoodScreen
from domain.products import PRODUCTS
from domain.rules import FALSE, Outcome, any_of, applies, unknown
from domain.vocab import Allergen, ContraceptionMethod, MoodInstrument, Symptom


@dataclass(frozen=True, slots=True)
class Breastfeeding:
    """``contraindication.breastfeeding``.

    The fact decides; a current coded condition overrides it towards ``true``; without either it
    is unknown (a record rarely states "not breastfeeding").
    """

    def run(self, ctx: Context) -> Outcome:
        """Applies when breastfeeding."""
        coded = conditions_in(ctx, BREASTFEEDING.name, current_only=True)
        if coded.truth is True:
            return coded
        value = ctx.facts.breastfeeding
        if value is None:
            return unknown("breastfeeding")
        return applies("breastfeeding") if value else FALSE


@dataclass(frozen=True, slots=True)
class Hypersensitivity:
    """``contraindication.hypersensitivity``: isotretinoin, vitamin A, or an excipient.

    The excipient is any but soybean oil (parabens); soy and peanut belong to
    ``contraindication.soy-peanut-allergy``.
    """

    def run(self, ctx: Context) -> Outcome:
        """Applies on an allergy to the drug or vitamin A, or parabens with a paraben product."""
        direct = allergies_to(ctx, (Allergen.ISOTRETINOIN, Allergen.VITAMIN_A))
        if direct.truth is not False:
            return direct
        allergies = ctx.facts.allergies or ()
        for i, a in enumerate(allergies):
            if a.coding is not None and code_match(
                (a.coding,), value_set("isotretinoin"), ctx.policy
            ):
                return applies(f"allergies[{i}]: coded as isotretinoin")
        if any(a.substance is Allergen.PARABEN for a in allergies):
            product = ctx.product
            if product is None or PRODUCTS[product].parabens is None:
                return unknown(
                    "plan.product", notes=("paraben allergy: product excipients not known",)
                )
            if PRODUCTS[product].parabens:
                return applies(f"paraben allergy; {product.value} contains parabens")
        return FALSE


@dataclass(frozen=True, slots=True)
class SoyPeanut:
    """``contraindication.soy-peanut-allergy``: soy or peanut allergy and soybean oil.

    A product whose excipients are unknown makes it unknown. US peanut without soy is the tier
    ``peanut-without-soy`` (warning, unverified).
    """

    def run(self, ctx: Context) -> Outcome:
        """Applies when the product contains soybean oil."""
        hit = allergies_to(ctx, (Allergen.SOY, Allergen.PEANUT))
        if hit.truth is not True:
            return hit
        substances = {a.substance for a in ctx.facts.allergies or ()}
        tier = "peanut-without-soy" if ctx.is_us and Allergen.SOY not in substances else None
        product = ctx.product
        soy: bool | None = None
        if product is not None:
            soy = PRODUCTS[product].soybean_oil
            if soy is None and ctx.facts.plan.contains_soybean_oil is not None:
                soy = ctx.facts.plan.contains_soybean_oil
        if soy is None:
            missing = "plan.product" if product is None else "plan.contains_soybean_oil"
            return Outcome(
                None,
                missing=(missing,),
                triggers=hit.triggers,
                tier=tier,
                notes=("product excipients not known",),
            )
        if not soy:
            return FALSE
        return Outcome(
            True,
            triggers=(*hit.triggers, f"{product.value if product else ''} contains soybean oil"),
            tier=tier,
        )


@dataclass(frozen=True, slots=True)
class Tartrazine:
    """``contraindication.tartrazine``: tartrazine sensitivity and product Absorica."""

    def run(self, ctx: Context) -> Outcome:
        """Applies with Absorica (its 25 mg strength contains tartrazine)."""
        hit = allergies_to(ctx, (Allergen.TARTRAZINE,))
        if hit.truth is not True:
            return hit
        if ctx.product is None:
            return unknown("plan.product")
        if PRODUCTS[ctx.product].tartrazine_strength_mg is None:
            return FALSE
        return applies(*hit.triggers, f"product {ctx.product.value}")


@dataclass(frozen=True, slots=True)
class Hyperlipidaemia:
    """``contraindication.hyperlipidaemia``: attested, or a baseline TG above the severe band.

    The TG trigger is local policy (the ``lab.triglycerides.severe`` threshold). The baseline TG is
    the latest on or before the first dose; before it, the latest within the baseline lookback
    of the prescription date.
    """

    def run(self, ctx: Context) -> Outcome:
        """The attestation decides; else the baseline TG when present."""
        attested = ctx.facts.attestations.excessively_elevated_lipids
        if attested is not None:
            return applies("attested excessively elevated lipids") if attested else FALSE
        if ctx.labs is None:
            return unknown("attestations.excessively_elevated_lipids", "labs")
        results = ctx.results((TRIGLYCERIDES,))
        if ctx.started and ctx.treatment_start is not None:
            baseline = [r for r in results if r.collected_on <= ctx.treatment_start]
        else:
            days = ctx.policy.baseline_lookback_days
            baseline = [
                r for r in results if within_last(r.collected_on, ctx.prescription_date, days)
            ]
        if not baseline:
            return unknown("attestations.excessively_elevated_lipids", f"labs[{TRIGLYCERIDES}]")
        r = baseline[-1]
        mg = tg_mg_dl(r)
        if mg > ctx.policy.tg_severe_mg_dl:
            return applies(
                f"baseline triglycerides {mg:.1f} mg/dL on {r.collected_on} > {ctx.policy.tg_severe_mg_dl:g}"
            )
        return FALSE


def _latest(
    screens: tuple[MoodScreen, ...], instruments: tuple[MoodInstrument, ...]
) -> MoodScreen | None:
    picked = [s for s in screens if s.instrument in instruments]
    return picked[-1] if picked else None


def positive_screen(ctx: Context, s: MoodScreen) -> bool:
    """PHQ-9 ≥ 10, PHQ-A ≥ 10, PHQ-2 ≥ 3, or PHQ-9/PHQ-A item 9 > 0 (local policy, unverified)."""
    p = ctx.policy
    cutoff = {
        MoodInstrument.PHQ9: p.phq9_positive_total,
        MoodInstrument.PHQA: p.phqa_positive_total,
        MoodInstrument.PHQ2: p.phq2_positive_total,
    }[s.instrument]
    return s.total >= cutoff or (s.item_9 is not None and s.item_9 > 0)


@dataclass(frozen=True, slots=True)
class PsychiatricHistory:
    """``precaution.psychiatric-history``: psychiatric history or a positive mood screen.

    Depression, psychosis, suicidal ideation or self-harm, current or past, or a positive most
    recent mood screen.
    """

    def run(self, ctx: Context) -> Outcome:
        """Any of the conditions, or a positive screen."""
        parts = [
            conditions_in(ctx, PSYCHIATRIC.name, current_only=False),
            conditions_in(ctx, SUICIDAL_IDEATION.name, current_only=False),
        ]
        screens = ctx.screens
        if screens is None:
            parts.append(unknown("mood_screens"))
        elif screens:
            last = screens[-1]
            if positive_screen(ctx, last):
                parts.append(
                    applies(
                        f"positive {last.instrument.value} on {last.screened_on}: total {last.total}"
                        + (f", item 9 = {last.item_9}" if last.item_9 is not None else "")
                    )
                )
        return any_of(parts)


ITEM_9_INSTRUMENTS = (MoodInstrument.PHQ9, MoodInstrument.PHQA)


@dataclass(frozen=True, slots=True)
class SuicidalIdeationNow:
    """``precaution.suicidal-ideation-now``: current suicidal ideation (RULES §7).

    Reported, a current condition, item 9 > 0 on the most recent PHQ-9/PHQ-A within the
    mood-screen item window, or item 9 > 0 on any PHQ-9/PHQ-A dated within the
    ``suicidal_ideation_lookback_days`` (30) days up to ``as_of`` even when a later screen is
    negative (both screen triggers local policy); no screen and no report → unknown.

    The screen decides when nothing else applies: a report or a coded condition can only make the
    rule apply, and their absence does not make it unknown (an unreported symptom is not
    "information needed", RULES §0.4). Item 9 counts as 0 when the total is 0. A screen older
    than the item window (RULES §0.3) is not a screen of this visit: a missing mood screen acts
    through this rule (RULES §9). The trigger names the date of the screen that fired it.
    """

    def run(self, ctx: Context) -> Outcome:
        """Applies on any current sign of suicidal ideation."""
        signs = [
            symptoms_in(ctx, (Symptom.SUICIDAL_IDEATION,)),
            conditions_in(ctx, SUICIDAL_IDEATION.name, current_only=True),
        ]
        parts = [s for s in signs if s.truth is True]
        screens = ctx.screens
        if screens is None:
            parts.append(unknown("mood_screens"))
        else:
            recent = tuple(s for s in screens if ctx.in_item_window(s.screened_on))
            last = _latest(recent, ITEM_9_INSTRUMENTS)
            if last is None:
                parts.append(
                    unknown("mood_screens", notes=(f"no PHQ-9 or PHQ-A {ctx.item_window_text}",))
                )
            else:
                item9 = last.item_9 if last.item_9 is not None else (0 if last.total == 0 else None)
                if item9 is None:
                    parts.append(
                        unknown(
                            "mood_screens.item_9",
                            notes=(
                                f"{last.instrument.value} on {last.screened_on}: item 9 not recorded",
                            ),
                        )
                    )
                elif item9 > 0:
                    parts.append(applies(_item_9(last)))
            flagged = _recent_item_9(ctx, screens)
            if flagged is not None and flagged is not last:
                days = ctx.policy.suicidal_ideation_lookback_days
                later = any(
                    s.instrument in ITEM_9_INSTRUMENTS and s.screened_on > flagged.screened_on
                    for s in screens
                )
                parts.append(
                    applies(
                        f"{_item_9(flagged)}, within the {days} days up to {ctx.as_of}"
                        + (" (a later screen does not cancel it)" if later else "")
                    )
                )
        return any_of(parts)


def _item_9(s: MoodScreen) -> str:
    return f"{s.instrument.value} on {s.screened_on}: item 9 = {s.item_9}"


def _recent_item_9(ctx: Context, screens: tuple[MoodScreen, ...]) -> MoodScreen | None:
    """The most recent PHQ-9/PHQ-A with item 9 > 0 within the lookback up to ``as_of``."""
    days = ctx.policy.suicidal_ideation_lookback_days
    flagged = [
        s
        for s in screens
        if s.instrument in ITEM_9_INSTRUMENTS
        and s.item_9 is not None
        and s.item_9 > 0
        and within_last(s.screened_on, ctx.as_of, days)
    ]
    return flagged[-1] if flagged else None


@dataclass(frozen=True, slots=True)
class UnderAge:
    """A precaution for age below ``years`` (``precaution.uk-under-18-second-prescriber``)."""

    years: int

    def run(self, ctx: Context) -> Outcome:
        """Age < ``years``; unknown without an age."""
        if ctx.age is None:
            return unknown("age")
        return applies(f"age {ctx.age}") if ctx.age < self.years else FALSE


@dataclass(frozen=True, slots=True)
class ProgestinOnlyPill:
    """``interaction.progestin-only-pill``: a POP as a method, or a progestin-only product."""

    def run(self, ctx: Context) -> Outcome:
        """Applies on a recorded POP method or a matching current medication."""
        methods = [
            c for c in ctx.contraception if c.method is ContraceptionMethod.PROGESTIN_ONLY_PILL
        ]
        if methods:
            return applies(f"contraception: progestin-only-pill since {methods[0].start_date}")
        return MedicationIn("progestin-only-pill").run(ctx)
