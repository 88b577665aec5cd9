"""RULES §9: the monitoring schedule, the prescription window and the supply limit."""

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
    Epochs,
    V,
    cite,
    eu_and_early_uk,
    rule,
)
from domain.checks import programme as pp
from domain.checks.checklist import (
    MoodScreenItem,
    NotRequired,
    SexualFunction,
    SymptomReview,
    WeightItem,
)
from domain.checks.labs import GlucoseSchedule, LabSchedule
from domain.rules import Rule, Tier
from domain.settings import EvaluationSettings
from domain.vocab import Basis, Effect, ItemCategory, PostTherapyTest, Verification

PT, LAB, SCR = ItemCategory.PREGNANCY_TEST, ItemCategory.LAB, ItemCategory.SCREENING
RX = ItemCategory.PRESCRIPTION


def rules(epochs: Epochs, settings: EvaluationSettings) -> list[Rule]:
    """The monitoring items, ``prescription.window`` and ``prescription.supply-limit``."""
    five_weeks = settings.eu_post_therapy_test is PostTherapyTest.FIVE_WEEKS
    return [
        rule(
            "monitoring.pregnancy-test.screening",
            "Screening pregnancy test",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=pp.ScreeningTest(),
                text="Baseline: a first negative pregnancy test in a medical setting (medical "
                "laboratory or point of care).",
                cites=(cite("ipledge-rems"),),
                verification=PRIMARY,
                category=PT,
            ),
            V(
                label="UK",
                where=UK,
                start=UK_2023_FROM,
                severity=INFO,
                check=pp.ScreeningTest(),
                text="Baseline: a negative, medically supervised pregnancy test (sensitivity at "
                "least 25 mIU/mL) dated within the 3 days before the prescription.",
                cites=(cite("mhra-ppp-reminder"), cite("eu-smpc", "§4.4")),
                verification=SECONDARY,
                category=PT,
            ),
            *eu_and_early_uk(
                label="EU",
                severity=INFO,
                check=pp.ScreeningTest(),
                text="Baseline: a negative, medically supervised pregnancy test (sensitivity at "
                "least 25 mIU/mL) dated within the 3 days before the prescription.",
                cites=(cite("eu-smpc", "§4.4"),),
                verification=UNVERIFIED,
                category=PT,
            ),
        ),
        rule(
            "monitoring.pregnancy-test.confirmation",
            "Confirmation pregnancy test",
            V(
                label="US/pre-2026",
                where=US,
                end=epochs.pre_2026_to,
                severity=INFO,
                check=pp.ConfirmationTest(),
                text="Baseline: a second negative test at least 19 days after the first, in a medical "
                "setting, during the first 5 days of the period or just before starting. The REMS "
                "text's CLIA-laboratory requirement has not been enforced since Oct 2023: it is a "
                "note, never a block.",
                cites=(cite("ipledge-rems"), cite("ipledge-2023")),
                verification=PRIMARY,
                category=PT,
            ),
            V(
                label="US/ipledge-2026",
                where=US,
                start=epochs.ipledge_2026,
                severity=INFO,
                check=pp.ConfirmationTest(),
                text="Baseline: a second negative test at least 19 days after the first, in a medical "
                "setting, during the first 5 days of the period or just before starting.",
                cites=(cite("ipledge-rems"), cite("ipledge-2026")),
                verification=PRIMARY,
                category=PT,
            ),
        ),
        rule(
            "monitoring.pregnancy-test.monthly",
            "Monthly pregnancy test",
            V(
                label="US/pre-2026",
                where=US,
                end=epochs.pre_2026_to,
                severity=INFO,
                check=pp.MonthlyTest(),
                text="Before each monthly prescription: a negative test whose specimen date opens the "
                "7-day prescription window. A home test during treatment is accepted with a note "
                "(the REMS text asks for a medical setting; FDA does not enforce it).",
                cites=(cite("ipledge-rems"), cite("ipledge-2023")),
                verification=PRIMARY,
                category=PT,
            ),
            V(
                label="US/ipledge-2026",
                where=US,
                start=epochs.ipledge_2026,
                severity=INFO,
                check=pp.MonthlyTest(),
                text="Before each monthly prescription: a negative test whose specimen date opens the "
                "7-day prescription window; a home test is accepted when the prescriber permits it.",
                cites=(cite("ipledge-rems"), cite("ipledge-2026")),
                verification=PRIMARY,
                category=PT,
            ),
            V(
                label="UK",
                where=UK,
                start=UK_2023_FROM,
                severity=INFO,
                check=pp.MonthlyTest(),
                text="Before each prescription: a negative, medically supervised test (remotely "
                "supervised allowed from 2026), sensitivity at least 25 mIU/mL, dated within the 3 "
                "days before the prescription.",
                cites=(cite("mhra-ppp-reminder"), cite("mhra-2025"), cite("eu-smpc", "§4.4")),
                verification=SECONDARY,
                category=PT,
            ),
            *eu_and_early_uk(
                label="EU",
                severity=INFO,
                check=pp.MonthlyTest(),
                text="Before each prescription: a negative, medically supervised test, sensitivity at "
                "least 25 mIU/mL, dated within the 3 days before the prescription.",
                cites=(cite("eu-smpc", "§4.4"),),
                verification=UNVERIFIED,
                category=PT,
            ),
        ),
        rule(
            "monitoring.pregnancy-test.end-of-therapy",
            "Pregnancy test at the end of treatment",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=pp.EndOfTherapyTest(),
                text="A pregnancy test at the end of treatment.",
                cites=(cite("fda-label-absorica", "§5.15"),),
                verification=PRIMARY,
                category=PT,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=INFO,
                check=pp.EndOfTherapyTest(),
                text="A pregnancy test at the end of treatment.",
                cites=(cite("eu-smpc", "§4.4"),),
                verification=UNVERIFIED,
                category=PT,
            ),
        ),
        rule(
            "monitoring.pregnancy-test.post-therapy",
            "Pregnancy test after treatment",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=pp.PostTherapyTest(),
                text="A pregnancy test 1 month after the last dose.",
                cites=(cite("fda-label-absorica", "§5.15"),),
                verification=PRIMARY,
                category=PT,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=INFO,
                check=pp.PostTherapyTest(),
                text=(
                    "A pregnancy test 5 weeks after the last dose (French SmPC)."
                    if five_weeks
                    else "A pregnancy test 1 month after the last dose (English SmPC wording "
                    "unverified)."
                ),
                cites=(cite("eu-smpc", "§4.4"),),
                verification=PRIMARY if five_weeks else UNVERIFIED,
                category=PT,
            ),
        ),
        rule(
            "monitoring.contraception",
            "Contraception",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=pp.ContraceptionItem(),
                text="Abstinence, or two methods of which at least one is primary (a progestin-only "
                "pill does not count), each started at least 30 days before the first dose, "
                "continued to 30 days after the last, and confirmed at each follow-up.",
                cites=(cite("fda-medguide"), cite("ipledge-rems")),
                verification=PRIMARY,
                category=ItemCategory.CONTRACEPTION,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=INFO,
                check=pp.ContraceptionItem(),
                text="At least one user-independent method, or two user-dependent methods "
                "(classification unverified), started at least 1 month before the first dose and "
                "kept to 1 month after the last, even with amenorrhoea.",
                cites=(cite("eu-smpc", "§4.6"),),
                verification=PRIMARY,
                category=ItemCategory.CONTRACEPTION,
            ),
        ),
        rule(
            "monitoring.lipids",
            "Fasting lipids",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=LabSchedule("lipids"),
                text="Fasting lipid panel including triglycerides (at least 36 hours after alcohol): "
                "within 30 days before the first prescription, then by the lab profile (schedules "
                "are local policy).",
                cites=(
                    cite("fda-label-absorica", "§2.3, §5.15"),
                    cite("xia-2022"),
                    cite("hansen-2016"),
                ),
                verification=PRIMARY,
                category=LAB,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=INFO,
                check=LabSchedule("lipids"),
                text="Fasting serum lipids before treatment, 1 month after starting, then every 3 "
                "months (more often with metabolic risk).",
                cites=(cite("eu-smpc", "§4.4"),),
                verification=PRIMARY,
                category=LAB,
            ),
        ),
        rule(
            "monitoring.liver",
            "Liver tests",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=LabSchedule("liver"),
                text="ALT (and AST): within 30 days before the first prescription, then on the lipid "
                "schedule (schedules are local policy).",
                cites=(cite("fda-label-absorica", "§2.3"), cite("xia-2022")),
                verification=PRIMARY,
                category=LAB,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=INFO,
                check=LabSchedule("liver"),
                text="Liver function tests before treatment, 1 month after starting, then every 3 "
                "months.",
                cites=(cite("eu-smpc", "§4.4"),),
                verification=PRIMARY,
                category=LAB,
            ),
        ),
        rule(
            "monitoring.glucose",
            "Glucose in diabetes",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=GlucoseSchedule(),
                text="Diabetes: closer blood glucose monitoring (label wording unverified).",
                cites=(cite("fda-label-absorica"),),
                verification=UNVERIFIED,
                category=LAB,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=INFO,
                check=GlucoseSchedule(),
                text="Diabetes: more frequent glucose checks.",
                cites=(cite("eu-smpc", "§4.4"),),
                verification=UNVERIFIED,
                category=LAB,
            ),
        ),
        rule(
            "monitoring.cbc",
            "Blood count not routinely required",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=NotRequired("a routine complete blood count is not required"),
                text="A routine complete blood count is not required: monitor only liver tests and "
                "lipids.",
                cites=(
                    cite("xia-2022"),
                    cite("hansen-2016"),
                    cite("barbieri-2020"),
                    cite("aad-2016"),
                    cite("aad-2024"),
                ),
                verification=SECONDARY,
                category=LAB,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=INFO,
                check=NotRequired("a routine complete blood count is not required"),
                text="A routine complete blood count is not required (by analogy with the US "
                "evidence).",
                cites=(cite("xia-2022"), cite("hansen-2016")),
                verification=UNVERIFIED,
                basis=LOCAL,
                category=LAB,
            ),
        ),
        rule(
            "monitoring.mood",
            "Mood screen",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=MoodScreenItem(),
                text="Every visit: ask about depression, mood, psychosis and aggression (PHQ-9 "
                "suggested); at baseline, psychiatric history from the patient and family.",
                cites=(cite("fda-label-absorica", "§5.4"),),
                verification=PRIMARY,
                category=SCR,
            ),
            V(
                label="UK",
                where=UK,
                start=UK_2023_FROM,
                severity=INFO,
                check=MoodScreenItem(),
                text="Assess mental health before treatment and at every follow-up (PHQ-9 or PHQ-A "
                "suggested).",
                cites=(cite("mhra-2023"),),
                verification=PRIMARY,
                category=SCR,
            ),
            *eu_and_early_uk(
                label="EU",
                severity=INFO,
                check=MoodScreenItem(),
                text="Every visit: screen for depression and mood changes (by analogy with the US "
                "label and MHRA 2023).",
                cites=(cite("fda-label-absorica", "§5.4"), cite("ema-2018")),
                verification=UNVERIFIED,
                basis=LOCAL,
                category=SCR,
            ),
        ),
        rule(
            "monitoring.sexual-function",
            "Sexual function",
            V(
                label="UK",
                where=UK,
                start=UK_2023_FROM,
                severity=INFO,
                check=SexualFunction(),
                text="Assess sexual function before treatment and at every follow-up (may be brief "
                "from the third appointment).",
                cites=(cite("mhra-2023"), cite("mhra-2025")),
                verification=PRIMARY,
                category=SCR,
            ),
        ),
        rule(
            "monitoring.symptom-review",
            "Symptom review",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=SymptomReview(),
                text="Every visit: headache or visual disturbance, night vision, hearing or tinnitus, "
                "abdominal pain, rectal bleeding or diarrhoea, pancreatitis symptoms, jaundice, "
                "musculoskeletal pain, rash or mucosal lesions.",
                cites=(cite("fda-label-absorica", "§5"),),
                verification=PRIMARY,
                category=SCR,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=INFO,
                check=SymptomReview(),
                text="Every visit: review the symptoms that end treatment (by analogy with the US "
                "label).",
                cites=(cite("fda-label-absorica", "§5"),),
                verification=UNVERIFIED,
                basis=LOCAL,
                category=SCR,
            ),
            version=2,  # done only when symptoms were asked since the previous visit (RULES §15)
        ),
        rule(
            "monitoring.weight",
            "Weight",
            V(
                label="US",
                where=US,
                severity=INFO,
                check=WeightItem(),
                text="Weigh the patient at every visit: the dose is by weight.",
                cites=(cite("fda-label-absorica", "§2.1"),),
                verification=PRIMARY,
                category=SCR,
            ),
            V(
                label="EU/UK",
                where=EU_UK,
                severity=INFO,
                check=WeightItem(),
                text="Weigh the patient at every visit: the dose is by weight.",
                cites=(cite("eu-smpc", "§4.2"),),
                verification=PRIMARY,
                category=SCR,
            ),
        ),
        rule(
            "prescription.window",
            "Prescription window",
            V(
                label="US/pre-2026",
                where=US,
                end=epochs.pre_2026_to,
                severity=INFO,
                check=pp.PrescriptionWindow(),
                text="Can or may become pregnant: fill within 7 days of the pregnancy test's specimen "
                "date (day 1). Cannot become pregnant: within 30 days of the office visit (day 1; "
                "counting to verify). A missed first window: the next confirmation test no earlier "
                "than 19 days after the previous test; later missed windows: a new negative test.",
                cites=(cite("ipledge-rems"),),
                verification=SECONDARY,
                category=RX,
            ),
            V(
                label="US/ipledge-2026",
                where=US,
                start=epochs.ipledge_2026,
                severity=INFO,
                check=pp.PrescriptionWindow(),
                text="Can or may become pregnant: fill within 7 days of the pregnancy test's specimen "
                "date (day 1); a missed window: retest at once (in a medical setting if no dose has "
                "been taken). Cannot become pregnant: no window (unverified).",
                cites=(cite("ipledge-rems"), cite("ipledge-2026")),
                verification=UNVERIFIED,
                category=RX,
            ),
            *eu_and_early_uk(
                label="EU",
                severity=INFO,
                check=pp.PrescriptionWindow(),
                text="Can or may become pregnant: dispense within 7 days of the prescription date "
                "(prescription day = day 1, local policy).",
                cites=(cite("eu-smpc", "§4.4"),),
                verification=PRIMARY,
                category=RX,
            ),
            V(
                label="UK",
                where=UK,
                start=UK_2023_FROM,
                severity=INFO,
                check=pp.PrescriptionWindow(),
                text="Can or may become pregnant: dispense within 7 days of the prescription date "
                "(prescription day = day 1, local policy).",
                cites=(cite("mhra-ppp-reminder"),),
                verification=SECONDARY,
                category=RX,
            ),
        ),
        rule(
            "prescription.supply-limit",
            "At most 30 days' supply, no refills",
            V(
                label="US",
                where=US,
                severity=CRITICAL,
                gates=False,
                check=pp.SupplyLimit(),
                text="At most 30 days' supply and no refills (iPLEDGE).",
                cites=(cite("ipledge-rems"),),
                verification=PRIMARY,
                tiers=(
                    Tier(
                        name="cannot-become-pregnant",
                        severity=WARNING,
                        effect=Effect.CAUTION,
                        gates_when_unknown=False,
                        text="At most 30 days' supply and no refills (iPLEDGE, every patient).",
                        basis=Basis.REMS,
                        verification=Verification.PRIMARY,
                    ),
                ),
            ),
            *eu_and_early_uk(
                label="EU",
                severity=CRITICAL,
                gates=False,
                check=pp.SupplyLimit(),
                text="Women of childbearing potential: at most 30 days of treatment per prescription.",
                cites=(cite("eu-smpc", "§4.4"),),
                verification=PRIMARY,
            ),
            V(
                label="UK",
                where=UK,
                start=UK_2023_FROM,
                severity=CRITICAL,
                gates=False,
                check=pp.SupplyLimit(),
                text="Women of childbearing potential: at most 30 days of treatment per prescription.",
                cites=(cite("mhra-ppp-reminder"),),
                verification=SECONDARY,
            ),
        ),
    ]
