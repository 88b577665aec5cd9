"""RULES §8: dosing."""

from __future__ import annotations

from domain.catalog._build import (
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
from domain.checks import dosing as d
from domain.checks.common import Always
from domain.rules import Rule


def rules() -> list[Rule]:
    """The dosing rules."""
    return [
        rule(
            "dosing.daily-range",
            "Daily dose range",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=d.DailyRange(),
                text="0.5–1.0 mg/kg/day in two divided doses, with food (Absorica: with or without "
                "food). Absorica LD: 0.4–0.8 mg/kg/day, with or without food; not interchangeable "
                "with other products mg for mg.",
                cites=(cite("fda-label-absorica", "§2.1"), cite("fda-label-legacy")),
                verification=PRIMARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=INFO,
                check=d.DailyRange(),
                text="0.5–1.0 mg/kg/day, starting at 0.5 mg/kg/day, with food, once or twice daily.",
                cites=(cite("eu-smpc", "§4.2"),),
                verification=PRIMARY,
            ),
        ),
        rule(
            "dosing.above-maximum",
            "Planned dose above the maximum",
            V(
                label="US",
                where=US,
                severity=WARNING,
                check=d.AboveMaximum(),
                text="The planned dose is above the labelled maximum: 1.0 mg/kg/day (Absorica LD "
                "0.8), or 2.0 (Absorica LD 1.6) for adults (≥ 18, local-policy reading) with very "
                "severe, scarring or mainly truncal acne.",
                cites=(cite("fda-label-absorica", "§2.1"),),
                verification=PRIMARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=WARNING,
                check=d.AboveMaximum(),
                text="The planned dose is above 1.0 mg/kg/day (the references give no EU maximum: "
                "local policy, unverified).",
                cites=(cite("eu-smpc", "§4.2"),),
                verification=UNVERIFIED,
                basis=LOCAL,
            ),
        ),
        rule(
            "dosing.below-range",
            "Planned dose below the usual range",
            V(
                label="US/EU/UK",
                where=US | EU_UK,
                severity=INFO,
                check=d.BelowRange(),
                text="The planned dose is below the usual range: low-dose regimens are common and "
                "allowed.",
                cites=(cite("aad-2016"),),
                verification=SECONDARY,
            ),
        ),
        rule(
            "dosing.cumulative-target",
            "Cumulative dose target",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=d.CumulativeTarget(),
                text="A cumulative 120–150 mg/kg is the consensus target (weak evidence); ≥ 220 mg/kg "
                "lowered 12-month relapse in one study. Progress only, never a hard stop.",
                cites=(cite("tan-2015"), cite("blasiak-2013")),
                verification=SECONDARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=INFO,
                check=d.CumulativeTarget(),
                text="Little extra benefit is expected beyond a cumulative 120–150 mg/kg. Progress "
                "only, never a hard stop.",
                cites=(cite("eu-smpc", "§4.2"), cite("tan-2015")),
                verification=SECONDARY,
            ),
        ),
        rule(
            "dosing.course-length",
            "Course length",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=Always(),
                text="A course lasts 15–20 weeks; it may stop early when the nodule count has "
                "fallen by more than 70 %.",
                cites=(cite("fda-label-legacy"),),
                verification=PRIMARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=INFO,
                check=Always(),
                text="A course usually lasts 16–24 weeks.",
                cites=(cite("eu-smpc", "§4.2"),),
                verification=PRIMARY,
            ),
        ),
        rule(
            "dosing.take-with-food",
            "Take with food",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=d.TakeWithFood(),
                text="Take with food: absorption falls markedly without it (not for Absorica or "
                "Absorica LD).",
                cites=(cite("fda-label-legacy"),),
                verification=PRIMARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=INFO,
                check=d.TakeWithFood(),
                text="Take with food.",
                cites=(cite("eu-smpc", "§4.2"),),
                verification=PRIMARY,
            ),
        ),
        rule(
            "dosing.intermittent",
            "Intermittent regimen",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=d.Intermittent(),
                text="Daily dosing is conditionally preferred over intermittent dosing.",
                cites=(cite("aad-2024"), cite("aad-2016")),
                verification=SECONDARY,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=INFO,
                check=d.Intermittent(),
                text="Daily dosing is preferred over intermittent dosing (by analogy with the AAD "
                "guidelines).",
                cites=(cite("aad-2024"), cite("aad-2016")),
                verification=UNVERIFIED,
                basis=LOCAL,
            ),
        ),
    ]
