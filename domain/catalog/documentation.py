"""RULES §12: documentation items (warning; ``caution`` while due)."""

from __future__ import annotations

from domain.catalog._build import (
    EU_UK,
    PRIMARY,
    SECONDARY,
    UK,
    UK_2023_FROM,
    UK_2023_TO,
    UK_2026_FROM,
    US,
    WARNING,
    Epochs,
    V,
    cite,
    eu_and_early_uk,
    rule,
)
from domain.checks.checklist import AcknowledgementForm, Ipledge, PregnancyPotentialRecorded
from domain.rules import Rule
from domain.vocab import FormKind, ItemCategory

DOC = ItemCategory.DOCUMENTATION


def rules(epochs: Epochs) -> list[Rule]:
    """The documentation items."""
    return [
        rule(
            "documentation.pregnancy-potential",
            "Pregnancy-potential category not documented",
            V(
                label="US",
                where=US,
                severity=WARNING,
                check=PregnancyPotentialRecorded(),
                text="Record whether the patient can become pregnant (the prescriber's attestation; "
                "never inferred from sex or gender). Until it is recorded, every "
                "pregnancy-prevention requirement applies.",
                cites=(cite("ipledge-2021"),),
                verification=PRIMARY,
                category=DOC,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=WARNING,
                check=PregnancyPotentialRecorded(),
                text="Record whether the patient is of childbearing potential (never inferred from "
                "sex or gender). Until it is recorded, the pregnancy prevention programme applies.",
                cites=(cite("ema-2018"),),
                verification=PRIMARY,
                category=DOC,
            ),
        ),
        rule(
            "documentation.ipledge",
            "iPLEDGE enrolment and monthly confirmation",
            V(
                label="US/pre-2026",
                where=US,
                end=epochs.pre_2026_to,
                severity=WARNING,
                check=Ipledge(),
                text="iPLEDGE: enrol before the first prescription; the prescriber confirms in the "
                "REMS system before each prescription (every patient).",
                cites=(cite("ipledge-rems"), cite("ipledge-2023")),
                verification=PRIMARY,
                category=DOC,
            ),
            V(
                label="US/ipledge-2026",
                where=US,
                start=epochs.ipledge_2026,
                severity=WARNING,
                check=Ipledge(),
                text="iPLEDGE: enrol before the first prescription; the prescriber confirms before "
                "each prescription for patients who can become pregnant; at enrolment only for "
                "patients who cannot (2026 change: secondary).",
                cites=(cite("ipledge-rems"), cite("ipledge-2026")),
                verification=SECONDARY,
                category=DOC,
            ),
        ),
        rule(
            "documentation.uk-arf",
            "UK Acknowledgement of Risk Form",
            V(
                label="UK/2023",
                where=UK,
                start=UK_2023_FROM,
                end=UK_2023_TO,
                severity=WARNING,
                check=AcknowledgementForm(FormKind.UK_ARF_2023),
                text="The Acknowledgement of Risk Form (2023 version), signed by patient and "
                "prescriber before the first prescription.",
                cites=(cite("mhra-2023"),),
                verification=SECONDARY,
                category=DOC,
            ),
            V(
                label="UK/2026",
                where=UK,
                start=UK_2026_FROM,
                severity=WARNING,
                check=AcknowledgementForm(FormKind.UK_ARF_2026),
                text="The revised Acknowledgement of Risk Form (2026 version), for all patients, "
                "signed by patient and prescriber.",
                cites=(cite("mhra-2026"),),
                verification=PRIMARY,
                category=DOC,
            ),
        ),
        rule(
            "documentation.eu-acknowledgement",
            "EU acknowledgement form",
            *eu_and_early_uk(
                label="EU",
                severity=WARNING,
                check=AcknowledgementForm(
                    FormKind.EU_ACKNOWLEDGEMENT, pregnancy_prevention_only=True
                ),
                text="The pregnancy prevention programme acknowledgement form, for patients who can "
                "or may become pregnant.",
                cites=(cite("ema-2018"),),
                verification=SECONDARY,
                category=DOC,
            ),
        ),
    ]
