"""RULES §5: contraindications."""

from __future__ import annotations

from domain.catalog._build import (
    CRITICAL,
    EU_UK,
    LOCAL,
    PRIMARY,
    SECONDARY,
    UNVERIFIED,
    US,
    WARNING,
    Epochs,
    V,
    cite,
    rule,
)
from domain.checks import clinical, programme
from domain.checks.common import AttestedOrCondition
from domain.rules import Rule, Tier
from domain.vocab import Basis, Effect, Verification


def rules(epochs: Epochs) -> list[Rule]:
    """The contraindications."""
    return [
        rule(
            "contraindication.pregnancy",
            "Pregnancy",
            V(
                label="US",
                where=US,
                severity=CRITICAL,
                check=programme.Pregnancy(),
                text="Pregnancy or a positive pregnancy test: isotretinoin is contraindicated "
                "(severe birth defects).",
                cites=(cite("fda-label-absorica", "boxed warning; §4"),),
                verification=PRIMARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=CRITICAL,
                check=programme.Pregnancy(),
                text="Pregnancy or a positive pregnancy test: isotretinoin is contraindicated.",
                cites=(cite("eu-smpc", "§4.3"),),
                verification=PRIMARY,
            ),
        ),
        rule(
            "contraindication.breastfeeding",
            "Breastfeeding",
            V(
                label="US",
                where=US,
                severity=WARNING,
                gates=True,
                check=clinical.Breastfeeding(),
                text="Breastfeeding: isotretinoin is not recommended (US wording unverified; the "
                "label's §8.2 was not retrieved). Gating in every jurisdiction (local policy).",
                cites=(cite("eu-smpc", "§4.3"), cite("fda-label-absorica", "§8.2")),
                verification=UNVERIFIED,
                basis=LOCAL,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=CRITICAL,
                check=clinical.Breastfeeding(),
                text="Breastfeeding: isotretinoin is contraindicated.",
                cites=(cite("eu-smpc", "§4.3"),),
                verification=PRIMARY,
            ),
        ),
        rule(
            "contraindication.hypersensitivity",
            "Hypersensitivity to isotretinoin, vitamin A or an excipient",
            V(
                label="US",
                where=US,
                severity=CRITICAL,
                check=clinical.Hypersensitivity(),
                text="Hypersensitivity to isotretinoin, to vitamin A (chemical similarity; "
                "secondary), or to a component of the product (e.g. parabens): contraindicated.",
                cites=(cite("fda-label-absorica", "§4"),),
                verification=SECONDARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=CRITICAL,
                check=clinical.Hypersensitivity(),
                text="Hypersensitivity to isotretinoin, vitamin A or an excipient: contraindicated.",
                cites=(cite("eu-smpc", "§4.3"),),
                verification=PRIMARY,
            ),
        ),
        rule(
            "contraindication.soy-peanut-allergy",
            "Soy or peanut allergy with a product containing soybean oil",
            V(
                label="US",
                where=US,
                severity=CRITICAL,
                check=clinical.SoyPeanut(),
                text="Soy allergy and a product containing soybean oil: contraindicated "
                "(hypersensitivity to a component).",
                cites=(cite("fda-label-absorica", "§4"),),
                verification=PRIMARY,
                tiers=(
                    Tier(
                        name="peanut-without-soy",
                        severity=WARNING,
                        effect=Effect.CAUTION,
                        gates_when_unknown=False,
                        text="Peanut allergy (without soy allergy) and a product containing soybean "
                        "oil: caution (no US source names peanut).",
                        basis=Basis.LOCAL_POLICY,
                        verification=Verification.UNVERIFIED,
                    ),
                ),
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=CRITICAL,
                check=clinical.SoyPeanut(),
                text="Peanut or soya allergy and a product containing soybean oil: contraindicated.",
                cites=(cite("eu-smpc", "§4.3"),),
                verification=PRIMARY,
            ),
        ),
        rule(
            "contraindication.tartrazine",
            "Tartrazine sensitivity with Absorica",
            V(
                label="US",
                where=US,
                severity=WARNING,
                check=clinical.Tartrazine(),
                text="Tartrazine (FD&C Yellow No. 5) sensitivity: avoid the Absorica 25 mg strength "
                "(the capsule plan leaves it out).",
                cites=(cite("fda-label-absorica", "§5.14"),),
                verification=PRIMARY,
            ),
        ),
        rule(
            "contraindication.hepatic-insufficiency",
            "Hepatic insufficiency",
            V(
                label="US",
                where=US,
                severity=WARNING,
                check=AttestedOrCondition("hepatic_insufficiency", "hepatic-failure"),
                text="Hepatic insufficiency: weigh the risk of hepatotoxicity (codes unverified).",
                cites=(cite("fda-label-generic", "§5.10"),),
                verification=PRIMARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=CRITICAL,
                check=AttestedOrCondition("hepatic_insufficiency", "hepatic-failure"),
                text="Hepatic insufficiency: contraindicated (codes unverified).",
                cites=(cite("eu-smpc", "§4.3"),),
                verification=PRIMARY,
            ),
        ),
        rule(
            "contraindication.hyperlipidaemia",
            "Excessively elevated blood lipids",
            V(
                label="US",
                where=US,
                severity=WARNING,
                check=clinical.Hyperlipidaemia(),
                text="Excessively elevated lipids: control them before starting (the baseline "
                "triglyceride trigger is local policy, unverified).",
                cites=(cite("fda-label-absorica", "§5.8"),),
                verification=PRIMARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=CRITICAL,
                check=clinical.Hyperlipidaemia(),
                text="Excessively elevated blood lipid values: contraindicated (the baseline "
                "triglyceride trigger is local policy, unverified).",
                cites=(cite("eu-smpc", "§4.3"),),
                verification=PRIMARY,
            ),
        ),
        rule(
            "contraindication.hypervitaminosis-a",
            "Hypervitaminosis A",
            V(
                label="US",
                where=US,
                severity=WARNING,
                check=AttestedOrCondition("hypervitaminosis_a", "hypervitaminosis-a"),
                text="Hypervitaminosis A: additive vitamin A toxicity (by analogy with the EU "
                "contraindication).",
                cites=(cite("eu-smpc", "§4.3"),),
                verification=UNVERIFIED,
                basis=LOCAL,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=CRITICAL,
                check=AttestedOrCondition("hypervitaminosis_a", "hypervitaminosis-a"),
                text="Hypervitaminosis A: contraindicated.",
                cites=(cite("eu-smpc", "§4.3"),),
                verification=PRIMARY,
            ),
        ),
        rule(
            "contraindication.ppp-not-met",
            "Pregnancy prevention programme not met",
            V(
                label="US/pre-2026",
                where=US,
                end=epochs.pre_2026_to,
                severity=CRITICAL,
                check=programme.PppNotMet(),
                text="iPLEDGE requirements are not met: do not prescribe until the pregnancy tests, "
                "two forms of contraception (or abstinence) and counselling are recorded.",
                cites=(cite("ipledge-rems"), cite("fda-medguide")),
                verification=PRIMARY,
            ),
            V(
                label="US/ipledge-2026",
                where=US,
                start=epochs.ipledge_2026,
                severity=CRITICAL,
                check=programme.PppNotMet(),
                text="iPLEDGE requirements are not met: do not prescribe until the pregnancy tests, "
                "two forms of contraception (or abstinence) and counselling are recorded.",
                cites=(cite("ipledge-rems"), cite("ipledge-2026"), cite("fda-medguide")),
                verification=PRIMARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=CRITICAL,
                check=programme.PppNotMet(),
                text="The pregnancy prevention programme is not met: isotretinoin is contraindicated "
                "in women of childbearing potential unless all its conditions are fulfilled.",
                cites=(cite("ema-2018"), cite("eu-smpc", "§4.3")),
                verification=PRIMARY,
            ),
        ),
    ]
