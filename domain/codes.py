"""Codes and words the service matches on (RULES §13): always (system, code), never a bare code.

CDC race codes share strings with hCG LOINC codes (2106-3, 2118-8): a bare code string never
matches anything here. Value sets ship as data: the condition sets below, and the medication
vocabulary (ingredient sets, synonyms, brand names, codes, the route exclusion) in the package data
file ``domain/data/medications.json``, read once on first use (never at import) and covered by the
catalogue hash. A deployment may add codes (``value_set_additions``), brand names
(``brand_additions``) and names it knows to be unrelated (``unrelated_medication_names``) through
the local policy file. No terminology server is ever called. ``docs/rules.md`` lists it all.

Names match as whole words, case-insensitively, after :func:`normalise_text` (RULES §13 (b)).
Where RULES §13 names no code for a concept, only the name list matches, and the note in the
finding says so.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

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
class Ingredient:
    """One ingredient of a medication value set, with its synonyms and brand names."""

    name: str
    synonyms: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StrengthProduct:
    """A product identified by an ingredient **and** a strength (the progestin-only pills).

    Attributes:
        ingredient: The ingredient's name.
        synonyms: Other names of the ingredient.
        strengths_mg: The product strengths, in mg.
    """

    ingredient: str
    synonyms: tuple[str, ...]
    strengths_mg: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class ValueSet:
    """A named set of codes with the words that match it by name.

    Attributes:
        name: Stable name (used by ``value_set_additions`` and ``brand_additions``).
        entries: Member codes.
        names: Ingredient or concept names and synonyms, matched as whole words.
        brands: Brand names, matched as whole words (match basis ``brand``).
        title: A plain-language title (medication sets).
        rules: The rule IDs that read this set (medication sets, for the catalogue document).
        ingredients: The ingredients the names and brands come from (medication sets).
        products: Products matched by ingredient and strength (the progestin-only pills).
        combined_with: Names that make a product combined, so no strength product matches.
    """

    name: str
    entries: tuple[CodeEntry, ...]
    names: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    title: str = ""
    rules: tuple[str, ...] = ()
    ingredients: tuple[Ingredient, ...] = ()
    products: tuple[StrengthProduct, ...] = ()
    combined_with: tuple[str, ...] = ()


def _codes(
    system: str, *codes: str, verification: Verification = Verification.PRIMARY
) -> tuple[CodeEntry, ...]:
    return tuple(CodeEntry(system, c, verification) for c in codes)


_U = Verification.UNVERIFIED
_S = Verification.SECONDARY

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

CONDITION_VALUE_SETS: tuple[ValueSet, ...] = (
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


@dataclass(frozen=True, slots=True)
class MedicationVocabulary:
    """The medication data file, parsed (RULES §13).

    Attributes:
        value_sets: The medication value sets, in the file's order.
        route_words: Route, dose-form or text words that make a product non-systemic.
        route_products: Topical or periodontal products that match nothing.
    """

    value_sets: tuple[ValueSet, ...]
    route_words: tuple[str, ...]
    route_products: tuple[str, ...]


def _entry(raw: dict[str, Any]) -> CodeEntry:
    return CodeEntry(
        system=raw["system"],
        code=raw["code"],
        verification=Verification(raw.get("verification", "primary")),
        prefix=bool(raw.get("prefix", False)),
    )


def _medication_set(raw: dict[str, Any]) -> ValueSet:
    ingredients = tuple(
        Ingredient(
            name=i["name"],
            synonyms=tuple(i.get("synonyms", ())),
            brands=tuple(i.get("brands", ())),
        )
        for i in raw["ingredients"]
    )
    products = tuple(
        StrengthProduct(
            ingredient=p["ingredient"],
            synonyms=tuple(p.get("synonyms", ())),
            strengths_mg=tuple(float(x) for x in p["strengths_mg"]),
        )
        for p in raw.get("products", ())
    )
    names = tuple(dict.fromkeys(n for i in ingredients for n in (i.name, *i.synonyms)))
    # Longer brands first, so "Absorica LD" is reported rather than "Absorica".
    brands = tuple(sorted({b for i in ingredients for b in i.brands}, key=lambda b: (-len(b), b)))
    return ValueSet(
        name=raw["name"],
        entries=tuple(_entry(e) for e in raw.get("codes", ())),
        names=names,
        brands=brands,
        title=raw.get("title", raw["name"]),
        rules=tuple(raw.get("rules", ())),
        ingredients=ingredients,
        products=products,
        combined_with=tuple(raw.get("combined_with", {}).get("names", ())),
    )


def parse_medication_vocabulary(data: dict[str, Any]) -> MedicationVocabulary:
    """The medication vocabulary from the data file's JSON object."""
    route = data["route_exclusion"]
    return MedicationVocabulary(
        value_sets=tuple(_medication_set(v) for v in data["value_sets"]),
        route_words=tuple(route["words"]),
        route_products=tuple(route["products"]),
    )


@cache
def medication_vocabulary() -> MedicationVocabulary:
    """The shipped medication vocabulary, read from the package's data file on first use.

    The file is part of the code (versioned and released with it), not deployment state:
    deployments extend it through the local policy file.
    """
    text = resources.files("domain").joinpath("data", "medications.json").read_text("utf-8")
    return parse_medication_vocabulary(json.loads(text))


def value_sets() -> tuple[ValueSet, ...]:
    """Every value set: the medication sets of the data file, then the condition sets."""
    return (*medication_vocabulary().value_sets, *CONDITION_VALUE_SETS)


@cache
def _by_name() -> dict[str, ValueSet]:
    return {v.name: v for v in value_sets()}


def value_set(name: str) -> ValueSet:
    """The shipped value set called ``name``."""
    return _by_name()[name]


def value_set_names() -> frozenset[str]:
    """The names of every value set."""
    return frozenset(_by_name())


def medication_set_names() -> frozenset[str]:
    """The names of the medication value sets."""
    return frozenset(v.name for v in medication_vocabulary().value_sets)


_WORD_CACHE: dict[str, re.Pattern[str]] = {}


def word_pattern(word: str) -> re.Pattern[str]:
    """A whole-word pattern for ``word``, to search normalised text with."""
    pattern = _WORD_CACHE.get(word)
    if pattern is None:
        escaped = re.escape(normalise_text(word))
        pattern = re.compile(rf"(?<![^\W_]){escaped}(?![^\W_])")
        _WORD_CACHE[word] = pattern
    return pattern


_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


@lru_cache(maxsize=4096)
def normalise_text(text: str) -> str:
    """Text made comparable for whole-word matching (RULES §13).

    Unicode NFKC (full-width letters become plain ones), case folding, zero-width and other
    format characters removed, control characters made spaces, combining marks dropped (so the
    Turkish dotted capital I folds to a plain i, and "Curacne" matches "Curacné"), and
    typographic apostrophes made plain.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept: list[str] = []
    for ch in unicodedata.normalize("NFD", folded):
        category = unicodedata.category(ch)
        if category in ("Cf", "Mn"):
            continue
        kept.append(" " if category == "Cc" else ch)
    return unicodedata.normalize("NFC", "".join(kept)).translate(_APOSTROPHES)


def contains_word(text: str | None, word: str) -> bool:
    """Whether ``text`` contains ``word`` as a whole word, case-insensitively."""
    if not text:
        return False
    return word_pattern(word).search(normalise_text(text)) is not None
