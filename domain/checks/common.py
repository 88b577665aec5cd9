"""Generic checks: attestations, conditions, allergies, symptoms and medications as data."""

from __future__ import annotations

from dataclasses import dataclass

from domain.checks.matching import (
    condition_matches,
    medication_label,
    medication_match,
)
from domain.codes import BONE_RISK, DIABETES, LIPID_DISORDER, OBESITY, value_set
from domain.context import Context
from domain.rules import FALSE, Outcome, any_of, applies, unknown
from domain.vocab import Allergen, ConditionStatus, Symptom, Verification, VisitType


@dataclass(frozen=True, slots=True)
class Always:
    """Applies whenever the variant is in force (rules without a condition)."""

    trigger: str = "always stated"

    def run(self, ctx: Context) -> Outcome:  # noqa: ARG002  # unconditional by design
        """Always applies."""
        return applies(self.trigger)


def conditions_in(ctx: Context, set_name: str, *, current_only: bool) -> Outcome:
    """Whether a recorded condition is in the value set; ``unknown`` when conditions are absent."""
    conditions = ctx.facts.conditions
    if conditions is None:
        return unknown("conditions")
    vs = value_set(set_name)
    for i, c in enumerate(conditions):
        if current_only and c.status is not ConditionStatus.CURRENT:
            continue
        if condition_matches(c, vs, ctx.policy):
            label = c.text or next((x.display or x.code for x in c.codings), set_name)
            return applies(f"conditions[{i}]: {label} ({c.status.value})")
    return FALSE


def attestation(ctx: Context, name: str) -> Outcome:
    """An attestation as an outcome: true applies, false does not, absent is unknown."""
    value = getattr(ctx.facts.attestations, name)
    if value is None:
        return unknown(f"attestations.{name}")
    return applies(f"attested {name}") if value else FALSE


@dataclass(frozen=True, slots=True)
class AttestedOrCondition:
    """An attested state, with a current condition in a value set as its proxy (RULES §0.3)."""

    attestation: str
    value_set: str

    def run(self, ctx: Context) -> Outcome:
        """The attestation decides; without it, the conditions list does when present."""
        if getattr(ctx.facts.attestations, self.attestation) is not None:
            return attestation(ctx, self.attestation)
        proxy = conditions_in(ctx, self.value_set, current_only=True)
        if proxy.truth is None:
            return unknown(f"attestations.{self.attestation}", "conditions")
        return proxy


@dataclass(frozen=True, slots=True)
class Attested:
    """An attestation alone."""

    attestation: str

    def run(self, ctx: Context) -> Outcome:
        """True, false, or unknown when not attested."""
        return attestation(ctx, self.attestation)


@dataclass(frozen=True, slots=True)
class ConditionIn:
    """A condition (current, or current or past) in a value set."""

    value_set: str
    current_only: bool = False

    def run(self, ctx: Context) -> Outcome:
        """Applies on a matching condition; unknown when the conditions list is absent."""
        return conditions_in(ctx, self.value_set, current_only=self.current_only)


def symptoms_in(ctx: Context, symptoms: tuple[Symptom, ...]) -> Outcome:
    """Whether any of ``symptoms`` was reported; unknown when symptoms were not asked."""
    reported = ctx.symptoms
    if reported is None:
        return unknown("reported_symptoms")
    hits = [s for s in symptoms if s in reported]
    if hits:
        return applies(*(f"reported symptom: {s.value}" for s in hits))
    return FALSE


@dataclass(frozen=True, slots=True)
class StopSymptoms:
    """A ``stop.*`` trigger: a reported symptom, or a current coded condition (RULES §11)."""

    symptoms: tuple[Symptom, ...]
    condition_sets: tuple[str, ...] = ()

    def run(self, ctx: Context) -> Outcome:
        """Applies on a reported symptom or a current matching condition."""
        parts = [symptoms_in(ctx, self.symptoms)]
        parts += [conditions_in(ctx, name, current_only=True) for name in self.condition_sets]
        outcome = any_of(parts)
        if outcome.truth is True and ctx.visit_type is VisitType.BASELINE:
            return Outcome(
                True,
                triggers=outcome.triggers,
                notes=("at baseline: do not start; assess or refer",),
            )
        return outcome


def allergies_to(ctx: Context, substances: tuple[Allergen, ...]) -> Outcome:
    """Whether an allergy to any of ``substances`` is recorded; unknown when not asked."""
    allergies = ctx.facts.allergies
    if allergies is None:
        return unknown("allergies")
    hits = [a.substance.value for a in allergies if a.substance in substances and a.substance]
    if hits:
        return applies(*(f"allergy: {s}" for s in hits))
    return FALSE


@dataclass(frozen=True, slots=True)
class MedicationIn:
    """A current medication in a value set (RULES §13), with the match basis recorded.

    Attributes:
        value_set: The value set name.
        systemic_only: Apply the route exclusion (topical, ophthalmic… never match).
        topical_only: Only products with a topical route (or no route given) match.
        unknown_for: Value sets whose products make the rule ``unknown`` (multivitamins).
    """

    value_set: str
    systemic_only: bool = False
    topical_only: bool = False
    unknown_for: tuple[str, ...] = ()

    def run(self, ctx: Context) -> Outcome:
        """Applies on a match; unknown for an unresolved medication or a multivitamin."""
        meds = ctx.medications
        if meds is None:
            return unknown("medications")
        vs = value_set(self.value_set)
        parts: list[Outcome] = []
        for i, med in enumerate(meds):
            if med.unresolved:
                parts.append(unknown(f"medications[{i}]", notes=("medication not identified",)))
                continue
            m = medication_match(
                med,
                vs,
                ctx.policy,
                systemic_only=self.systemic_only,
                topical_only=self.topical_only,
            )
            if m is not None:
                note = (
                    ()
                    if m.verification is Verification.PRIMARY
                    else (f"code {m.term} is {m.verification.value}",)
                )
                parts.append(
                    Outcome(
                        True,
                        triggers=(
                            f"medications[{i}]: {medication_label(med)} "
                            f"(matched by {m.basis.value}: {m.term})",
                        ),
                        match_basis=m.basis,
                        notes=note,
                    )
                )
                continue
            for other in self.unknown_for:
                if medication_match(med, value_set(other), ctx.policy) is not None:
                    parts.append(
                        unknown(
                            f"medications[{i}]",
                            notes=(f"{medication_label(med)}: check vitamin A content",),
                        )
                    )
        return any_of(parts)


def metabolic_risk(ctx: Context) -> Outcome:
    """``precaution.metabolic-risk``: diabetes, obesity, alcohol, a lipid disorder or its family history."""
    return ctx.memo(
        "metabolic_risk",
        lambda c: any_of(
            [
                conditions_in(c, DIABETES.name, current_only=False),
                conditions_in(c, OBESITY.name, current_only=False),
                conditions_in(c, LIPID_DISORDER.name, current_only=False),
                attestation(c, "high_alcohol_intake"),
                attestation(c, "family_history_lipid_disorder"),
            ]
        ),
    )


@dataclass(frozen=True, slots=True)
class MetabolicRisk:
    """The check of ``precaution.metabolic-risk``."""

    def run(self, ctx: Context) -> Outcome:
        """See :func:`metabolic_risk`."""
        return metabolic_risk(ctx)


@dataclass(frozen=True, slots=True)
class BoneRisk:
    """``precaution.bone-health``: bone disease, corticosteroids or anticonvulsants, open growth plates."""

    def run(self, ctx: Context) -> Outcome:
        """Any of the bone risk factors of RULES §7."""
        return any_of(
            [
                conditions_in(ctx, BONE_RISK.name, current_only=False),
                MedicationIn("systemic-corticosteroids", systemic_only=True).run(ctx),
                MedicationIn("anticonvulsants").run(ctx),
                attestation(ctx, "open_growth_plates"),
            ]
        )
