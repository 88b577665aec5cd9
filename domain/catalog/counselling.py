"""RULES §12: counselling items (checklist rules; info, no decision effect)."""

from __future__ import annotations

from domain.catalog._build import (
    EU_UK,
    INFO,
    LOCAL,
    PRIMARY,
    SECONDARY,
    UNVERIFIED,
    US,
    V,
    cite,
    rule,
)
from domain.checks.checklist import Counselling
from domain.rules import Citation, Rule
from domain.vocab import ItemCategory, Verification

_C = ItemCategory.COUNSELLING


def _item(
    rule_id: str,
    title: str,
    text: str,
    us: tuple[Citation, ...],
    us_verification: Verification,
    eu: tuple[Citation, ...] | None,
    eu_verification: Verification,
    *,
    pregnancy_prevention_only: bool = False,
) -> Rule:
    check = Counselling(rule_id, pregnancy_prevention_only)
    by_analogy = eu is None
    return rule(
        rule_id,
        title,
        V(
            label="US",
            where=US,
            severity=INFO,
            check=check,
            text=text,
            cites=us,
            verification=us_verification,
            category=_C,
        ),
        V(
            label="EU/UK",
            where=EU_UK,
            severity=INFO,
            check=check,
            text=text + (" (by analogy with the US Medication Guide)" if by_analogy else ""),
            cites=us if eu is None else eu,
            verification=UNVERIFIED if by_analogy else eu_verification,
            basis=LOCAL if by_analogy else None,
            category=_C,
        ),
    )


def rules() -> list[Rule]:
    """The counselling items."""
    mg, smpc = cite("fda-medguide"), cite("eu-smpc", "§4.4")
    return [
        _item(
            "counselling.blood-donation",
            "No blood donation",
            "Do not donate blood during treatment and for 1 month after the last dose.",
            (mg,),
            PRIMARY,
            (smpc,),
            SECONDARY,
        ),
        _item(
            "counselling.waxing-laser",
            "No waxing, dermabrasion or laser",
            "No wax epilation, dermabrasion or laser treatment during treatment and for 6 months "
            "after (scarring).",
            (mg,),
            PRIMARY,
            (smpc,),
            SECONDARY,
        ),
        _item(
            "counselling.sun",
            "Avoid strong sunlight and UV",
            "Avoid prolonged sunlight and UV light (tanning beds).",
            (mg,),
            PRIMARY,
            None,
            UNVERIFIED,
        ),
        _item(
            "counselling.night-vision",
            "Night vision",
            "Night vision may fall, sometimes suddenly: take care when driving at night.",
            (mg, cite("fda-label-absorica", "§5.13")),
            SECONDARY,
            None,
            UNVERIFIED,
        ),
        _item(
            "counselling.vitamin-a",
            "No vitamin A supplements",
            "Do not take vitamin A supplements.",
            (mg,),
            PRIMARY,
            None,
            UNVERIFIED,
        ),
        _item(
            "counselling.no-sharing",
            "Never share capsules",
            "Never share isotretinoin capsules with anyone.",
            (mg,),
            PRIMARY,
            None,
            UNVERIFIED,
        ),
        _item(
            "counselling.emergency-contraception",
            "Emergency contraception",
            "Know about emergency contraception if a method fails or is missed.",
            (mg,),
            PRIMARY,
            None,
            UNVERIFIED,
            pregnancy_prevention_only=True,
        ),
        _item(
            "counselling.mucocutaneous-dryness",
            "Dry lips, skin, eyes and nose",
            "Dry lips, skin, eyes and nose are expected (the commonest effects): use lip balm and "
            "emollients and lubricating eye drops; contact lenses may become uncomfortable; a dry "
            "nose may bleed (advice wording is the service's).",
            (cite("fda-label-absorica", "§6, §5.13"),),
            UNVERIFIED,
            None,
            UNVERIFIED,
        ),
        _item(
            "counselling.vigorous-exercise",
            "Muscle and joint pain with exercise",
            "Muscle and joint pain are common; creatine kinase rises with vigorous exercise and, "
            "rarely, rhabdomyolysis occurs: report muscle weakness or dark urine.",
            (cite("fda-label-absorica", "§5 musculoskeletal"),),
            UNVERIFIED,
            None,
            UNVERIFIED,
        ),
    ]


__all__ = ["SECONDARY", "rules"]
