"""Hypothesis strategies for realistic-but-varied isotretinoin facts (RULES §0.6).

Everything here is explicit (``st.builds`` over the dataclasses of :mod:`domain.facts`, never
``from_type``) and stays inside what :func:`domain.validation.validate_facts` accepts, so the
engine never raises :class:`domain.errors.InputError` on a drawn profile.

Dates. Records are drawn relative to :data:`ANCHOR` (A1's evaluation date, 2026-03-01): mostly in
the 35 days before it (where the 3-, 7-, 19- and 30-day windows live), often exactly on a
threshold day, some older, a few after it (which the engine must ignore). :func:`place` then
moves the whole profile to the drawn evaluation date (2025-06-01..2026-12-31, both US and both UK
epochs) and fits its products to the drawn jurisdiction. Drawing templates and placing them keeps
every strategy static, which keeps generation and shrinking fast.

Same-day records (a repeat test, a corrected lab, two screens at one visit) are drawn on purpose:
that is where "the most recent record" has to break a tie.

The entry points:

* :func:`scenarios`: any facts, date and jurisdiction (list facts may be absent).
* :func:`complete_scenarios`: vignette A1 (:func:`tests.factories.a1`) varied, with every list
  fact present and the scalars the contraindications read known.
* :func:`pregnant_scenarios`: :func:`scenarios` whose latest pregnancy test is positive or whose
  latest pregnancy status is ``pregnant``.
* :func:`dosing_scenarios`: A1 varied in weight, age, acne, product, strengths, planned dose and
  tartrazine allergy, for the capsule plan.
* :func:`additions` and :func:`removals`: edits that make a contraindication or interaction
  true, and edits that remove one fact.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import date, timedelta
from typing import Any, TypeAlias, TypeVar, cast

from hypothesis import strategies as st

from domain.codes import (
    ATC,
    FASTING_GLUCOSE,
    ICD10CM,
    LAB_UNITS,
    LOINC,
    MG_DL,
    MMOL_L,
    RXNORM,
    SNOMED,
    CodeEntry,
    value_set,
)
from domain.facts import (
    AcknowledgementForm,
    Acne,
    Allergy,
    Attestations,
    Coding,
    ConditionRecord,
    ContraceptionRecord,
    CounsellingRecord,
    Dispensing,
    Facts,
    LabResult,
    Medication,
    MoodScreen,
    Plan,
    PregnancyStatusRecord,
    PregnancyTest,
    PreviousCourse,
    PreviousTherapy,
    Rems,
    Weight,
)
from domain.products import PRODUCTS
from domain.validation import COUNSELLING_TOPICS, MOOD_MAX_TOTAL
from domain.vocab import (
    AcneSeverity,
    Allergen,
    CannotReason,
    ConditionStatus,
    ContraceptionMethod,
    FormKind,
    Jurisdiction,
    MoodInstrument,
    PregnancyPotential,
    PregnancyStatusValue,
    Product,
    Regimen,
    Symptom,
    TestResult,
    TestSetting,
    TherapyClass,
    TherapyResponse,
    VisitType,
    WeightBasis,
)
from tests.factories import AS_OF, a1

T = TypeVar("T")

ANCHOR = AS_OF  # 2026-03-01: templates are dated relative to it
DATE_MIN = date(2025, 6, 1)
DATE_MAX = date(2026, 12, 31)
CDC_RACE = "urn:oid:2.16.840.1.113883.6.238"  # CDC Race & Ethnicity: 2106-3 is "White"
UNLISTED = "http://example.org/local-formulary"

# Days before the evaluation date where the windows turn (3 days EU/UK, 7 days US, the 19-day
# wait, 30 days, the 56-day retreatment interval): records cluster on them.
THRESHOLD_OFFSETS = (0, 1, 2, 3, 4, 6, 7, 8, 19, 20, 29, 30, 31, 35, 36, 55, 56)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One evaluation's inputs: the facts, the evaluation date and the jurisdiction."""

    facts: Facts
    as_of: date
    jurisdiction: Jurisdiction


# --- small building blocks -----------------------------------------------------------------


def _days_before(n: int, anchor: date = ANCHOR) -> date:
    return anchor - timedelta(days=n)


def _tuples(elements: st.SearchStrategy[T], max_size: int = 3) -> st.SearchStrategy[tuple[T, ...]]:
    return st.lists(elements, max_size=max_size).map(tuple)


def _maybe_tuples(
    elements: st.SearchStrategy[T], max_size: int = 3
) -> st.SearchStrategy[tuple[T, ...] | None]:
    return st.none() | _tuples(elements, max_size)


def mostly(
    usual: st.SearchStrategy[T], other: st.SearchStrategy[T], one_in: int = 4
) -> st.SearchStrategy[T]:
    """``usual``, except about one time in ``one_in``, when ``other``."""
    pick_other = st.sampled_from((False,) * (one_in - 1) + (True,))
    return pick_other.flatmap(lambda o: other if o else usual)


def rarely() -> st.SearchStrategy[bool]:
    """``True`` about one time in eight."""
    return st.sampled_from((False,) * 7 + (True,))


def jurisdictions() -> st.SearchStrategy[Jurisdiction]:
    """``US``, ``EU`` or ``UK``."""
    return st.sampled_from(list(Jurisdiction))


def as_of_dates() -> st.SearchStrategy[date]:
    """Evaluation dates across both US epochs (2026-08-08) and both UK epochs (2026-01-22)."""
    return st.dates(min_value=DATE_MIN, max_value=DATE_MAX)


def record_dates() -> st.SearchStrategy[date]:
    """A record date relative to :data:`ANCHOR`: mostly in the 35 days up to it, often on a
    threshold day, some older, a few after it.
    """
    offsets = st.one_of(
        st.sampled_from(THRESHOLD_OFFSETS),
        st.integers(min_value=0, max_value=35),
        st.integers(min_value=-20, max_value=200),
    )
    return offsets.map(_days_before)


def products_for(jurisdiction: Jurisdiction) -> list[Product]:
    """The products marketed in ``jurisdiction`` (domain/products.py markets)."""
    return [p for p, info in PRODUCTS.items() if jurisdiction in info.markets]


def fit_product(product: Product | None, jurisdiction: Jurisdiction) -> Product | None:
    """``product`` if it is marketed in ``jurisdiction``, else that market's generic."""
    if product is None or jurisdiction in PRODUCTS[product].markets:
        return product
    return Product.GENERIC if jurisdiction is Jurisdiction.US else Product.EU_UK_GENERIC


def shift_dates(value: T, days: int) -> T:
    """``value`` with every date inside it (at any depth) moved by ``days``."""
    if isinstance(value, date):
        return cast(T, value + timedelta(days=days))
    if isinstance(value, tuple):
        return cast(T, tuple(shift_dates(v, days) for v in value))
    if is_dataclass(value) and not isinstance(value, type):
        changes: dict[str, Any] = {
            f.name: shift_dates(getattr(value, f.name), days) for f in fields(value)
        }
        return cast(T, replace(value, **changes))
    return value


def place(template: Facts, as_of: date, jurisdiction: Jurisdiction) -> Scenario:
    """A template dated around :data:`ANCHOR` moved to ``as_of``, its products fitted."""
    f = shift_dates(template, (as_of - ANCHOR).days)
    plan = replace(f.plan, product=fit_product(f.plan.product, jurisdiction))
    sold = tuple(replace(d, product=fit_product(d.product, jurisdiction)) for d in f.dispensings)
    return Scenario(replace(f, plan=plan, dispensings=sold), as_of, jurisdiction)


# --- codings -------------------------------------------------------------------------------


def _entry_coding(entry: CodeEntry) -> Coding:
    code = entry.code + "02" if entry.prefix else entry.code  # J01AA → J01AA02 (doxycycline)
    return Coding(system=entry.system, code=code)


ISOTRETINOIN_CODINGS = tuple(_entry_coding(e) for e in value_set("isotretinoin").entries)
TETRACYCLINE_CODINGS = (
    *(_entry_coding(e) for e in value_set("tetracyclines").entries),
    Coding(system=ATC, code="J01AA08", display="minocycline"),
    Coding(system=ATC, code="J01AA04", display="lymecycline"),
)
OTHER_MEDICATION_CODINGS = (
    Coding(system=RXNORM, code="310965", display="Ibuprofen 200 MG Oral Tablet"),
    Coding(system=RXNORM, code="1014678", display="Cetirizine 10 MG Oral Tablet"),
    Coding(system=UNLISTED, code="FORM-0042", display="House emollient"),
    # CDC race codes share strings with hCG LOINC codes: never a match on the code alone.
    Coding(system=CDC_RACE, code="2106-3", display="White"),
    Coding(system=CDC_RACE, code="2118-8"),
    # An isotretinoin code string in the wrong system.
    Coding(system=LOINC, code="197843"),
)
MEDICATION_NAMES = (
    "Doxycycline 100 MG Oral Tablet",
    "Minocycline 50 MG Oral Capsule",
    "Lymecycline 408 MG Oral Capsule",
    "Ibuprofen 200 MG Oral Tablet",
    "Cetirizine 10 MG Oral Tablet",
    "Sertraline 50 MG Oral Tablet",
    "Levonorgestrel 0.15 MG / Ethinyl Estradiol 0.03 MG Oral Tablet",
    "Norethindrone 0.35 MG Oral Tablet",
    "Progestin-only pill (norethindrone 0.35 MG)",
    "Vitamin A 10000 UNT Oral Capsule",
    "Multivitamin Oral Tablet",
    "St John's Wort 300 MG Oral Tablet",
    "Phenytoin 100 MG Extended Release Oral Capsule",
    "Prednisone 20 MG Oral Tablet",
    "Clindamycin 1 % Topical Gel",
    "Benzoyl peroxide 5 % Topical Gel",
    "Tetracycline 1 % Ophthalmic Ointment",
    "Claravis 30 MG Oral Capsule",
    "Absorica LD 32 MG Oral Capsule",
    "Metformin 500 MG Oral Tablet",
)
ROUTES = ("oral", "topical", "ophthalmic", "cutaneous", "Oral Tablet")

ALLERGY_CODINGS = (
    Coding(system=SNOMED, code="387208003", display="Isotretinoin"),
    Coding(system=RXNORM, code="6064", display="isotretinoin"),
    Coding(system=SNOMED, code="91936005", display="Allergy to penicillin"),
    Coding(system=CDC_RACE, code="2106-3"),
)

CONDITION_CODINGS = (
    Coding(system=ICD10CM, code="L70.0", display="Acne vulgaris"),
    Coding(system=SNOMED, code="88616000", display="Acne vulgaris"),
    Coding(system=ICD10CM, code="K72.90", display="Hepatic failure, unspecified"),
    Coding(system=SNOMED, code="59927004", display="Hepatic failure"),
    Coding(system=ICD10CM, code="E67.0", display="Hypervitaminosis A"),
    Coding(system=ICD10CM, code="R45.851", display="Suicidal ideations"),
    Coding(system=SNOMED, code="6471006", display="Suicidal thoughts"),
    Coding(system=ICD10CM, code="K50.90", display="Crohn's disease, unspecified"),
    Coding(system=ICD10CM, code="K51.90", display="Ulcerative colitis, unspecified"),
    Coding(system=ICD10CM, code="E78.1", display="Pure hyperglyceridemia"),
    Coding(system=ICD10CM, code="G93.2", display="Benign intracranial hypertension"),
    Coding(system=SNOMED, code="77386006", display="Pregnant"),
    Coding(system=SNOMED, code="169750002", display="Breastfeeding"),
    Coding(system=ICD10CM, code="E11.9", display="Type 2 diabetes mellitus"),
    Coding(system=CDC_RACE, code="2106-3"),
    Coding(system=UNLISTED, code="K72.9"),  # a hepatic-failure code string in another system
)
CONDITION_TEXTS = (
    "Major depressive disorder",
    "Obesity",
    "Osteoporosis",
    "Hyperlipidemia",
    "Asthma",
    "Anorexia nervosa",
    "Seasonal allergic rhinitis",
)

# --- records (dated relative to ANCHOR) ----------------------------------------------------


def codings() -> st.SearchStrategy[Coding]:
    """A medication coding: isotretinoin, a tetracycline, or something that must not match."""
    return st.sampled_from(ISOTRETINOIN_CODINGS + TETRACYCLINE_CODINGS + OTHER_MEDICATION_CODINGS)


def medications(*, allow_unresolved: bool = True) -> st.SearchStrategy[Medication]:
    """A current medication, coded and/or named, with an optional route."""
    return st.builds(
        Medication,
        codings=_tuples(codings(), max_size=2),
        text=st.none() | st.sampled_from(MEDICATION_NAMES),
        route=st.none() | st.sampled_from(ROUTES),
        unresolved=rarely() if allow_unresolved else st.just(False),
    )


def allergies() -> st.SearchStrategy[Allergy]:
    """An allergy: a substance of RULES §0.6, or a coding."""
    return st.one_of(
        st.builds(Allergy, substance=st.sampled_from(list(Allergen))),
        st.builds(Allergy, coding=st.sampled_from(ALLERGY_CODINGS)),
    )


def conditions() -> st.SearchStrategy[ConditionRecord]:
    """A coded and/or named condition, current or history."""
    return st.builds(
        ConditionRecord,
        codings=_tuples(st.sampled_from(CONDITION_CODINGS), max_size=2),
        text=st.none() | st.sampled_from(CONDITION_TEXTS),
        status=st.sampled_from(list(ConditionStatus)),
    )


# Plausible value ranges per (LOINC, unit), with the RULES §10 thresholds offered exactly.
_LAB_RANGES: dict[tuple[str, str], tuple[float, float, tuple[float, ...]]] = {
    ("2571-8", MG_DL): (30.0, 1200.0, (500.0, 500.1, 800.0, 800.1)),
    ("2571-8", MMOL_L): (0.3, 14.0, (5.65, 5.7, 9.03, 9.04)),
    ("2093-3", MG_DL): (100.0, 350.0, ()),
    ("2093-3", MMOL_L): (2.5, 9.0, ()),
    ("2085-9", MG_DL): (20.0, 100.0, ()),
    ("2085-9", MMOL_L): (0.5, 2.6, ()),
    ("13457-7", MG_DL): (40.0, 250.0, ()),
    ("13457-7", MMOL_L): (1.0, 6.5, ()),
    ("18262-6", MG_DL): (40.0, 250.0, ()),
    ("18262-6", MMOL_L): (1.0, 6.5, ()),
    ("1742-6", "U/L"): (5.0, 400.0, (120.0, 120.1, 200.0, 200.1)),
    ("1742-6", "[IU]/L"): (5.0, 400.0, (120.0, 200.0)),
    ("1920-8", "U/L"): (5.0, 400.0, (120.0, 200.0)),
    ("1920-8", "[IU]/L"): (5.0, 400.0, (120.0, 200.0)),
    ("2324-2", "U/L"): (5.0, 300.0, ()),
    ("2324-2", "[IU]/L"): (5.0, 300.0, ()),
    (FASTING_GLUCOSE, MG_DL): (60.0, 300.0, ()),
    (FASTING_GLUCOSE, MMOL_L): (3.0, 17.0, ()),
}
_LIVER = ("1742-6", "1920-8")
_LAB_KEYS = sorted((loinc, unit) for loinc, units in LAB_UNITS.items() for unit in units)


def _lab_value(lo: float, hi: float, thresholds: tuple[float, ...]) -> st.SearchStrategy[float]:
    values = st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)
    rounded = values.map(lambda v: round(v, 1))
    return rounded | st.sampled_from(thresholds) if thresholds else rounded


def _lab(loinc: str, unit: str) -> st.SearchStrategy[LabResult]:
    lo, hi, thresholds = _LAB_RANGES[(loinc, unit)]
    return st.builds(
        LabResult,
        loinc=st.just(loinc),
        value=_lab_value(lo, hi, thresholds),
        unit=st.just(unit),
        collected_on=record_dates(),
        fasting=st.none() | st.booleans(),
        uln=(st.none() | st.sampled_from((35.0, 40.0, 56.0))) if loinc in _LIVER else st.none(),
    )


def labs() -> st.SearchStrategy[LabResult]:
    """A lab result with a LOINC code and unit of ``LAB_UNITS`` and a plausible value."""
    return st.one_of(*(_lab(*key) for key in _LAB_KEYS))


def _clamp_item_9(screen: MoodScreen) -> MoodScreen:
    if screen.item_9 is None or screen.instrument is MoodInstrument.PHQ2:
        return replace(screen, item_9=None)
    return replace(screen, item_9=min(screen.item_9, screen.total))


def _mood(instrument: MoodInstrument) -> st.SearchStrategy[MoodScreen]:
    return st.builds(
        MoodScreen,
        instrument=st.just(instrument),
        total=st.integers(min_value=0, max_value=MOOD_MAX_TOTAL[instrument]),
        screened_on=record_dates(),
        item_9=st.none() | st.integers(min_value=0, max_value=3),
    ).map(_clamp_item_9)


def mood_screens() -> st.SearchStrategy[MoodScreen]:
    """A PHQ-9, PHQ-A or PHQ-2 screen with a valid total (and item 9 where it exists)."""
    return st.one_of(*(_mood(i) for i in MoodInstrument))


def pregnancy_tests() -> st.SearchStrategy[PregnancyTest]:
    """A pregnancy test; mostly negative."""
    results = (TestResult.NEGATIVE,) * 4 + (TestResult.POSITIVE, TestResult.INDETERMINATE)
    return st.builds(
        PregnancyTest,
        specimen_date=record_dates(),
        result=st.sampled_from(results),
        setting=st.sampled_from(list(TestSetting)),
        clia_certified=st.none() | st.booleans(),
        sensitivity_miu_ml=st.none() | st.sampled_from((10.0, 20.0, 25.0, 25.1, 50.0)),
    )


def pregnancy_statuses() -> st.SearchStrategy[PregnancyStatusRecord]:
    """A recorded pregnancy status."""
    return st.builds(
        PregnancyStatusRecord,
        recorded_on=record_dates(),
        value=st.sampled_from(list(PregnancyStatusValue)),
    )


def contraception_records() -> st.SearchStrategy[ContraceptionRecord]:
    """A contraception method, started up to about a year ago, maybe confirmed since."""
    return st.builds(
        ContraceptionRecord,
        method=st.sampled_from(list(ContraceptionMethod)),
        start_date=st.sampled_from(THRESHOLD_OFFSETS).map(_days_before)
        | st.integers(min_value=-10, max_value=400).map(_days_before),
        confirmed_on=st.none() | record_dates(),
    )


def counselling_records() -> st.SearchStrategy[CounsellingRecord]:
    """Counselling given on a topic the validation accepts."""
    return st.builds(
        CounsellingRecord,
        topic=st.sampled_from(sorted(COUNSELLING_TOPICS)),
        given_on=record_dates(),
    )


def acknowledgement_forms() -> st.SearchStrategy[AcknowledgementForm]:
    """A signed acknowledgement form."""
    return st.builds(
        AcknowledgementForm, form=st.sampled_from(list(FormKind)), signed_on=record_dates()
    )


def rems() -> st.SearchStrategy[Rems]:
    """iPLEDGE steps, each maybe recorded."""
    return st.builds(
        Rems,
        enrolled_on=st.none() | record_dates(),
        monthly_confirmation_on=st.none() | record_dates(),
    )


def dispensings() -> st.SearchStrategy[Dispensing]:
    """Isotretinoin dispensed in this course (the product is fitted to the market by place)."""
    return st.builds(
        Dispensing,
        dispensed_on=record_dates(),
        mg_per_day=st.sampled_from((16.0, 20.0, 30.0, 40.0, 56.0, 60.0, 80.0)),
        days_supplied=st.integers(min_value=1, max_value=30),
        product=st.none() | st.sampled_from(list(Product)),
    )


def previous_therapies() -> st.SearchStrategy[PreviousTherapy]:
    """An earlier acne therapy, maybe with dates and a response."""
    return st.builds(
        PreviousTherapy,
        therapy_class=st.sampled_from(list(TherapyClass)),
        ingredient=st.none()
        | st.sampled_from(("doxycycline", "minocycline", "adapalene", "spironolactone")),
        start=st.none() | record_dates(),
        end=st.none() | record_dates(),
        response=st.none() | st.sampled_from(list(TherapyResponse)),
    )


def previous_courses() -> st.SearchStrategy[PreviousCourse]:
    """An earlier isotretinoin course ending 0 to 365 days before (around the 56-day interval)."""
    ends = (st.sampled_from((54, 55, 56, 57)) | st.integers(min_value=-10, max_value=365)).map(
        _days_before
    )
    return st.builds(
        PreviousCourse,
        start=st.none() | ends.map(lambda e: e - timedelta(days=140)),
        end=st.none() | ends,
    )


def acne() -> st.SearchStrategy[Acne]:
    """The clinician's acne assessment; each field maybe unknown."""
    flag = st.none() | st.booleans()
    return st.builds(
        Acne,
        severity=st.none() | st.sampled_from(list(AcneSeverity)),
        nodular=flag,
        nodule_count=st.none() | st.integers(min_value=0, max_value=20),
        scarring=flag,
        psychosocial_burden=flag,
        truncal=flag,
        conglobata=flag,
        fulminans=st.none() | rarely(),
    )


def attestations() -> st.SearchStrategy[Attestations]:
    """Clinician attestations, each true, false or not stated (mostly false or not stated)."""
    flag = st.sampled_from((None, None, False, False, True))
    return st.builds(
        Attestations,
        hepatic_insufficiency=flag,
        excessively_elevated_lipids=flag,
        hypervitaminosis_a=flag,
        severe_renal_impairment=flag,
        open_growth_plates=flag,
        high_alcohol_intake=flag,
        family_history_lipid_disorder=flag,
    )


def weights() -> st.SearchStrategy[Weight]:
    """A body weight of 30–200 kg, weighed mostly within the last 30 days."""
    return st.builds(
        Weight,
        kg=st.floats(min_value=30.0, max_value=200.0, allow_nan=False).map(lambda k: round(k, 1)),
        measured_on=st.none() | record_dates(),
    )


STRENGTH_CHOICES = (5, 8, 10, 16, 20, 25, 30, 35, 40)


def strengths() -> st.SearchStrategy[tuple[int, ...]]:
    """Capsule strengths a caller sends (non-empty, positive)."""
    return st.lists(st.sampled_from(STRENGTH_CHOICES), min_size=1, max_size=4, unique=True).map(
        tuple
    )


def plans() -> st.SearchStrategy[Plan]:
    """A plan (its product is fitted to the market by :func:`place`)."""
    return st.builds(
        Plan,
        product=st.none() | st.sampled_from(list(Product)),
        available_strengths_mg=st.none() | strengths(),
        contains_soybean_oil=st.none() | st.booleans(),
        planned_mg_per_day=st.none()
        | st.sampled_from((10.0, 20.0, 30.0, 40.0, 56.0, 60.0, 70.0, 80.0, 120.0)),
        target_mg_per_kg_day=st.none() | st.sampled_from((0.25, 0.5, 0.8, 1.0, 1.5, 2.0)),
        doses_per_day=st.none() | st.sampled_from((1, 2)),
        regimen=st.none() | st.sampled_from(list(Regimen)),
        prescription_date=st.none() | st.integers(min_value=0, max_value=10).map(_days_before),
        planned_start_date=st.none() | st.integers(min_value=-30, max_value=0).map(_days_before),
        planned_days_supply=st.none() | st.sampled_from((7, 28, 30, 31, 60, 90)),
        planned_refills=st.none() | st.integers(min_value=0, max_value=2),
        weight_basis=st.none() | st.sampled_from(list(WeightBasis)),
        start_weight_kg=st.none() | st.sampled_from((45.0, 60.0, 82.5)),
        target_cumulative_mg_per_kg=st.none() | st.sampled_from((120.0, 150.0, 220.0)),
    )


# --- same-day pairs ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Redate:
    """Give the second record of a pair the date (field ``field``) of the first."""

    field: str

    def __call__(self, pair: tuple[Any, Any]) -> tuple[Any, Any]:
        first, second = pair
        changes: dict[str, Any] = {self.field: getattr(first, self.field)}
        return first, replace(second, **changes)


def _same_day(
    first: st.SearchStrategy[T], second: st.SearchStrategy[T], redate: _Redate
) -> st.SearchStrategy[tuple[T, T]]:
    return st.tuples(first, second).map(redate)


def _concat(parts: tuple[tuple[T, ...], tuple[T, ...]]) -> tuple[T, ...]:
    return parts[0] + parts[1]


def _with_same_day_pair(
    records: st.SearchStrategy[tuple[T, ...]], pairs: st.SearchStrategy[tuple[T, T]]
) -> st.SearchStrategy[tuple[T, ...]]:
    """``records``, or ``records`` plus two records of one kind on one day."""
    return mostly(records, st.tuples(records, pairs).map(_concat), 3)


def same_day_labs() -> st.SearchStrategy[tuple[LabResult, LabResult]]:
    """Two results of one analyte the rules read (TG, ALT, AST) on one day: a repeat or a
    correction of an abnormal value.
    """
    keys = [k for k in _LAB_KEYS if k[0] in ("2571-8", *_LIVER)]
    return st.one_of(*(_same_day(_lab(*k), _lab(*k), _Redate("collected_on")) for k in keys))


def same_day_screens() -> st.SearchStrategy[tuple[MoodScreen, MoodScreen]]:
    """Two screens with one instrument on one day."""
    return st.one_of(
        *(_same_day(_mood(i), _mood(i), _Redate("screened_on")) for i in MoodInstrument)
    )


def same_day_tests() -> st.SearchStrategy[tuple[PregnancyTest, PregnancyTest]]:
    """Two pregnancy tests on one day."""
    tests = pregnancy_tests()
    return _same_day(tests, tests, _Redate("specimen_date"))


def same_day_statuses() -> st.SearchStrategy[tuple[PregnancyStatusRecord, PregnancyStatusRecord]]:
    """Two pregnancy statuses recorded on one day."""
    statuses = pregnancy_statuses()
    return _same_day(statuses, statuses, _Redate("recorded_on"))


def same_day_dispensings() -> st.SearchStrategy[tuple[Dispensing, Dispensing]]:
    """Two dispensings on one day."""
    ds = dispensings()
    return _same_day(ds, ds, _Redate("dispensed_on"))


# --- any facts -----------------------------------------------------------------------------


def facts() -> st.SearchStrategy[Facts]:
    """Any valid facts dated relative to :data:`ANCHOR` (use :func:`place` to evaluate them).

    List facts are absent (``None``: not asked) about half the time; records of things done
    are tuples (``()`` = not done).
    """
    return st.builds(
        Facts,
        birth_date=st.none() | st.dates(min_value=date(1960, 1, 1), max_value=date(2014, 12, 31)),
        age_years=st.none() | st.integers(min_value=10, max_value=70),
        weight=st.none() | weights(),
        pregnancy_potential=st.none() | st.sampled_from(list(PregnancyPotential)),
        pregnancy_potential_reason=st.none() | st.sampled_from(list(CannotReason)),
        pregnancy_status=st.none()
        | _with_same_day_pair(_tuples(pregnancy_statuses(), 2), same_day_statuses()),
        pregnancy_tests=_with_same_day_pair(_tuples(pregnancy_tests()), same_day_tests()),
        home_testing_permitted=st.none() | st.booleans(),
        breastfeeding=st.none() | st.booleans(),
        acne=acne(),
        previous_therapies=_maybe_tuples(previous_therapies()),
        previous_courses=_maybe_tuples(previous_courses(), 2),
        medications=_maybe_tuples(medications()),
        allergies=_maybe_tuples(allergies(), 2),
        conditions=_maybe_tuples(conditions()),
        labs=st.none() | _with_same_day_pair(_tuples(labs()), same_day_labs()),
        mood_screens=st.none()
        | _with_same_day_pair(_tuples(mood_screens(), 2), same_day_screens()),
        contraception=_tuples(contraception_records()),
        counselling=_tuples(counselling_records()),
        rems=rems(),
        acknowledgement_forms=_tuples(acknowledgement_forms(), 2),
        reported_symptoms=_maybe_tuples(st.sampled_from(list(Symptom)), 2),
        attestations=attestations(),
        sexual_function_assessed_on=st.none() | record_dates(),
        visit_type=st.none() | st.sampled_from(list(VisitType)),
        visit_date=st.none() | st.just(ANCHOR),
        previous_visit_date=st.none() | record_dates(),
        treatment_start_date=st.none() | record_dates(),
        last_dose_date=st.none() | record_dates(),
        plan=plans(),
        dispensings=_with_same_day_pair(_tuples(dispensings(), 2), same_day_dispensings()),
    )


def scenarios() -> st.SearchStrategy[Scenario]:
    """Any valid facts, placed on a drawn evaluation date in a drawn jurisdiction."""
    return st.builds(place, facts(), as_of_dates(), jurisdictions())


# --- complete profiles: A1 varied ----------------------------------------------------------

_BENIGN_MEDICATIONS = (
    Medication(codings=(OTHER_MEDICATION_CODINGS[0],), route="oral"),
    Medication(text="Cetirizine 10 MG Oral Tablet"),
    Medication(text="Metformin 500 MG Oral Tablet", route="oral"),
    Medication(text="Levonorgestrel 0.15 MG / Ethinyl Estradiol 0.03 MG Oral Tablet"),
    Medication(text="Clindamycin 1 % Topical Gel", route="topical"),
    Medication(codings=(Coding(system=CDC_RACE, code="2106-3"),), text="Unmapped local item"),
)
_BENIGN_ALLERGIES = (
    Allergy(coding=Coding(system=SNOMED, code="91936005", display="Allergy to penicillin")),
    Allergy(coding=Coding(system=CDC_RACE, code="2106-3")),
)
_BENIGN_CONDITIONS = (
    ConditionRecord(codings=(Coding(system=ICD10CM, code="L70.0", display="Acne vulgaris"),)),
    ConditionRecord(text="Asthma", status=ConditionStatus.HISTORY),
    ConditionRecord(text="Seasonal allergic rhinitis"),
    ConditionRecord(codings=(Coding(system=CDC_RACE, code="2106-3"),)),
    ConditionRecord(codings=(Coding(system=UNLISTED, code="K72.9"),)),
)


def _methods(*methods: ContraceptionMethod) -> tuple[ContraceptionRecord, ...]:
    return tuple(ContraceptionRecord(method=m, start_date=date(2026, 1, 15)) for m in methods)


_M = ContraceptionMethod
# Method sets around the US and EU/UK thresholds (RULES §9.2), all started 2026-01-15.
_CONTRACEPTION_SETS = (
    _methods(_M.COMBINED_PILL),
    _methods(_M.MALE_CONDOM),
    _methods(_M.COMBINED_PILL, _M.MALE_CONDOM),
    _methods(_M.IUD_COPPER),
    _methods(_M.IMPLANT, _M.MALE_CONDOM),
    _methods(_M.ABSTINENCE),
    _methods(_M.PATCH, _M.DIAPHRAGM_SPERMICIDE),
    _methods(_M.MALE_CONDOM, _M.DIAPHRAGM_SPERMICIDE),
)


def _benign_labs() -> st.SearchStrategy[LabResult]:
    recent = st.integers(min_value=0, max_value=20).map(_days_before)
    tg = st.builds(
        LabResult,
        loinc=st.just("2571-8"),
        value=st.sampled_from((60.0, 150.0, 320.0, 499.9, 500.0)),
        unit=st.just(MG_DL),
        collected_on=recent,
        fasting=st.just(True),
    )
    liver = st.builds(
        LabResult,
        loinc=st.sampled_from(_LIVER),
        value=st.sampled_from((12.0, 35.0, 80.0, 120.0)),
        unit=st.just("U/L"),
        collected_on=recent,
        uln=st.just(40.0),
    )
    return tg | liver


def _extended(
    base: tuple[T, ...], extra: st.SearchStrategy[T], n: int = 2
) -> st.SearchStrategy[tuple[T, ...]]:
    """``base`` with some of its records dropped and up to ``n`` drawn records added."""
    kept = st.lists(st.booleans(), min_size=len(base), max_size=len(base)).map(
        lambda keep: tuple(r for r, k in zip(base, keep, strict=True) if k)
    )
    return st.tuples(kept, _tuples(extra, n)).map(lambda p: p[0] + p[1])


def _added(
    base: tuple[T, ...], extra: st.SearchStrategy[T], n: int = 1
) -> st.SearchStrategy[tuple[T, ...]]:
    """``base`` with up to ``n`` drawn records added."""
    return _tuples(extra, n).map(lambda more: base + more)


def _vary(base: Facts, **changes: Any) -> Facts:
    """``base`` with ``changes`` (a typed ``dataclasses.replace`` for ``st.builds``)."""
    return replace(base, **changes)


def complete_facts() -> st.SearchStrategy[Facts]:
    """A1 varied: every list fact present, breastfeeding known, medications resolved.

    Mostly small, realistic departures from A1 (so decisions vary over all four values), and
    now and then anything the record strategies draw.
    """
    base = a1()
    negatives = pregnancy_tests().map(lambda t: replace(t, result=TestResult.NEGATIVE))
    not_pregnant = pregnancy_statuses().map(
        lambda r: replace(r, value=PregnancyStatusValue.NOT_PREGNANT)
    )
    return st.builds(
        _vary,
        st.just(base),
        pregnancy_potential=st.sampled_from(
            (PregnancyPotential.CAN,) * 3
            + (PregnancyPotential.CANNOT, PregnancyPotential.UNKNOWN, None)
        ),
        pregnancy_status=mostly(_tuples(not_pregnant, 1), _tuples(pregnancy_statuses(), 2)),
        pregnancy_tests=mostly(
            _added(base.pregnancy_tests, negatives),
            _extended(base.pregnancy_tests, pregnancy_tests()),
        ),
        breastfeeding=mostly(st.just(False), st.just(True), 8),
        acne=mostly(st.just(base.acne), acne()),
        previous_therapies=mostly(st.just(base.previous_therapies), _tuples(previous_therapies())),
        previous_courses=mostly(st.just(()), _tuples(previous_courses(), 1)),
        medications=mostly(
            _tuples(st.sampled_from(_BENIGN_MEDICATIONS), 2),
            _tuples(medications(allow_unresolved=False), 2),
        ),
        allergies=mostly(
            _tuples(st.sampled_from(_BENIGN_ALLERGIES), 1), _tuples(allergies(), 2), 6
        ),
        conditions=mostly(
            _tuples(st.sampled_from(_BENIGN_CONDITIONS), 2), _tuples(conditions(), 2), 6
        ),
        labs=mostly(_added(base.labs or (), _benign_labs()), _extended(base.labs or (), labs())),
        mood_screens=mostly(st.just(base.mood_screens), _tuples(mood_screens(), 2)),
        contraception=st.one_of(
            st.just(base.contraception),
            st.sampled_from(_CONTRACEPTION_SETS),
            _extended(base.contraception, contraception_records(), 1),
        ),
        counselling=mostly(
            _added(base.counselling, counselling_records(), 2),
            _extended(base.counselling, counselling_records()),
        ),
        acknowledgement_forms=_tuples(acknowledgement_forms(), 1),
        reported_symptoms=mostly(st.just(()), _tuples(st.sampled_from(list(Symptom)), 1), 8),
        attestations=mostly(st.just(Attestations()), attestations()),
    )


def _complete(
    f: Facts, days_after_anchor: int, jurisdiction: Jurisdiction, us_plan: Plan, eu_plan: Plan
) -> Scenario:
    plan = us_plan if jurisdiction is Jurisdiction.US else eu_plan
    as_of = ANCHOR + timedelta(days=days_after_anchor)
    return Scenario(replace(f, plan=plan), as_of, jurisdiction)


def complete_scenarios() -> st.SearchStrategy[Scenario]:
    """:func:`complete_facts` evaluated within two days of A1's date, in any jurisdiction.

    The records are not moved with the date: A1's tests, counselling and labs stay near the edges
    of their windows (the EU/UK 3-day test recency ends on 2026-03-02).
    """
    us_plan = st.builds(Plan, product=st.sampled_from(products_for(Jurisdiction.US)))
    eu_plan = st.builds(
        Plan,
        product=st.just(Product.EU_UK_GENERIC),
        available_strengths_mg=st.none() | st.just((10, 20, 40)),
        contains_soybean_oil=st.none() | st.booleans(),
    )
    return st.builds(
        _complete,
        complete_facts(),
        st.integers(min_value=-2, max_value=2),
        jurisdictions(),
        us_plan,
        eu_plan,
    )


def is_complete(f: Facts) -> bool:
    """Every list fact present (not ``None``)."""
    lists = (
        f.pregnancy_status,
        f.previous_therapies,
        f.previous_courses,
        f.medications,
        f.allergies,
        f.conditions,
        f.labs,
        f.mood_screens,
        f.reported_symptoms,
    )
    return all(x is not None for x in lists)


# --- edits: making a contraindication or interaction true -----------------------------------


@dataclass(frozen=True, slots=True)
class AddMedication:
    """Add a current medication that an interaction rule matches."""

    medication: Medication

    def apply(self, f: Facts, as_of: date) -> Facts:  # noqa: ARG002  # one signature for all edits
        """The facts with the medication added."""
        return replace(f, medications=(*(f.medications or ()), self.medication))


@dataclass(frozen=True, slots=True)
class AddAllergy:
    """Add an allergy that a contraindication reads."""

    allergy: Allergy

    def apply(self, f: Facts, as_of: date) -> Facts:  # noqa: ARG002  # one signature for all edits
        """The facts with the allergy added."""
        return replace(f, allergies=(*(f.allergies or ()), self.allergy))


@dataclass(frozen=True, slots=True)
class AddCondition:
    """Add a current coded condition that a contraindication reads."""

    condition: ConditionRecord

    def apply(self, f: Facts, as_of: date) -> Facts:  # noqa: ARG002  # one signature for all edits
        """The facts with the condition added."""
        return replace(f, conditions=(*(f.conditions or ()), self.condition))


@dataclass(frozen=True, slots=True)
class SetBreastfeeding:
    """Record that the patient is breastfeeding."""

    def apply(self, f: Facts, as_of: date) -> Facts:  # noqa: ARG002  # one signature for all edits
        """The facts with ``breastfeeding=True``."""
        return replace(f, breastfeeding=True)


@dataclass(frozen=True, slots=True)
class AddPositiveTest:
    """Add a positive test on or after the latest test up to ``as_of`` (so it is the latest)."""

    days_before_as_of: int
    setting: TestSetting

    def apply(self, f: Facts, as_of: date) -> Facts:
        """The facts with the positive test added."""
        day = latest_on_or_before(
            [t.specimen_date for t in f.pregnancy_tests], as_of, self.days_before_as_of
        )
        test = PregnancyTest(specimen_date=day, result=TestResult.POSITIVE, setting=self.setting)
        return replace(f, pregnancy_tests=(*f.pregnancy_tests, test))


@dataclass(frozen=True, slots=True)
class AddPregnantStatus:
    """Add a ``pregnant`` status on or after the latest status up to ``as_of``."""

    days_before_as_of: int

    def apply(self, f: Facts, as_of: date) -> Facts:
        """The facts with the status added."""
        statuses = f.pregnancy_status or ()
        day = latest_on_or_before([s.recorded_on for s in statuses], as_of, self.days_before_as_of)
        record = PregnancyStatusRecord(recorded_on=day, value=PregnancyStatusValue.PREGNANT)
        return replace(f, pregnancy_status=(*statuses, record))


@dataclass(frozen=True, slots=True)
class AddProgestinOnlyPill:
    """Add a progestin-only pill as a contraception method."""

    started_days_before_as_of: int

    def apply(self, f: Facts, as_of: date) -> Facts:
        """The facts with the method added."""
        record = ContraceptionRecord(
            method=ContraceptionMethod.PROGESTIN_ONLY_PILL,
            start_date=_days_before(self.started_days_before_as_of, as_of),
        )
        return replace(f, contraception=(*f.contraception, record))


Addition: TypeAlias = (
    AddMedication
    | AddAllergy
    | AddCondition
    | SetBreastfeeding
    | AddPositiveTest
    | AddPregnantStatus
    | AddProgestinOnlyPill
)


def latest_on_or_before(days: list[date], as_of: date, back: int) -> date:
    """``as_of − back``, moved forward to the latest of ``days`` not after ``as_of``."""
    candidates = [d for d in days if d <= as_of]
    day = _days_before(back, as_of)
    return max([day, *candidates])


_TETRACYCLINE_MEDICATIONS = (
    *(Medication(codings=(c,)) for c in TETRACYCLINE_CODINGS),
    Medication(text="Doxycycline 100 MG Oral Tablet"),
    Medication(text="Minocycline 50 MG Oral Capsule", route="oral"),
    Medication(text="Lymecycline 408 MG Oral Capsule"),
    Medication(text="Sarecycline 100 MG Oral Tablet", route="oral"),
)
_INTERACTING_MEDICATIONS = (
    *_TETRACYCLINE_MEDICATIONS,
    Medication(text="St John's Wort 300 MG Oral Tablet"),
    Medication(text="Hypericum perforatum extract 300 MG Oral Capsule"),
    Medication(text="Vitamin A 10000 UNT Oral Capsule"),
    Medication(text="Retinol 25000 UNT Oral Capsule"),
    Medication(text="Progestin-only pill (norethindrone 0.35 MG)"),
    Medication(text="Phenytoin 100 MG Extended Release Oral Capsule"),
    Medication(text="Prednisone 20 MG Oral Tablet", route="oral"),
)
_CONTRAINDICATING_ALLERGIES = (
    *(Allergy(substance=a) for a in Allergen),
    Allergy(coding=Coding(system=SNOMED, code="387208003", display="Isotretinoin")),
)
_CONTRAINDICATING_CONDITIONS = (
    ConditionRecord(codings=(Coding(system=ICD10CM, code="K72.90"),)),
    ConditionRecord(
        codings=(Coding(system=ICD10CM, code="K72.91", display="Hepatic failure with coma"),),
    ),
    ConditionRecord(codings=(Coding(system=SNOMED, code="59927004"),)),
    ConditionRecord(codings=(Coding(system=ICD10CM, code="E67.0"),)),
    ConditionRecord(codings=(Coding(system=SNOMED, code="169750002"),)),
    ConditionRecord(codings=(Coding(system=SNOMED, code="77386006"),)),
)


def additions() -> st.SearchStrategy[Addition]:
    """An edit that makes a contraindication or interaction condition true."""
    back = st.integers(min_value=0, max_value=40)
    return st.one_of(
        st.builds(AddMedication, st.sampled_from(_INTERACTING_MEDICATIONS)),
        st.builds(AddAllergy, st.sampled_from(_CONTRAINDICATING_ALLERGIES)),
        st.builds(AddCondition, st.sampled_from(_CONTRAINDICATING_CONDITIONS)),
        st.just(SetBreastfeeding()),
        st.builds(AddPositiveTest, back, st.sampled_from(list(TestSetting))),
        st.builds(AddPregnantStatus, back),
        st.builds(AddProgestinOnlyPill, st.integers(min_value=0, max_value=120)),
    )


# --- edits: removing a fact ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Remove:
    """Set a top-level fact to its unknown value (``None``, or ``()`` for records of things done)."""

    field: str
    unknown_value: object = None

    def apply(self, f: Facts) -> Facts:
        """The facts without this fact."""
        changes: dict[str, Any] = {self.field: self.unknown_value}
        return replace(f, **changes)


@dataclass(frozen=True, slots=True)
class RemoveAge:
    """Forget the age (birth date and age in years)."""

    def apply(self, f: Facts) -> Facts:
        """The facts without an age."""
        return replace(f, birth_date=None, age_years=None)


@dataclass(frozen=True, slots=True)
class RemoveNested:
    """Set one field of ``acne``, ``attestations`` or ``plan`` to ``None``."""

    group: str
    field: str

    def apply(self, f: Facts) -> Facts:
        """The facts without this nested fact."""
        inner_changes: dict[str, Any] = {self.field: None}
        changes: dict[str, Any] = {self.group: replace(getattr(f, self.group), **inner_changes)}
        return replace(f, **changes)


Removal: TypeAlias = Remove | RemoveAge | RemoveNested

_LIST_FACTS = (
    "pregnancy_status",
    "previous_therapies",
    "previous_courses",
    "medications",
    "allergies",
    "conditions",
    "labs",
    "mood_screens",
    "reported_symptoms",
)
_SCALAR_FACTS = ("weight", "pregnancy_potential", "home_testing_permitted", "breastfeeding")
_DONE_RECORDS = ("pregnancy_tests", "contraception", "counselling", "acknowledgement_forms")
_ACNE_FIELDS = (
    "severity",
    "nodular",
    "nodule_count",
    "scarring",
    "psychosocial_burden",
    "truncal",
    "conglobata",
    "fulminans",
)
_ATTESTATION_FIELDS = (
    "hepatic_insufficiency",
    "excessively_elevated_lipids",
    "hypervitaminosis_a",
    "severe_renal_impairment",
    "open_growth_plates",
    "high_alcohol_intake",
    "family_history_lipid_disorder",
)

REMOVALS: tuple[Removal, ...] = (
    *(Remove(name) for name in _LIST_FACTS + _SCALAR_FACTS),
    *(Remove(name, ()) for name in _DONE_RECORDS),
    Remove("rems", Rems()),
    RemoveAge(),
    *(RemoveNested("acne", name) for name in _ACNE_FIELDS),
    *(RemoveNested("attestations", name) for name in _ATTESTATION_FIELDS),
    RemoveNested("plan", "product"),
    RemoveNested("plan", "contains_soybean_oil"),
)


def removals() -> st.SearchStrategy[Removal]:
    """An edit that removes one fact."""
    return st.sampled_from(REMOVALS)


# --- pregnancy: the latest record says pregnant ---------------------------------------------


def _make_pregnant(s: Scenario, addition: AddPositiveTest | AddPregnantStatus) -> Scenario:
    return replace(s, facts=addition.apply(s.facts, s.as_of))


def pregnant_scenarios() -> st.SearchStrategy[Scenario]:
    """:func:`scenarios` whose latest test (≤ ``as_of``) is positive or latest status pregnant."""
    back = st.integers(min_value=0, max_value=60)
    edit: st.SearchStrategy[AddPositiveTest | AddPregnantStatus] = st.one_of(
        st.builds(AddPositiveTest, back, st.sampled_from(list(TestSetting))),
        st.builds(AddPregnantStatus, back),
    )
    return st.builds(_make_pregnant, scenarios(), edit)


# --- dosing --------------------------------------------------------------------------------

CALLER_STRENGTH_PRODUCTS = frozenset({Product.GENERIC, Product.ZENATANE, Product.EU_UK_GENERIC})


def _dosing(
    f: Facts,
    product: Product,
    caller_strengths: tuple[int, ...] | None,
    as_of: date,
    j: Jurisdiction,
) -> Scenario:
    fitted = fit_product(product, j) or product
    sent = caller_strengths if fitted in CALLER_STRENGTH_PRODUCTS else None
    plan = replace(f.plan, product=fitted, available_strengths_mg=sent)
    return Scenario(shift_dates(replace(f, plan=plan), (as_of - ANCHOR).days), as_of, j)


def dosing_scenarios() -> st.SearchStrategy[Scenario]:
    """A1 varied for the capsule plan: weight 30–200 kg (at most 30 days old), age, acne,
    any marketed product, the caller's strengths where the product takes them, a planned dose
    or a target mg/kg/day, doses a day, and a tartrazine allergy or none.
    """
    plan = st.builds(
        Plan,
        planned_mg_per_day=st.none()
        | st.floats(min_value=5.0, max_value=300.0, allow_nan=False).map(lambda v: round(v, 1)),
        target_mg_per_kg_day=st.none() | st.sampled_from((0.3, 0.4, 0.5, 0.8, 1.0, 1.6, 2.0)),
        doses_per_day=st.none() | st.sampled_from((1, 2)),
    )
    weight = st.builds(
        Weight,
        kg=st.floats(min_value=30.0, max_value=200.0, allow_nan=False)
        | st.sampled_from((30.0, 35.0, 56.0, 60.0, 70.0, 200.0)),
        measured_on=st.none() | st.integers(min_value=0, max_value=30).map(_days_before),
    )
    tartrazine = st.sampled_from(((), (Allergy(substance=Allergen.TARTRAZINE),)))
    varied = st.builds(
        _vary,
        st.just(a1()),
        age_years=st.none() | st.sampled_from((12, 15, 17, 18, 19, 35)),
        weight=weight,
        acne=acne(),
        allergies=tartrazine,
        plan=plan,
    )
    return st.builds(
        _dosing,
        varied,
        st.sampled_from(list(Product)),
        st.none() | strengths(),
        as_of_dates(),
        jurisdictions(),
    )
