"""The closed vocabularies of the rule catalogue (RULES.md §0–§13).

Every enum value here is contract vocabulary: the REST API, the CDS Hooks cards and the audit
trail use these exact strings. Renaming one is an API change.
"""

from __future__ import annotations

from enum import StrEnum


class Jurisdiction(StrEnum):
    """Where the prescription is written; an argument of every evaluation (RULES §2)."""

    US = "US"
    EU = "EU"
    UK = "UK"


class Severity(StrEnum):
    """Urgency of a finding, in increasing order; exactly the CDS Hooks card indicator."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


SEVERITY_RANK: dict[Severity, int] = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


class Effect(StrEnum):
    """What an applying finding does to the decision (RULES §0.4)."""

    NONE = "none"
    CAUTION = "caution"
    BLOCK = "block"


class RuleKind(StrEnum):
    """The first segment of every rule ID (RULES §0.1)."""

    INDICATION = "indication"
    CONTRAINDICATION = "contraindication"
    INTERACTION = "interaction"
    PRECAUTION = "precaution"
    MONITORING = "monitoring"
    PRESCRIPTION = "prescription"
    DOSING = "dosing"
    LAB = "lab"
    STOP = "stop"
    COUNSELLING = "counselling"
    DOCUMENTATION = "documentation"


class Basis(StrEnum):
    """The kind of the first cited source of a variant (RULES §0.2)."""

    LABEL = "label"
    REMS = "rems"
    REGULATOR = "regulator"
    GUIDELINE = "guideline"
    EVIDENCE = "evidence"
    LOCAL_POLICY = "local-policy"


class Verification(StrEnum):
    """How far a variant has been checked against its sources (RULES §0.1)."""

    PRIMARY = "primary"
    SECONDARY = "secondary"
    UNVERIFIED = "unverified"


VERIFICATION_STRENGTH: dict[Verification, int] = {
    Verification.PRIMARY: 2,
    Verification.SECONDARY: 1,
    Verification.UNVERIFIED: 0,
}


class Status(StrEnum):
    """A finding's truth value: the rule holds, or it cannot be decided on the facts given."""

    APPLIES = "applies"
    UNKNOWN = "unknown"


class ItemState(StrEnum):
    """State of a checklist item (RULES §0.3)."""

    DUE = "due"
    OVERDUE = "overdue"
    DONE = "done"
    NOT_REQUIRED = "not-required"


class ItemCategory(StrEnum):
    """Category of a checklist item (RULES §9)."""

    LAB = "lab"
    PREGNANCY_TEST = "pregnancy-test"
    CONTRACEPTION = "contraception"
    SCREENING = "screening"
    COUNSELLING = "counselling"
    PRESCRIPTION = "prescription"
    DOCUMENTATION = "documentation"


class Decision(StrEnum):
    """The answer to "may isotretinoin be started (or this month's prescription issued)?"."""

    START = "start"
    START_WITH_PRECAUTIONS = "start-with-precautions"
    NEEDS_INFORMATION = "needs-information"
    DO_NOT_START = "do-not-start"


DECISION_RANK: dict[Decision, int] = {
    Decision.START: 0,
    Decision.START_WITH_PRECAUTIONS: 1,
    Decision.NEEDS_INFORMATION: 2,
    Decision.DO_NOT_START: 3,
}


class IndicationStatus(StrEnum):
    """The indication status of the output (RULES §4)."""

    LABELLED = "labelled"
    GUIDELINE_SUPPORTED = "guideline-supported"
    NOT_ESTABLISHED = "not-established"
    NEEDS_INFORMATION = "needs-information"


class VisitType(StrEnum):
    """The visit the checklist is for (RULES §9)."""

    BASELINE = "baseline"
    FOLLOW_UP = "follow-up"
    END_OF_THERAPY = "end-of-therapy"
    POST_THERAPY = "post-therapy"


class PregnancyPotential(StrEnum):
    """The prescriber's attested category (RULES §3); never derived from sex or gender."""

    CAN = "can-become-pregnant"
    CANNOT = "cannot-become-pregnant"
    UNKNOWN = "unknown"


class CannotReason(StrEnum):
    """Recorded (not validated) reason for `cannot-become-pregnant` (RULES §3)."""

    HYSTERECTOMY = "hysterectomy"
    BILATERAL_OOPHORECTOMY = "bilateral-oophorectomy"
    POSTMENOPAUSAL = "postmenopausal"
    CONGENITAL_ABSENCE_OF_UTERUS = "congenital-absence-of-uterus"
    OTHER = "other"


class PregnancyStatusValue(StrEnum):
    """A recorded pregnancy status (LOINC 82810-3 answers, RULES §0.6)."""

    PREGNANT = "pregnant"
    NOT_PREGNANT = "not-pregnant"
    POSSIBLE = "possible"
    NOT_YET_CONFIRMED = "not-yet-confirmed"


class TestResult(StrEnum):
    """Result of a pregnancy test."""

    __test__ = False  # not a pytest test class

    NEGATIVE = "negative"
    POSITIVE = "positive"
    INDETERMINATE = "indeterminate"


class TestSetting(StrEnum):
    """Where a pregnancy test was done (RULES §0.6, §14)."""

    __test__ = False

    MEDICAL_LAB = "medical-lab"
    MEDICAL_POINT_OF_CARE = "medical-point-of-care"
    REMOTE_SUPERVISED = "remote-supervised"
    HOME = "home"
    UNKNOWN = "unknown"


MEDICAL_SETTINGS = frozenset({TestSetting.MEDICAL_LAB, TestSetting.MEDICAL_POINT_OF_CARE})


class AcneSeverity(StrEnum):
    """Clinician-graded acne severity."""

    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"
    VERY_SEVERE = "very-severe"


class TherapyClass(StrEnum):
    """Class of a previous acne therapy (RULES §0.6)."""

    TOPICAL = "topical"
    ORAL_ANTIBIOTIC = "oral-antibiotic"
    HORMONAL = "hormonal"
    OTHER = "other"


class TherapyResponse(StrEnum):
    """Response to a previous therapy; `none`, `partial` and `relapsed` count as failed (§4)."""

    NONE = "none"
    PARTIAL = "partial"
    RELAPSED = "relapsed"
    GOOD = "good"
    NOT_TOLERATED = "not-tolerated"


FAILED_RESPONSES = frozenset(
    {TherapyResponse.NONE, TherapyResponse.PARTIAL, TherapyResponse.RELAPSED}
)


class Allergen(StrEnum):
    """Allergy substances the rules read (RULES §0.6, §5)."""

    ISOTRETINOIN = "isotretinoin"
    VITAMIN_A = "vitamin-a"
    SOY = "soy"
    PEANUT = "peanut"
    TARTRAZINE = "tartrazine"
    PARABEN = "paraben"


class ConditionStatus(StrEnum):
    """Whether a recorded condition is current or history (RULES §0.6, §14)."""

    CURRENT = "current"
    HISTORY = "history"


class MoodInstrument(StrEnum):
    """Mood-screening instruments (RULES §7)."""

    PHQ9 = "phq-9"
    PHQA = "phq-a"
    PHQ2 = "phq-2"


class ContraceptionMethod(StrEnum):
    """Contraception method codes (RULES §9.2)."""

    ABSTINENCE = "abstinence"
    TUBAL_STERILISATION = "tubal-sterilisation"
    PARTNER_VASECTOMY = "partner-vasectomy"
    IUD_COPPER = "iud-copper"
    IUD_HORMONAL = "iud-hormonal"
    IMPLANT = "implant"
    INJECTION = "injection"
    COMBINED_PILL = "combined-pill"
    PATCH = "patch"
    VAGINAL_RING = "vaginal-ring"
    PROGESTIN_ONLY_PILL = "progestin-only-pill"
    MALE_CONDOM = "male-condom"
    DIAPHRAGM_SPERMICIDE = "diaphragm-spermicide"
    CERVICAL_CAP_SPERMICIDE = "cervical-cap-spermicide"
    SPONGE_SPERMICIDE = "sponge-spermicide"
    OTHER = "other"


class Symptom(StrEnum):
    """The reported-symptom vocabulary; each value feeds the stop rule named (RULES §11)."""

    DEPRESSION = "depression"  # stop.mood
    PSYCHOSIS = "psychosis"  # stop.mood
    AGGRESSION = "aggression"  # stop.mood
    SUICIDAL_IDEATION = "suicidal-ideation"  # stop.mood, precaution.suicidal-ideation-now
    PAPILLEDEMA = "papilledema"  # stop.papilledema
    HEADACHE_WITH_NAUSEA = "headache-with-nausea"  # stop.papilledema
    HEADACHE_WITH_VISUAL_DISTURBANCE = "headache-with-visual-disturbance"  # stop.papilledema
    STEVENS_JOHNSON_SYNDROME = "stevens-johnson-syndrome"  # stop.serious-skin-reaction
    TOXIC_EPIDERMAL_NECROLYSIS = "toxic-epidermal-necrolysis"  # stop.serious-skin-reaction
    ERYTHEMA_MULTIFORME = "erythema-multiforme"  # stop.serious-skin-reaction
    PANCREATITIS_SYMPTOMS = "pancreatitis-symptoms"  # stop.pancreatitis
    JAUNDICE = "jaundice"  # stop.hepatitis, lab.liver.severe
    DARK_URINE = "dark-urine"  # stop.hepatitis, lab.liver.severe
    TINNITUS = "tinnitus"  # stop.hearing
    HEARING_LOSS = "hearing-loss"  # stop.hearing
    VISUAL_DIFFICULTY = "visual-difficulty"  # stop.vision
    ABDOMINAL_PAIN = "abdominal-pain"  # stop.ibd-symptoms
    RECTAL_BLEEDING = "rectal-bleeding"  # stop.ibd-symptoms
    SEVERE_DIARRHOEA = "severe-diarrhoea"  # stop.ibd-symptoms
    ANAPHYLAXIS = "anaphylaxis"  # stop.severe-allergy
    SEVERE_ALLERGIC_REACTION = "severe-allergic-reaction"  # stop.severe-allergy
    ALLERGIC_VASCULITIS = "allergic-vasculitis"  # stop.severe-allergy


class Product(StrEnum):
    """Isotretinoin products the dosing arithmetic knows (RULES §8)."""

    ABSORICA = "absorica"
    ABSORICA_LD = "absorica-ld"
    CLARAVIS = "claravis"
    AMNESTEEM = "amnesteem"
    MYORISAN = "myorisan"
    ZENATANE = "zenatane"
    GENERIC = "generic"
    EU_UK_GENERIC = "eu-uk-generic"


class Regimen(StrEnum):
    """Planned dosing regimen."""

    DAILY = "daily"
    INTERMITTENT = "intermittent"


class WeightBasis(StrEnum):
    """Which weight the cumulative mg/kg is computed on (RULES §8)."""

    START = "start"
    LATEST = "latest"


class FormKind(StrEnum):
    """Acknowledgement forms (RULES §0.6, §12)."""

    UK_ARF_2023 = "uk-arf-2023"
    UK_ARF_2026 = "uk-arf-2026"
    EU_ACKNOWLEDGEMENT = "eu-acknowledgement"


class LabProfile(StrEnum):
    """Lab schedules (RULES §9.3): `label`/`evidence` for the US, `smpc` for EU/UK."""

    LABEL = "label"
    EVIDENCE = "evidence"
    SMPC = "smpc"


class PostTherapyTest(StrEnum):
    """When the EU/UK post-therapy pregnancy test falls (RULES §9.1)."""

    ONE_MONTH = "1-month"
    FIVE_WEEKS = "5-weeks"


class MatchBasis(StrEnum):
    """How a medication was matched to an ingredient (RULES §13)."""

    CODE = "code"
    NAME = "name"
    BRAND = "brand"
