"""RULES §6: interactions, matched as in RULES §13."""

from __future__ import annotations

from domain.catalog._build import (
    CRITICAL,
    EU_UK,
    INFO,
    LOCAL,
    PRIMARY,
    SECONDARY,
    UNVERIFIED,
    US,
    WARNING,
    V,
    cite,
    rule,
)
from domain.checks.clinical import ProgestinOnlyPill
from domain.checks.common import MedicationIn
from domain.rules import Check, Citation, Rule
from domain.vocab import Severity, Verification


def _us_and_by_analogy(
    rule_id: str,
    title: str,
    check: Check,
    *,
    severity: Severity,
    text: str,
    source: Citation,
    verification: Verification,
    eu_text: str,
    version: int = 1,
) -> Rule:
    """A rule with a US variant and an EU/UK variant by analogy with it."""
    return rule(
        rule_id,
        title,
        V(
            label="US",
            where=US,
            severity=severity,
            check=check,
            text=text,
            cites=(source,),
            verification=verification,
        ),
        V(
            label="EU/UK",
            where=EU_UK,
            severity=severity,
            check=check,
            text=f"{eu_text} (by analogy with the US label).",
            cites=(source,),
            verification=UNVERIFIED,
            basis=LOCAL,
        ),
        version=version,
    )


def rules() -> list[Rule]:
    """The interactions."""
    tetracyclines = MedicationIn("tetracyclines", systemic_only=True)
    return [
        rule(
            "interaction.tetracyclines",
            "Tetracycline-class antibiotic",
            V(
                label="US",
                where=US,
                severity=WARNING,
                gates=True,
                check=tetracyclines,
                text="Avoid tetracycline-class antibiotics with isotretinoin: intracranial "
                "hypertension (pseudotumor cerebri). Gating in every jurisdiction (local policy).",
                cites=(cite("fda-label-absorica", "§5.5"),),
                verification=PRIMARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=CRITICAL,
                check=tetracyclines,
                text="Tetracyclines are contraindicated with isotretinoin: intracranial hypertension.",
                cites=(cite("eu-smpc", "§4.3"),),
                verification=PRIMARY,
            ),
            version=2,  # oxytetracycline, brand names and synonyms (RULES §6, §13 amendment)
        ),
        _us_and_by_analogy(
            "interaction.vitamin-a",
            "Vitamin A supplements",
            MedicationIn("vitamin-a", unknown_for=("multivitamin",)),
            severity=WARNING,
            text="No vitamin A supplements: additive toxicity. A multivitamin: check its vitamin A "
            "content.",
            source=cite("fda-label-absorica", "§7"),
            verification=PRIMARY,
            eu_text="No vitamin A supplements: additive toxicity",
            version=2,  # retinyl esters and Aquasol A (RULES §13 amendment)
        ),
        rule(
            "interaction.progestin-only-pill",
            "Progestin-only pill",
            V(
                label="US",
                where=US,
                severity=WARNING,
                check=ProgestinOnlyPill(),
                text="A progestin-only pill (minipill) is not an acceptable method of contraception "
                "with isotretinoin: contraceptive failure.",
                cites=(cite("fda-label-legacy"), cite("fda-medguide")),
                verification=PRIMARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=WARNING,
                check=ProgestinOnlyPill(),
                text="A progestin-only pill may be inadequate contraception with isotretinoin (by "
                "analogy with the US label).",
                cites=(cite("fda-label-legacy"), cite("fda-medguide")),
                verification=UNVERIFIED,
                basis=LOCAL,
            ),
            version=2,  # the product value set by ingredient and strength (RULES §13 amendment)
        ),
        _us_and_by_analogy(
            "interaction.st-johns-wort",
            "St John's Wort",
            MedicationIn("st-johns-wort"),
            severity=WARNING,
            text="St John's Wort may make hormonal contraceptives fail; pregnancies have been "
            "reported (wording unverified).",
            source=cite("fda-label-absorica", "§7"),
            verification=UNVERIFIED,
            eu_text="St John's Wort may make hormonal contraceptives fail",
        ),
        _us_and_by_analogy(
            "interaction.phenytoin",
            "Phenytoin",
            MedicationIn("phenytoin"),
            severity=INFO,
            text="Phenytoin causes osteomalacia: use caution (bone loss).",
            source=cite("fda-label-absorica", "§7"),
            verification=SECONDARY,
            eu_text="Phenytoin: caution, bone loss",
        ),
        _us_and_by_analogy(
            "interaction.systemic-corticosteroids",
            "Systemic corticosteroids",
            MedicationIn("systemic-corticosteroids", systemic_only=True),
            severity=INFO,
            text="Systemic corticosteroids cause osteoporosis: use caution (bone loss).",
            source=cite("fda-label-absorica", "§7"),
            verification=SECONDARY,
            eu_text="Systemic corticosteroids: caution, bone loss",
        ),
        rule(
            "interaction.topical-keratolytics",
            "Topical keratolytic or exfoliating agents",
            V(
                label="EU/UK",
                where=EU_UK,
                severity=INFO,
                check=MedicationIn("topical-keratolytics", topical_only=True),
                text="Avoid topical keratolytic or exfoliative anti-acne agents: local irritation.",
                cites=(cite("eu-smpc", "§4.5"),),
                verification=SECONDARY,
            ),
        ),
    ]
