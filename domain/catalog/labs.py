"""RULES §10: lab results (local policy with sourced defaults; same severity everywhere)."""

from __future__ import annotations

from domain.catalog._build import ALL, CRITICAL, LOCAL, UNVERIFIED, WARNING, V, cite, rule
from domain.checks.labs import LabStale, Liver, Triglycerides
from domain.rules import Rule
from domain.settings import LocalPolicy


def rules(policy: LocalPolicy) -> list[Rule]:
    """The lab rules; the thresholds in the text are those in force."""
    p = policy
    return [
        rule(
            "lab.triglycerides.elevated",
            "Triglycerides elevated",
            V(
                label="US/EU/UK",
                where=ALL,
                severity=WARNING,
                check=Triglycerides("elevated"),
                text=f"Triglycerides > {p.tg_elevated_mg_dl:g} and ≤ {p.tg_severe_mg_dl:g} mg/dL: "
                "recheck fasting; consider dose reduction, diet and less alcohol.",
                cites=(cite("ctcae-5", "grade ≥ 3"), cite("fda-label-absorica", "§5.8")),
                verification=UNVERIFIED,
                basis=LOCAL,
            ),
        ),
        rule(
            "lab.triglycerides.severe",
            "Triglycerides severely elevated",
            V(
                label="US/EU/UK",
                where=ALL,
                severity=CRITICAL,
                check=Triglycerides("severe"),
                text=f"Triglycerides > {p.tg_severe_mg_dl:g} mg/dL: pancreatitis risk; stop if they "
                "cannot be controlled.",
                cites=(cite("fda-label-absorica", "§5.8"), cite("opel-2017")),
                verification=UNVERIFIED,
                basis=LOCAL,
            ),
        ),
        rule(
            "lab.liver.elevated",
            "Transaminases elevated",
            V(
                label="US/EU/UK",
                where=ALL,
                severity=WARNING,
                check=Liver("elevated"),
                text=f"ALT or AST > {p.liver_elevated_uln:g} and ≤ {p.liver_severe_uln:g} × ULN: "
                "recheck; consider dose reduction.",
                cites=(cite("ctcae-5", "grade ≥ 2"), cite("fda-label-generic", "§5.10")),
                verification=UNVERIFIED,
                basis=LOCAL,
            ),
        ),
        rule(
            "lab.liver.severe",
            "Transaminases severely elevated or suspected hepatitis",
            V(
                label="US/EU/UK",
                where=ALL,
                severity=CRITICAL,
                check=Liver("severe"),
                text=f"ALT or AST > {p.liver_severe_uln:g} × ULN, or suspected hepatitis: stop if "
                "the values do not readily normalise.",
                cites=(cite("ctcae-5", "grade ≥ 3"), cite("fda-label-generic", "§5.10")),
                verification=UNVERIFIED,
                basis=LOCAL,
            ),
        ),
        rule(
            "lab.stale",
            "Lipid or liver test overdue",
            V(
                label="US/EU/UK",
                where=ALL,
                severity=WARNING,
                check=LabStale(),
                text="A lipid or liver test is overdue by the lab schedule: order it.",
                cites=(
                    cite("fda-label-absorica", "§2.3, §5.15"),
                    cite("xia-2022"),
                    cite("eu-smpc", "§4.4"),
                ),
                verification=UNVERIFIED,
                basis=LOCAL,
            ),
        ),
    ]
