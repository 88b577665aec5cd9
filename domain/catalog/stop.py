"""RULES §11: stop rules: symptoms that end treatment. Never gating (RULES §0.4)."""

from __future__ import annotations

from domain.catalog._build import (
    CRITICAL,
    EU_UK,
    LOCAL,
    PRIMARY,
    SECONDARY,
    UNVERIFIED,
    US,
    V,
    cite,
    rule,
)
from domain.checks.common import StopSymptoms
from domain.checks.programme import StopPregnancy
from domain.rules import Check, Citation, Rule
from domain.vocab import Symptom as S  # noqa: N817  # short, read like the RULES table
from domain.vocab import Verification


def _stop(
    rule_id: str,
    title: str,
    check: Check,
    text: str,
    us: tuple[Citation, ...],
    us_verification: Verification,
    eu: tuple[Citation, ...] | None,
    eu_verification: Verification,
) -> Rule:
    """A stop rule: critical everywhere; the EU/UK variant is by analogy when it has no source."""
    by_analogy = eu is None
    return rule(
        rule_id,
        title,
        V(
            label="US",
            where=US,
            severity=CRITICAL,
            gates=False,
            check=check,
            text=text,
            cites=us,
            verification=us_verification,
        ),
        V(
            label="EU/UK",
            where=EU_UK,
            severity=CRITICAL,
            gates=False,
            check=check,
            text=text + (" (by analogy with the US label)" if by_analogy else ""),
            cites=us if eu is None else eu,
            verification=UNVERIFIED if by_analogy else eu_verification,
            basis=LOCAL if by_analogy else None,
        ),
    )


def rules() -> list[Rule]:
    """The stop rules."""
    absorica, generic, smpc = "fda-label-absorica", "fda-label-generic", "eu-smpc"
    return [
        rule(
            "stop.pregnancy",
            "Pregnancy during treatment",
            V(
                label="US",
                where=US,
                severity=CRITICAL,
                gates=False,
                check=StopPregnancy(),
                text="Pregnancy during treatment: stop at once, refer to an obstetrician experienced "
                "in reproductive toxicity, report to the iPLEDGE pregnancy registry.",
                cites=(cite(absorica, "boxed warning"),),
                verification=PRIMARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=CRITICAL,
                gates=False,
                check=StopPregnancy(),
                text="Pregnancy during treatment: stop and refer to a specialist in teratology.",
                cites=(cite(smpc, "§4.4"),),
                verification=PRIMARY,
            ),
        ),
        _stop(
            "stop.mood",
            "Depression, psychosis, aggression or suicidal ideation",
            StopSymptoms(
                (S.DEPRESSION, S.PSYCHOSIS, S.AGGRESSION, S.SUICIDAL_IDEATION),
                ("suicidal-ideation",),
            ),
            "Depression, psychosis, aggression or suicidal ideation: stop isotretinoin; "
            "evaluation or referral may be needed even after stopping.",
            (cite(absorica, "§5.4"),),
            PRIMARY,
            None,
            UNVERIFIED,
        ),
        _stop(
            "stop.papilledema",
            "Signs of intracranial hypertension",
            StopSymptoms(
                (S.PAPILLEDEMA, S.HEADACHE_WITH_NAUSEA, S.HEADACHE_WITH_VISUAL_DISTURBANCE),
                ("intracranial-hypertension",),
            ),
            "Papilledema, or headache with nausea or visual disturbance (intracranial "
            "hypertension): stop at once and refer to neurology.",
            (cite(absorica, "§5.5"),),
            PRIMARY,
            (cite(smpc, "§4.4"),),
            SECONDARY,
        ),
        _stop(
            "stop.serious-skin-reaction",
            "Serious skin reaction",
            StopSymptoms(
                (S.STEVENS_JOHNSON_SYNDROME, S.TOXIC_EPIDERMAL_NECROLYSIS, S.ERYTHEMA_MULTIFORME)
            ),
            "Stevens-Johnson syndrome, toxic epidermal necrolysis or erythema multiforme: stop.",
            (cite(absorica, "§5.6"),),
            PRIMARY,
            (cite(smpc, "§4.4"),),
            SECONDARY,
        ),
        _stop(
            "stop.pancreatitis",
            "Symptoms of pancreatitis",
            StopSymptoms((S.PANCREATITIS_SYMPTOMS,)),
            "Symptoms of pancreatitis: stop and seek care.",
            (cite(absorica, "§5.7"),),
            PRIMARY,
            (cite(smpc, "§4.4"),),
            SECONDARY,
        ),
        _stop(
            "stop.hepatitis",
            "Suspected hepatitis",
            StopSymptoms((S.JAUNDICE, S.DARK_URINE)),
            "Suspected hepatitis (jaundice, dark urine): stop.",
            (cite(generic, "§5.10"),),
            PRIMARY,
            None,
            UNVERIFIED,
        ),
        _stop(
            "stop.hearing",
            "Tinnitus or hearing loss",
            StopSymptoms((S.TINNITUS, S.HEARING_LOSS)),
            "Tinnitus or hearing loss: stop and refer.",
            (cite(generic, "§5.9"),),
            PRIMARY,
            None,
            UNVERIFIED,
        ),
        _stop(
            "stop.vision",
            "Visual difficulty",
            StopSymptoms((S.VISUAL_DIFFICULTY,)),
            "Visual difficulty: stop and arrange an ophthalmological examination.",
            (cite(absorica, "§5.13 (text not retrieved)"),),
            SECONDARY,
            None,
            UNVERIFIED,
        ),
        _stop(
            "stop.ibd-symptoms",
            "Bowel symptoms",
            StopSymptoms((S.ABDOMINAL_PAIN, S.RECTAL_BLEEDING, S.SEVERE_DIARRHOEA)),
            "Abdominal pain, rectal bleeding or severe diarrhoea: stop at once.",
            (cite(generic, "§5.11"),),
            PRIMARY,
            (cite(smpc, "§4.4"),),
            SECONDARY,
        ),
        _stop(
            "stop.severe-allergy",
            "Severe allergic reaction",
            StopSymptoms((S.ANAPHYLAXIS, S.SEVERE_ALLERGIC_REACTION, S.ALLERGIC_VASCULITIS)),
            "Anaphylaxis, a severe allergic reaction or allergic vasculitis: stop and manage.",
            (cite(absorica, "§5.14"),),
            PRIMARY,
            None,
            UNVERIFIED,
        ),
    ]
