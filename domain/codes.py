"""Codes the service matches on (RULES §13), always on (system, code), never on the code alone.

CDC race codes share strings with hCG LOINC codes (2106-3, 2118-8): a bare code string never
matches anything here. Value sets ship as data; a deployment may add codes through the local
policy file (``value_set_additions``), which the catalogue hash covers. No terminology server is
ever called.

Name lists are the service's matching vocabulary (whole word, case-insensitive; RULES §13 (b)).
Where RULES §13 names no code for a concept, only the name list matches, and the note in the
finding says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.vocab import Verification

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ISOCDS = "urn:isocds:codesystem"


@dataclass(frozen=True, slots=True)
class CodeEntry:
    """One member of a value set: an exact code, or a code prefix (ATC J01AA*, ICD K50.-)."""

    system: str
    code: str
    verification: Verification = Verification.PRIMARY
    prefix: bool = False

    def matches(self, system: str, code: str) -> bool:
        """True when (system, code) is this entry; the system must be equal, always."""
        if system != self.system:
            return False
        return code.startswith(self.code) if self.prefix else code == self.code


@dataclass(frozen=True, slots=True)
class ValueSet:
    """A named set of codes with the words that match it by name.

    Attributes:
        name: Stable name (used by ``value_set_additions``).
        entries: Member codes.
        names: Ingredient or concept names, matched as whole words.
        brands: Brand names, matched as whole words (match basis ``brand``).
    """

    name: str
    entries: tuple[CodeEntry, ...]
    names: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()


def _codes(
    system: str, *codes: str, verification: Verification = Verification.PRIMARY
) -> tuple[CodeEntry, ...]:
    return tuple(CodeEntry(system, c, verification) for c in codes)


_U = Verification.UNVERIFIED
_S = Verification.SECONDARY

ISOTRETINOIN = ValueSet(
    name="isotretinoin",
    entries=(
        CodeEntry(RXNORM, "6064", _S),  # ingredient (secondary; verify with RxNav before release)
        *_codes(RXNORM, "197843", "197844", "403930", "197845", "1547561", "1547565", "1547567"),
        # micronized (Absorica LD): SCD 8/16/24/28/32 mg, SBD 8/16/20/24/28 mg
        *_codes(RXNORM, "2262729", "2262711", "2262714", "2262721", "2262725"),
        *_codes(RXNORM, "2262731", "2262713", "2262715", "2262719", "2262723"),
        CodeEntry(ATC, "D10BA01"),
        CodeEntry(SNOMED, "387208003"),
    ),
    names=("isotretinoin",),
    brands=(
        "Absorica LD",
        "Absorica",
        "Claravis",
        "Amnesteem",
        "Myorisan",
        "Zenatane",
        "Sotret",
        "Accutane",
    ),
)

TETRACYCLINES = ValueSet(
    name="tetracyclines",
    entries=(
        CodeEntry(ATC, "J01AA", _S, prefix=True),  # the class; its sub-codes are from memory
        CodeEntry(RXNORM, "3640", _S),  # doxycycline
        CodeEntry(RXNORM, "6980", _U),  # minocycline (unverified)
        CodeEntry(RXNORM, "10395", _U),  # tetracycline (unverified)
    ),
    names=(
        "tetracycline",
        "doxycycline",
        "minocycline",
        "demeclocycline",
        "lymecycline",
        "sarecycline",
        "omadacycline",
        "eravacycline",
        "tigecycline",
    ),
)

# No codes are sourced for the following ingredients (clinical-eu-uk-codes.md B1 marks the vitamin A
# RxCUI "not found"): they match by name, or by codes a deployment adds.
VITAMIN_A = ValueSet(name="vitamin-a", entries=(), names=("vitamin A", "retinol"))
MULTIVITAMIN = ValueSet(
    name="multivitamin",
    entries=(),
    names=(
        "multivitamin",
        "multivitamins",
        "multi-vitamin",
        "multiple vitamins",
        "multiple vitamin",
    ),
)
ST_JOHNS_WORT = ValueSet(
    name="st-johns-wort",
    entries=(),
    names=("St John's Wort", "St. John's Wort", "St Johns Wort", "Saint John's Wort", "hypericum"),
)
PHENYTOIN = ValueSet(name="phenytoin", entries=(), names=("phenytoin",))
# precaution.bone-health "long-term … anticonvulsants": only phenytoin is named in the references;
# other members are matched when the text says "anticonvulsant"/"antiepileptic", or by codes a
# deployment adds (value_set_additions "anticonvulsants").
ANTICONVULSANTS = ValueSet(
    name="anticonvulsants",
    entries=(),
    names=("phenytoin", "anticonvulsant", "antiepileptic", "anti-epileptic"),
)
SYSTEMIC_CORTICOSTEROIDS = ValueSet(
    name="systemic-corticosteroids",
    entries=(),
    names=(
        "corticosteroid",
        "prednisone",
        "prednisolone",
        "methylprednisolone",
        "dexamethasone",
        "hydrocortisone",
        "betamethasone",
        "deflazacort",
    ),
)
TOPICAL_KERATOLYTICS = ValueSet(
    name="topical-keratolytics",
    entries=(),
    names=("keratolytic", "exfoliant", "salicylic acid", "benzoyl peroxide", "glycolic acid"),
)
# Progestin-only *products* only: never a progestin ingredient alone (norethindrone is also in
# combined pills, RULES §6).
PROGESTIN_ONLY_PILL = ValueSet(
    name="progestin-only-pill",
    entries=(),
    names=("progestin-only", "progestogen-only", "minipill", "mini-pill"),
)

# Conditions (RULES §13 "Codes"; codes marked unverified in clinical-eu-uk-codes.md B3 keep it).
HEPATIC_FAILURE = ValueSet(
    name="hepatic-failure",
    entries=(CodeEntry(ICD10CM, "K72.9", _U, prefix=True), CodeEntry(SNOMED, "59927004", _U)),
)
HYPERVITAMINOSIS_A = ValueSet(name="hypervitaminosis-a", entries=(CodeEntry(ICD10CM, "E67.0", _U),))
SUICIDAL_IDEATION = ValueSet(
    name="suicidal-ideation",
    entries=(CodeEntry(ICD10CM, "R45.851"), CodeEntry(SNOMED, "6471006")),
    names=("suicidal ideation", "suicidal thoughts"),
)
IBD = ValueSet(
    name="inflammatory-bowel-disease",
    entries=(
        CodeEntry(ICD10CM, "K50", prefix=True),
        CodeEntry(ICD10CM, "K51", prefix=True),
        *_codes(SNOMED, "24526004", "34000006", "64766004"),
    ),
    names=("inflammatory bowel disease", "Crohn's disease", "Crohn disease", "ulcerative colitis"),
)
INTRACRANIAL_HYPERTENSION = ValueSet(
    name="intracranial-hypertension",
    entries=(CodeEntry(ICD10CM, "G93.2"), CodeEntry(SNOMED, "68267002")),
)
LIPID_DISORDER = ValueSet(
    name="lipid-disorder",
    entries=(CodeEntry(ICD10CM, "E78.1"), CodeEntry(SNOMED, "302870006")),
    names=(
        "hypertriglyceridaemia",
        "hypertriglyceridemia",
        "hyperlipidaemia",
        "hyperlipidemia",
        "dyslipidaemia",
        "dyslipidemia",
        "hypercholesterolaemia",
        "hypercholesterolemia",
    ),
)
PREGNANT = ValueSet(name="pregnant", entries=(CodeEntry(SNOMED, "77386006"),))
BREASTFEEDING = ValueSet(name="breastfeeding", entries=(CodeEntry(SNOMED, "169750002"),))
# Concepts RULES §7 names without codes: matched by name only.
PSYCHIATRIC = ValueSet(
    name="psychiatric-history",
    entries=(),
    names=("depression", "depressive", "psychosis", "psychotic", "self-harm", "self harm"),
)
DIABETES = ValueSet(name="diabetes", entries=(), names=("diabetes", "diabetes mellitus"))
OBESITY = ValueSet(name="obesity", entries=(), names=("obesity", "obese"))
BONE_RISK = ValueSet(
    name="bone-risk", entries=(), names=("osteoporosis", "osteomalacia", "anorexia nervosa")
)

VALUE_SETS: tuple[ValueSet, ...] = (
    ISOTRETINOIN,
    TETRACYCLINES,
    VITAMIN_A,
    MULTIVITAMIN,
    ST_JOHNS_WORT,
    PHENYTOIN,
    ANTICONVULSANTS,
    SYSTEMIC_CORTICOSTEROIDS,
    TOPICAL_KERATOLYTICS,
    PROGESTIN_ONLY_PILL,
    HEPATIC_FAILURE,
    HYPERVITAMINOSIS_A,
    SUICIDAL_IDEATION,
    IBD,
    INTRACRANIAL_HYPERTENSION,
    LIPID_DISORDER,
    PREGNANT,
    BREASTFEEDING,
    PSYCHIATRIC,
    DIABETES,
    OBESITY,
    BONE_RISK,
)
VALUE_SET_NAMES = frozenset(v.name for v in VALUE_SETS)

# Route exclusion (RULES §13): a topical, cutaneous, ophthalmic or periodontal product matches
# neither isotretinoin nor the tetracycline rule. The dose-form words are the service's reading.
NON_SYSTEMIC_WORDS = (
    "topical",
    "cutaneous",
    "ophthalmic",
    "periodontal",
    "cream",
    "gel",
    "ointment",
    "lotion",
    "foam",
    "eye drops",
    "inhalation",
    "inhaled",
    "nasal",
)

# LOINC (RULES §13).
TRIGLYCERIDES = "2571-8"
CHOLESTEROL = "2093-3"
HDL = "2085-9"
LDL = ("13457-7", "18262-6")
ALT = "1742-6"
AST = "1920-8"
GGT = "2324-2"
FASTING_GLUCOSE = "1558-6"
LIPID_LOINCS = (TRIGLYCERIDES, CHOLESTEROL, HDL, *LDL)
LIVER_LOINCS = (ALT, AST)
HCG_LOINCS = ("2118-8", "2110-5", "19080-1", "21198-7", "2106-3", "2112-1", "80384-1", "80385-8")
PHQ9_TOTAL = "44261-6"
PHQ9_PANEL = "44249-1"
PHQA_TOTAL = "89204-2"
PHQ2_TOTAL = "55758-7"
BODY_WEIGHT = "29463-7"
PREGNANCY_STATUS = "82810-3"
# Never read for pregnancy potential (RULES §13): birth sex, pregnancy intent.
NEVER_FOR_PREGNANCY_POTENTIAL = ("76689-9", "86645-9")

MG_DL = "mg/dL"
MMOL_L = "mmol/L"
TG_MG_DL_PER_MMOL_L = 88.57  # RULES §10: 1 mmol/L triglycerides = 88.57 mg/dL

# Units accepted per LOINC code; anything else is an input error (RULES §10).
LAB_UNITS: dict[str, tuple[str, ...]] = {
    TRIGLYCERIDES: (MG_DL, MMOL_L),
    CHOLESTEROL: (MG_DL, MMOL_L),
    HDL: (MG_DL, MMOL_L),
    LDL[0]: (MG_DL, MMOL_L),
    LDL[1]: (MG_DL, MMOL_L),
    ALT: ("U/L", "[IU]/L"),
    AST: ("U/L", "[IU]/L"),
    GGT: ("U/L", "[IU]/L"),
    FASTING_GLUCOSE: (MG_DL, MMOL_L),
}

_WORD_CACHE: dict[str, re.Pattern[str]] = {}


def word_pattern(word: str) -> re.Pattern[str]:
    """A case-insensitive whole-word pattern for ``word`` (apostrophes normalised)."""
    pattern = _WORD_CACHE.get(word)
    if pattern is None:
        escaped = re.escape(normalise_text(word))
        pattern = re.compile(rf"(?<![a-z0-9]){escaped}(?![a-z0-9])")
        _WORD_CACHE[word] = pattern
    return pattern


def normalise_text(text: str) -> str:
    """Lower-case, with typographic apostrophes made plain, for whole-word matching."""
    return text.lower().replace("\u2019", "'").replace("\u2018", "'")


def contains_word(text: str | None, word: str) -> bool:
    """Whether ``text`` contains ``word`` as a whole word, case-insensitively."""
    if not text:
        return False
    return word_pattern(word).search(normalise_text(text)) is not None
