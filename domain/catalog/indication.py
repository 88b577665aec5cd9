"""RULES §4: indication."""

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
    UNVERIFIED,
    US,
    WARNING,
    V,
    cite,
    eu_and_early_uk,
    rule,
)
from domain.checks import indication as ind
from domain.rules import Rule, Tier
from domain.vocab import Basis, Effect, Verification

# RULES §0.4: the retreatment interval also gates when unknown because a previous course is
# recorded without an end date at a baseline visit (local policy). At other visits the unknown
# keeps the variant's defaults (not gating).
END_UNKNOWN_AT_BASELINE = Tier(
    name=ind.END_UNKNOWN_AT_BASELINE,
    severity=WARNING,
    effect=Effect.BLOCK,
    gates_when_unknown=True,
    text="A previous course is recorded without an end date: the 8-week (56-day) interval "
    "before a further course cannot be checked. Record when it ended before starting (the "
    "gating is local policy).",
    basis=Basis.LOCAL_POLICY,
    verification=Verification.UNVERIFIED,
)


def rules() -> list[Rule]:
    """The indication rules."""
    return [
        rule(
            "indication.labelled",
            "Labelled indication",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=ind.Labelled(),
                text="Labelled indication: severe recalcitrant nodular acne (multiple inflammatory "
                "nodules ≥ 5 mm, read as ≥ 2: local policy) unresponsive to conventional therapy "
                "including systemic antibiotics, in patients 12 years or older.",
                cites=(cite("fda-label-absorica", "§1"),),
                verification=PRIMARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=INFO,
                check=ind.Labelled(),
                text="Labelled indication: severe acne (nodular, conglobate, or at risk of permanent "
                "scarring) resistant to adequate courses of standard therapy with systemic "
                "antibacterials and topical therapy, in patients 12 years or older.",
                cites=(cite("eu-smpc", "§4.1"),),
                verification=PRIMARY,
            ),
        ),
        rule(
            "indication.guideline",
            "Guideline-supported indication",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=ind.Guideline(),
                text="Guideline-supported: isotretinoin is strongly recommended for severe acne, acne "
                "causing psychosocial burden or scarring, or acne failing standard oral or topical "
                "therapy.",
                cites=(cite("aad-2024"),),
                verification=PRIMARY,
            ),
            V(
                label="UK",
                where=UK,
                start=UK_2023_FROM,
                severity=INFO,
                check=ind.Guideline(),
                text="Guideline-supported: the NICE NG198 referral triggers (scarring, psychological "
                "distress, failed treatment including an oral antibiotic, severe acne) are met.",
                cites=(cite("nice-ng198"), cite("aad-2024")),
                verification=SECONDARY,
            ),
            *eu_and_early_uk(
                label="EU",
                severity=INFO,
                check=ind.Guideline(),
                text="Guideline-supported (by analogy with AAD 2024 and NICE NG198): severe acne, "
                "scarring, psychosocial burden or failed standard therapy.",
                cites=(cite("aad-2024"), cite("nice-ng198")),
                verification=UNVERIFIED,
                basis=LOCAL,
            ),
        ),
        rule(
            "indication.not-established",
            "Indication not established",
            V(
                label="US/EU/UK",
                where=US | EU_UK,
                severity=WARNING,
                effect=Effect.BLOCK,
                check=ind.NotEstablished(),
                text="Isotretinoin is not indicated on the facts given: neither the labelled nor the "
                "guideline criteria hold (the block is local policy).",
                cites=(cite("aad-2024"),),
                verification=UNVERIFIED,
                basis=LOCAL,
            ),
        ),
        rule(
            "indication.age-under-12",
            "Younger than 12 years",
            V(
                label="US",
                where=US,
                severity=CRITICAL,
                check=ind.AgeUnder12(),
                text="Not indicated under 12 years of age.",
                cites=(cite("fda-label-absorica", "§1"),),
                verification=PRIMARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=CRITICAL,
                check=ind.AgeUnder12(),
                text="Not for use before puberty or under 12 years of age.",
                cites=(cite("eu-smpc", "§4.2"),),
                verification=PRIMARY,
            ),
        ),
        rule(
            "indication.retreatment-interval",
            "Too soon after a previous course",
            V(
                label="US",
                where=US,
                severity=WARNING,
                effect=Effect.BLOCK,
                check=ind.Retreatment(),
                text="A second course should not start until 8 weeks (56 days) after the previous "
                "one ended: acne may keep improving after a course (the block is local policy).",
                cites=(cite("fda-label-absorica", "§1"),),
                verification=PRIMARY,
                tiers=(END_UNKNOWN_AT_BASELINE,),
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=WARNING,
                effect=Effect.BLOCK,
                check=ind.Retreatment(),
                text="A further course should not start until 8 weeks (56 days) after the previous "
                "one ended (the block is local policy).",
                cites=(cite("eu-smpc", "§4.2"),),
                verification=PRIMARY,
                tiers=(END_UNKNOWN_AT_BASELINE,),
            ),
            # 2: gates when a previous course has no end date at a baseline visit (RULES §0.4).
            version=2,
        ),
        rule(
            "indication.acne-fulminans",
            "Acne fulminans",
            V(
                label="US/EU/UK",
                where=US | EU_UK,
                severity=WARNING,
                check=ind.Fulminans(),
                text="Acne fulminans: refer the same day; a lower starting dose with or without an "
                "oral corticosteroid.",
                cites=(cite("nice-ng198"), cite("aad-2016")),
                verification=SECONDARY,
            ),
        ),
    ]
