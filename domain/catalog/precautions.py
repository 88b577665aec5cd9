"""RULES §7: precautions."""

from __future__ import annotations

from domain.catalog._build import (
    CRITICAL,
    EU_UK,
    INFO,
    LOCAL,
    PRIMARY,
    SECONDARY,
    UK,
    UK_2023_FROM,
    UK_2023_TO,
    UNVERIFIED,
    US,
    WARNING,
    V,
    cite,
    rule,
)
from domain.checks import clinical
from domain.checks.common import Attested, BoneRisk, ConditionIn, MetabolicRisk
from domain.rules import Rule
from domain.settings import LocalPolicy


def rules(policy: LocalPolicy) -> list[Rule]:
    """The precautions; the mood-screen lookback in the text is the one in force."""
    suicidal_text = (
        "Current suicidal ideation: do not start, or stop; urgent assessment (the item-9 triggers, "
        "the most recent PHQ-9 or PHQ-A, or any PHQ-9 or PHQ-A of the last "
        f"{policy.suicidal_ideation_lookback_days} days even when a later screen is negative, are "
        "local policy, unverified)."
    )
    return [
        rule(
            "precaution.psychiatric-history",
            "Psychiatric history or a positive mood screen",
            V(
                label="US",
                where=US,
                severity=WARNING,
                check=clinical.PsychiatricHistory(),
                text="Depression, psychosis, suicidal ideation or self-harm (current or past), or a "
                "positive mood screen: assess before starting, screen at every visit, consider a "
                "mental-health referral (screen thresholds are local policy, unverified).",
                cites=(cite("fda-label-absorica", "§5.4"),),
                verification=PRIMARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=WARNING,
                check=clinical.PsychiatricHistory(),
                text="Psychiatric history or a positive mood screen: assess mental health before "
                "starting, monitor at every visit, consider a mental-health referral (screen "
                "thresholds are local policy, unverified).",
                cites=(cite("ema-2018"), cite("mhra-2023"), cite("nice-ng198")),
                verification=PRIMARY,
            ),
        ),
        rule(
            "precaution.suicidal-ideation-now",
            "Current suicidal ideation",
            V(
                label="US",
                where=US,
                severity=CRITICAL,
                check=clinical.SuicidalIdeationNow(),
                text=suicidal_text,
                cites=(cite("fda-label-absorica", "§5.4"),),
                verification=PRIMARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=CRITICAL,
                check=clinical.SuicidalIdeationNow(),
                text=suicidal_text,
                cites=(cite("nice-ng198"), cite("ema-2018")),
                verification=PRIMARY,
            ),
            # 2: item 9 > 0 on any PHQ-9/PHQ-A within the lookback, even when a later screen is
            # negative (RULES §7).
            version=2,
        ),
        rule(
            "precaution.ibd",
            "Inflammatory bowel disease",
            V(
                label="US",
                where=US,
                severity=WARNING,
                check=ConditionIn("inflammatory-bowel-disease"),
                text="Inflammatory bowel disease (current or past): weigh the risk; stop on "
                "abdominal pain, rectal bleeding or severe diarrhoea.",
                cites=(cite("fda-label-generic", "§5.11"),),
                verification=PRIMARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=WARNING,
                check=ConditionIn("inflammatory-bowel-disease"),
                text="Inflammatory bowel disease (current or past): weigh the risk; stop on bowel "
                "symptoms.",
                cites=(cite("eu-smpc", "§4.4"),),
                verification=SECONDARY,
            ),
        ),
        rule(
            "precaution.metabolic-risk",
            "Metabolic risk (diabetes, obesity, alcohol, lipid disorder)",
            V(
                label="US",
                where=US,
                severity=WARNING,
                check=MetabolicRisk(),
                text="Diabetes, obesity, high alcohol intake, a lipid disorder or a family history "
                "of one: more frequent lipid and glucose monitoring.",
                cites=(cite("fda-label-absorica", "§5.8"),),
                verification=PRIMARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=WARNING,
                check=MetabolicRisk(),
                text="Diabetes, obesity, alcoholism or a lipid metabolism disorder: more frequent "
                "lipid and glucose checks.",
                cites=(cite("eu-smpc", "§4.4"),),
                verification=SECONDARY,
            ),
        ),
        rule(
            "precaution.bone-health",
            "Bone health",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=BoneRisk(),
                text="Osteoporosis, osteomalacia, anorexia nervosa, long-term corticosteroids or "
                "anticonvulsants, or an adolescent with open growth plates: weigh the bone risk.",
                cites=(cite("fda-label-generic", "§5.12"),),
                verification=SECONDARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=INFO,
                check=BoneRisk(),
                text="Bone risk factors: weigh the bone risk (by analogy with the US label).",
                cites=(cite("fda-label-generic", "§5.12"),),
                verification=UNVERIFIED,
                basis=LOCAL,
            ),
        ),
        rule(
            "precaution.severe-renal-impairment",
            "Severe renal impairment",
            V(
                label="US",
                where=US,
                severity=WARNING,
                check=Attested("severe_renal_impairment"),
                text="Severe renal impairment: start low (about 10 mg/day) and titrate (by analogy "
                "with the EU SmPC).",
                cites=(cite("eu-smpc", "§4.2"),),
                verification=UNVERIFIED,
                basis=LOCAL,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=WARNING,
                check=Attested("severe_renal_impairment"),
                text="Severe renal insufficiency: start at a low dose (e.g. 10 mg/day) and increase "
                "up to 1 mg/kg/day or the maximum tolerated.",
                cites=(cite("eu-smpc", "§4.2"),),
                verification=PRIMARY,
            ),
        ),
        rule(
            "precaution.uk-under-18-second-prescriber",
            "UK: second prescriber for patients under 18",
            V(
                label="UK/2023",
                where=UK,
                start=UK_2023_FROM,
                end=UK_2023_TO,
                severity=WARNING,
                check=clinical.UnderAge(18),
                text="Under 18: a second, independent prescriber must agree before starting "
                "(MHRA 2023; ended 2026-01-21 by MHRA 2026).",
                cites=(cite("mhra-2023"),),
                verification=PRIMARY,
            ),
        ),
    ]
