"""Reading facts from FHIR R4 (RULES §14).

Resources are checked with ``fhir.resources`` (its R4B models, which read R4 JSON); a resource that
fails is skipped and reported as unreadable, and the rules it would have fed become ``unknown``.
Draft orders are read leniently: the official sandbox sends drafts without ``intent`` or a
medication. A list fact is present when its source was obtained (a Bundle, even an empty one);
a source that is absent, ``null`` or an OperationOutcome leaves the fact absent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medication import Medication as FhirMedication
from fhir.resources.R4B.medicationdispense import MedicationDispense
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from api.cds.clients import Client
from api.schemas.profile import LB_TO_KG
from domain import codes as c
from domain import facts as f
from domain.checks.matching import matched_sets, medication_label, medication_match
from domain.codes import value_set
from domain.context import age_on
from domain.settings import LocalPolicy
from domain.validation import MAX_AGE_YEARS, MAX_WEIGHT_KG, MOOD_MAX_TOTAL
from domain.vocab import (
    Allergen,
    ConditionStatus,
    Jurisdiction,
    MoodInstrument,
    PregnancyPotential,
    PregnancyStatusValue,
    Product,
    TestResult,
    TestSetting,
)

MODELS: dict[str, Any] = {
    "Patient": Patient,
    "Observation": Observation,
    "MedicationRequest": MedicationRequest,
    "MedicationDispense": MedicationDispense,
    "MedicationStatement": MedicationStatement,
    "Condition": Condition,
    "AllergyIntolerance": AllergyIntolerance,
    "Medication": FhirMedication,
}
# FHIR R4 required bindings of ``status`` (checked here: the models do not enforce them).
STATUS_CODES: dict[str, frozenset[str]] = {
    "Observation": frozenset(
        {"registered", "preliminary", "final", "amended", "corrected", "cancelled"}
        | {"entered-in-error", "unknown"}
    ),
    "MedicationRequest": frozenset(
        {"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft"}
        | {"unknown"}
    ),
    "MedicationDispense": frozenset(
        {"preparation", "in-progress", "cancelled", "on-hold", "completed", "entered-in-error"}
        | {"stopped", "declined", "unknown"}
    ),
    "MedicationStatement": frozenset(
        {"active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown"}
        | {"not-taken"}
    ),
}
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
UCUM = "http://unitsofmeasure.org"
FINAL = frozenset({"final", "amended", "corrected"})
TEST_SETTINGS = frozenset(s.value for s in TestSetting)
POTENTIALS = frozenset(p.value for p in PregnancyPotential)
CLIENT_POTENTIAL = "_clientPotential"  # the client's own pregnancy-potential coding (not a key)

PREGNANCY_STATUS = {
    "77386006": PregnancyStatusValue.PREGNANT,
    "60001007": PregnancyStatusValue.NOT_PREGNANT,
    "152231000119106": PregnancyStatusValue.NOT_YET_CONFIRMED,
    "146799005": PregnancyStatusValue.POSSIBLE,
}
MOOD = {
    c.PHQ9_TOTAL: MoodInstrument.PHQ9,
    c.PHQA_TOTAL: MoodInstrument.PHQA,
    c.PHQ2_TOTAL: MoodInstrument.PHQ2,
}

# RULES §13: isotretinoin SCD/SBD codes → strength (mg) and product (§14 "Product").
LD_CODES = {
    "2262729": 8, "2262711": 16, "2262714": 24, "2262721": 28, "2262725": 32,
    "2262731": 8, "2262713": 16, "2262715": 20, "2262719": 24, "2262723": 28,
}  # fmt: skip
ABSORICA_CODES = {"1547567": 35}
GENERIC_CODES = {
    "197843": 10,
    "197844": 20,
    "403930": 30,
    "197845": 40,
    "1547561": 25,
    "1547565": 35,
}
BRANDS = (
    ("Absorica LD", Product.ABSORICA_LD),
    ("Absorica", Product.ABSORICA),
    ("Claravis", Product.CLARAVIS),
    ("Amnesteem", Product.AMNESTEEM),
    ("Myorisan", Product.MYORISAN),
    ("Zenatane", Product.ZENATANE),
)
# Allergy substances by name (RULES §0.6 vocabulary; whole words, case-insensitive).
ALLERGEN_NAMES = (
    (Allergen.ISOTRETINOIN, ("isotretinoin",)),
    (Allergen.VITAMIN_A, ("vitamin A", "retinol")),
    (Allergen.SOY, ("soy", "soya", "soybean", "soybeans")),
    (Allergen.PEANUT, ("peanut", "peanuts")),
    (Allergen.TARTRAZINE, ("tartrazine", "FD&C Yellow No. 5", "yellow 5")),
    (Allergen.PARABEN, ("paraben", "parabens", "methylparaben", "propylparaben")),
)
INTERACTING = ("tetracyclines", "vitamin-a", "st-johns-wort", "progestin-only-pill")


FHIR_ID = re.compile(r"[A-Za-z0-9\-\.]{1,64}")
"""The FHIR ``id`` datatype: the only ``context.patientId`` a URL is built with, and the only id a
card or a problem names."""


def is_fhir_id(value: object) -> bool:
    """Whether ``value`` has the syntax of a FHIR ``id`` (letters, digits, ``-`` and ``.``; 1-64),
    and is not ``.`` or ``..`` (dot segments, which a URL resolves away)."""
    return (
        isinstance(value, str) and FHIR_ID.fullmatch(value) is not None and value not in (".", "..")
    )


def reference(kind: str, resource: dict[str, Any]) -> str:
    """``kind/id`` for naming a resource in a problem; an id that is not a FHIR id is never
    repeated (it is record text of any shape)."""
    rid = resource.get("id")
    if rid is None:
        return f"{kind} without an id"
    return f"{kind}/{rid}" if is_fhir_id(rid) else f"{kind} with an invalid id"


@dataclass
class Problems:
    """What the service could not see or read (for the "Information needed" card)."""

    unavailable: set[str] = field(default_factory=set)
    unreadable: list[str] = field(default_factory=list)


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else ``[]`` (draft orders and fetched data are read
    leniently: a malformed element is ignored, never a crash)."""
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``{}``."""
    return value if isinstance(value, dict) else {}


# Larger than any dose, duration, lab value or reference range; beyond it a value is unreadable.
NUMBER_LIMIT = 1e12


def number(value: Any) -> float | None:
    """A JSON number as a float, or ``None`` for anything else: booleans, strings, NaN,
    infinities and values too large to be a measurement are unreadable, never a crash."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) and abs(result) <= NUMBER_LIMIT else None


def fhir_date(value: Any) -> date | None:
    """A FHIR date or dateTime as the local date as written (never converted to UTC)."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _codings(concept: Any) -> tuple[f.Coding, ...]:
    if not isinstance(concept, dict):
        return ()
    out = []
    for cd in as_list(concept.get("coding")):
        if (
            isinstance(cd, dict)
            and isinstance(cd.get("system"), str)
            and isinstance(cd.get("code"), str)
        ):
            display = cd.get("display")
            out.append(
                f.Coding(
                    system=cd["system"],
                    code=cd["code"],
                    display=display if isinstance(display, str) else None,
                )
            )
    return tuple(out)


def _text(concept: Any) -> str | None:
    return (
        concept.get("text")
        if isinstance(concept, dict) and isinstance(concept.get("text"), str)
        else None
    )


def _label(concept: Any) -> str | None:
    """A concept's text, else the display of its first coding that has one."""
    return _text(concept) or next((x.display for x in _codings(concept) if x.display), None)


def _has_code(concept: Any, system: str, codes: Collection[str]) -> bool:
    return any(cd.system == system and cd.code in codes for cd in _codings(concept))


def _code_in(concept: Any, system: str, codes: Collection[str]) -> str | None:
    """The first code of ``concept`` in ``system`` that is one of ``codes``."""
    return next(
        (cd.code for cd in _codings(concept) if cd.system == system and cd.code in codes), None
    )


def _entries(bundle: dict[str, Any]) -> list[Any]:
    """The ``resource`` of each entry of a Bundle."""
    return [e.get("resource") for e in as_list(bundle.get("entry")) if isinstance(e, dict)]


def resources(value: Any, key: str, problems: Problems) -> list[dict[str, Any]]:
    """The valid resources of a prefetch value (a resource or a searchset Bundle)."""
    if not isinstance(value, dict):
        return []
    items = _entries(value) if value.get("resourceType") == "Bundle" else [value]
    out = []
    for r in items:
        if not isinstance(r, dict):
            continue
        kind = r.get("resourceType")
        model = MODELS.get(kind) if isinstance(kind, str) else None
        if model is None:
            continue  # resources the rules do not read (e.g. OperationOutcome entries)
        try:
            model.model_validate(r)
        except Exception:  # any failure of the models on sent data = unreadable
            # ValidationError mostly; fhir.resources' own validators also raise AttributeError,
            # TypeError or RecursionError on shapes no FHIR server sends.
            problems.unreadable.append(f"{key}: {reference(str(kind), r)} could not be read")
            continue
        allowed = STATUS_CODES.get(str(kind))
        if allowed is not None and r.get("status") not in allowed:
            # fhir.resources does not enforce required code bindings: the status is checked here.
            problems.unreadable.append(f"{key}: {reference(str(kind), r)} has an invalid status")
            continue
        out.append(r)
    return out


@dataclass
class Order:
    """A draft order (MedicationRequest) from the hook's context."""

    reference: str
    selected: bool
    medication: f.Medication
    isotretinoin: bool
    interacting: bool
    raw: dict[str, Any]


@dataclass(frozen=True)
class MedicationSource:
    """The record a medication was read from, for the cards' wording: "the doxycycline order being
    signed", "the active doxycycline prescription from 12 Oct 2026".

    Attributes:
        name: The medication's display or text as written (record text: the cards escape it).
        kind: ``draft-order`` (an order of the hook's ``draftOrders``), ``prescription``
            (MedicationRequest), ``dispensing`` (MedicationDispense) or ``statement``
            (MedicationStatement).
        status: The resource's status as sent (checked against its FHIR value set).
        dated: ``authoredOn``, ``whenHandedOver`` or the statement's effective date.
        selected: For a draft order at ``order-select``: among the ``selections``.
    """

    name: str
    kind: str
    status: str | None = None
    dated: date | None = None
    selected: bool = False


@dataclass
class Record:
    """Everything read from the FHIR data, before the course history is merged.

    ``medication_sources`` names the record of each of ``facts.medications`` (same order), and
    ``exposure_sources`` the isotretinoin records that give exposure.
    """

    facts: f.Facts
    problems: Problems
    exposure: list[str]
    treatment_start_approximate: bool
    orders: list[Order]
    isotretinoin_order: Order | None
    medication_sources: tuple[MedicationSource, ...] = ()
    exposure_sources: tuple[MedicationSource, ...] = ()


def _medication(
    resource: dict[str, Any],
    contained_in: dict[str, Any],
    bundle: dict[str, dict[str, Any]] | None = None,
) -> f.Medication:
    """A MedicationRequest/Dispense/Statement's medication, with ``medicationReference`` resolved
    from contained resources or the draft Bundle (else unresolved: ``unknown``, never "no match")."""
    route = None
    for d in as_list(resource.get("dosageInstruction")) or as_list(resource.get("dosage")):
        if isinstance(d, dict):
            route = _label(d.get("route"))
            break
    concept = resource.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        return f.Medication(codings=_codings(concept), text=_text(concept), route=route)
    ref = as_dict(resource.get("medicationReference")).get("reference")
    if isinstance(ref, str):
        med: dict[str, Any] | None = None
        if ref.startswith("#"):
            med = next(
                (
                    x
                    for x in as_list(contained_in.get("contained"))
                    if isinstance(x, dict) and x.get("id") == ref[1:]
                ),
                None,
            )
        elif bundle is not None:
            med = bundle.get(ref)
        if med is not None:
            codings = list(_codings(med.get("code")))
            for ing in as_list(med.get("ingredient")):
                if isinstance(ing, dict):
                    codings += _codings(ing.get("itemCodeableConcept"))
            return f.Medication(
                codings=tuple(codings),
                text=_text(med.get("code")),
                route=route or _label(med.get("form")),
            )
        return f.Medication(unresolved=True, text=None)
    return f.Medication(unresolved=True)


def _is(med: f.Medication, name: str, policy: LocalPolicy, *, systemic: bool = False) -> bool:
    if med.unresolved:
        return False
    return medication_match(med, value_set(name), policy, systemic_only=systemic) is not None


def is_isotretinoin(med: f.Medication, policy: LocalPolicy) -> bool:
    """RULES §13: isotretinoin by code or name, excluding topical products."""
    return _is(med, "isotretinoin", policy, systemic=True)


def names_other_sets(med: f.Medication, policy: LocalPolicy) -> bool:
    """Whether ``med`` also matches a medication set other than isotretinoin.

    "Doxycycline (with isotretinoin)" is an isotretinoin product for exposure *and* a tetracycline
    for the interaction rule: a medication that names several sets matches all of them.
    """
    return any(name != "isotretinoin" for name in matched_sets(med, policy))


def is_interacting(med: f.Medication, policy: LocalPolicy) -> bool:
    """A tetracycline, vitamin A, St John's Wort or a progestin-only pill."""
    return any(_is(med, vs, policy, systemic=vs == "tetracyclines") for vs in INTERACTING)


def product_of(med: f.Medication, jurisdiction: Jurisdiction) -> Product | None:
    """RULES §14 "Product": by code, else by brand name; unknown when matched by ingredient only."""
    if jurisdiction is not Jurisdiction.US:
        return Product.EU_UK_GENERIC
    for cd in med.codings:
        if cd.system != c.RXNORM:
            continue
        if cd.code in LD_CODES:
            return Product.ABSORICA_LD
        if cd.code in ABSORICA_CODES:
            return Product.ABSORICA
        if cd.code in GENERIC_CODES:
            return Product.GENERIC
    texts = [x.display for x in med.codings if x.display] + ([med.text] if med.text else [])
    for name, product in BRANDS:
        if any(c.contains_word(t, name) for t in texts):
            return product
    return None


def strength_of(med: f.Medication) -> int | None:
    """The capsule strength of an isotretinoin product code (RULES §13)."""
    for cd in med.codings:
        if cd.system == c.RXNORM:
            for table in (LD_CODES, ABSORICA_CODES, GENERIC_CODES):
                if cd.code in table:
                    return table[cd.code]
    return None


PERIOD_DAYS = {"h": 1 / 24, "d": 1.0, "wk": 7.0, "mo": 30.0}
CAPSULE_UNITS = {"{capsule}", "capsule", "capsules", "cap", "{caps}", "{cap}"}


def daily_mg(order: dict[str, Any], strength: int | None) -> float | None:
    """RULES §14 "Daily dose": Σ dose × doses per day; any missing part makes it unknown."""
    total = 0.0
    instructions = [d for d in as_list(order.get("dosageInstruction")) if isinstance(d, dict)]
    if not instructions:
        return None
    for d in instructions:
        rates = [r for r in as_list(d.get("doseAndRate")) if isinstance(r, dict)]
        dose = rates[0].get("doseQuantity") if rates else None
        value = number(as_dict(dose).get("value"))
        if value is None:
            return None
        unit = str(as_dict(dose).get("code") or as_dict(dose).get("unit") or "").strip().lower()
        if unit == "mg":
            mg = value
        elif unit in CAPSULE_UNITS and strength is not None:
            mg = value * strength
        else:
            return None
        repeat = as_dict(as_dict(d.get("timing")).get("repeat"))
        freq, period, period_unit = (
            number(repeat.get("frequency")),
            number(repeat.get("period")),
            repeat.get("periodUnit"),
        )
        if freq is None or period is None or period <= 0:
            return None
        if not isinstance(period_unit, str) or period_unit not in PERIOD_DAYS:
            return None
        total += mg * freq / (period * PERIOD_DAYS[period_unit])
    mg_per_day = number(round(total, 3))  # a tiny period can make the total infinite
    return mg_per_day if mg_per_day is not None and mg_per_day > 0 else None


def supply(order: dict[str, Any], problems: Problems) -> tuple[int | None, int | None]:
    """RULES §14 "Supply": days supplied (d, wk, mo) and refills (absent = 0). A value present
    but not readable is unknown and reported, never read as a default."""
    where = f"draft order {reference('MedicationRequest', order)}"
    request = as_dict(order.get("dispenseRequest"))
    duration = as_dict(request.get("expectedSupplyDuration"))
    days: int | None = None
    value = number(duration.get("value"))
    unit = duration.get("code") or duration.get("unit")
    if value is not None and unit in ("d", "day", "days", "wk", "mo"):
        factor = {"d": 1, "day": 1, "days": 1, "wk": 7, "mo": 30}[unit]
        days = round(value * factor) if value * factor >= 1 else None
    if duration and days is None:
        problems.unreadable.append(f"{where}: the expected supply duration could not be read")
    if "numberOfRepeatsAllowed" not in request:
        return days, 0
    refills = request["numberOfRepeatsAllowed"]
    count = number(refills) if isinstance(refills, int) else None
    if count is None or count < 0:
        problems.unreadable.append(f"{where}: the number of refills could not be read")
        return days, None
    return days, int(count)


def _effective(obs: dict[str, Any]) -> date | None:
    return fhir_date(obs.get("effectiveDateTime")) or fhir_date(
        as_dict(obs.get("effectivePeriod")).get("start")
    )


def _final(obs: dict[str, Any]) -> bool:
    return obs.get("status") in FINAL


def _value_unreadable(obs: dict[str, Any], key: str, problems: Problems) -> None:
    """Report a final Observation whose numeric value is there but no measurement (NaN, an
    infinity, beyond a float, not a number): it is skipped as unknown, and the clinician told."""
    value = as_dict(obs.get("valueQuantity")).get("value", obs.get("valueInteger"))
    if _final(obs) and value is not None and number(value) is None:
        problems.unreadable.append(
            f"{key}: {reference('Observation', obs)} has a value that could not be read"
        )


def _quantity(obs: dict[str, Any]) -> tuple[float, str] | None:
    q = obs.get("valueQuantity")
    value = number(as_dict(q).get("value"))
    if isinstance(q, dict) and value is not None:
        unit = q.get("code") if q.get("system") in (None, UCUM) and q.get("code") else q.get("unit")
        return value, str(unit or "")
    integer = obs.get("valueInteger")
    if isinstance(integer, int) and number(integer) is not None:
        return float(integer), ""
    return None


def _setting(obs: dict[str, Any]) -> TestSetting:
    for comp in as_list(obs.get("component")):
        if isinstance(comp, dict) and _has_code(comp.get("code"), c.ISOCDS, ("test-setting",)):
            for cd in _codings(comp.get("valueCodeableConcept")):
                if cd.system == c.ISOCDS and cd.code in TEST_SETTINGS:
                    return TestSetting(cd.code)
    for cat in as_list(obs.get("category")):
        if any(cd.code == "laboratory" for cd in _codings(cat)):
            return TestSetting.MEDICAL_LAB
    for performer in as_list(obs.get("performer")):
        ref = str(as_dict(performer).get("reference") or "")
        kind = ref.split("/")[0] if "/" in ref else str(as_dict(performer).get("type") or "")
        if kind == "Organization":
            return TestSetting.MEDICAL_LAB
        if kind in ("Practitioner", "PractitionerRole"):
            return TestSetting.MEDICAL_POINT_OF_CARE
        if kind in ("Patient", "RelatedPerson"):
            return TestSetting.HOME
    return TestSetting.UNKNOWN


def _test_result(obs: dict[str, Any]) -> TestResult:
    for concept in [obs.get("valueCodeableConcept"), *as_list(obs.get("interpretation"))]:
        for cd in _codings(concept):
            if cd.system == INTERPRETATION and cd.code in ("POS", "NEG"):
                return TestResult.POSITIVE if cd.code == "POS" else TestResult.NEGATIVE
    q = _quantity(obs)
    if q is not None:
        for rr in as_list(obs.get("referenceRange")):
            high = number(as_dict(as_dict(rr).get("high")).get("value"))
            if high is not None:
                return TestResult.POSITIVE if q[0] > high else TestResult.NEGATIVE
    return TestResult.INDETERMINATE


def observations_facts(
    values: dict[str, Any], client: Client, problems: Problems, as_of: date
) -> dict[str, Any]:
    """The facts the Observation keys give (pregnancy, tests, labs, weight, mood)."""
    out: dict[str, Any] = {}
    keys: tuple[str, ...] = ("pregnancyPotential", "homeTesting", "pregnancyStatus")
    keys += ("pregnancyTests", "lipids", "liver", "weight", "mood")
    by_key = {k: resources(values.get(k), k, problems) if k in values else None for k in keys}
    # RULES §0.5: an Observation dated after as_of is invisible to every rule (and never
    # displaces an earlier one, e.g. the latest weight or home-testing permission).
    by_key = {
        k: None if v is None else [o for o in v if (_effective(o) or date.min) <= as_of]
        for k, v in by_key.items()
    }
    # Pregnancy potential: the most recent, by effective date; a client's own coding counts too.
    potentials: list[tuple[date, PregnancyPotential]] = []
    own_coding = resources(values.get(CLIENT_POTENTIAL), "pregnancyPotential", problems)
    for obs in (by_key["pregnancyPotential"] or []) + own_coding:
        code = obs.get("code")
        own = client.pregnancy_potential_coding
        if not (
            _has_code(code, c.ISOCDS, ("pregnancy-potential",))
            or (own is not None and _has_code(code, own.system, (own.code,)))
        ):
            continue
        when = _effective(obs)
        if when is None or when > as_of or not _final(obs):
            continue
        for cd in _codings(obs.get("valueCodeableConcept")):
            if cd.system == c.ISOCDS and cd.code in POTENTIALS:
                potentials.append((when, PregnancyPotential(cd.code)))
    if potentials:
        out["pregnancy_potential"] = max(potentials, key=lambda p: p[0])[1]
    homes = []
    for obs in by_key["homeTesting"] or []:
        when = _effective(obs)
        if _final(obs) and when is not None and isinstance(obs.get("valueBoolean"), bool):
            homes.append((when, obs["valueBoolean"]))
    out["home_testing_permitted"] = (
        max(homes)[1]
        if homes
        else (
            client.home_testing_permitted_default
            if client.jurisdiction is Jurisdiction.US
            else None
        )
    )
    if by_key["pregnancyStatus"] is not None:
        statuses = []
        for obs in by_key["pregnancyStatus"]:
            when = _effective(obs)
            if not _final(obs) or when is None:
                continue
            for cd in _codings(obs.get("valueCodeableConcept")):
                if cd.system == c.SNOMED and cd.code in PREGNANCY_STATUS:
                    statuses.append(
                        f.PregnancyStatusRecord(recorded_on=when, value=PREGNANCY_STATUS[cd.code])
                    )
        out["pregnancy_status"] = tuple(statuses)
    tests = []
    for obs in by_key["pregnancyTests"] or []:
        when = _effective(obs)
        if not _final(obs) or when is None or not _has_code(obs.get("code"), c.LOINC, c.HCG_LOINCS):
            continue
        tests.append(
            f.PregnancyTest(specimen_date=when, result=_test_result(obs), setting=_setting(obs))
        )
    out["pregnancy_tests"] = tuple(tests)
    if by_key["lipids"] is not None or by_key["liver"] is not None:
        labs = []
        for key in ("lipids", "liver"):
            for obs in by_key[key] or []:
                when = _effective(obs)
                loinc = _code_in(obs.get("code"), c.LOINC, c.LAB_UNITS)
                q = _quantity(obs)
                if q is None:
                    _value_unreadable(obs, key, problems)
                if not _final(obs) or when is None or loinc is None or q is None:
                    continue
                if q[1] not in c.LAB_UNITS[loinc] or q[0] < 0:
                    problems.unreadable.append(
                        f"{key}: {reference('Observation', obs)} has the unit {q[1]!r}"
                    )
                    continue
                uln = None
                if loinc in c.LIVER_LOINCS:
                    for rr in as_list(obs.get("referenceRange")):
                        high = number(as_dict(as_dict(rr).get("high")).get("value"))
                        if high is not None and high > 0:
                            uln = high
                labs.append(
                    f.LabResult(loinc=loinc, value=q[0], unit=q[1], collected_on=when, uln=uln)
                )
        out["labs"] = tuple(labs)
    weights = []
    for obs in by_key["weight"] or []:
        when, q = _effective(obs), _quantity(obs)
        if q is None:
            _value_unreadable(obs, "weight", problems)
        if (
            not _final(obs)
            or when is None
            or q is None
            or not _has_code(obs.get("code"), c.LOINC, (c.BODY_WEIGHT,))
        ):
            continue
        kg = {"kg": q[0], "g": q[0] / 1000, "[lb_av]": q[0] * LB_TO_KG}.get(q[1])
        if kg is None or not 0 < kg <= MAX_WEIGHT_KG:
            problems.unreadable.append(
                f"weight: {reference('Observation', obs)} has an impossible value or the "
                f"unit {q[1]!r}"
            )
            continue
        weights.append((when, kg))
    if weights:
        when, kg = max(weights)
        out["weight"] = f.Weight(kg=kg, measured_on=when)
    if by_key["mood"] is not None:
        screens = []
        for obs in by_key["mood"]:
            when, q = _effective(obs), _quantity(obs)
            loinc = _code_in(obs.get("code"), c.LOINC, MOOD)
            if q is None:
                _value_unreadable(obs, "mood", problems)
            if not _final(obs) or when is None or q is None or loinc is None:
                continue
            instrument = MOOD[loinc]
            if not (q[0].is_integer() and 0 <= q[0] <= MOOD_MAX_TOTAL[instrument]):
                problems.unreadable.append(
                    f"mood: {reference('Observation', obs)} has an impossible total"
                )
                continue
            screens.append(f.MoodScreen(instrument=instrument, total=int(q[0]), screened_on=when))
        out["mood_screens"] = tuple(screens)
    return out


def _condition_status(cond: dict[str, Any]) -> ConditionStatus | None:
    verification = {cd.code for cd in _codings(cond.get("verificationStatus"))}
    if verification & {"refuted", "entered-in-error"}:
        return None
    clinical = {cd.code for cd in _codings(cond.get("clinicalStatus"))}
    if clinical & {"inactive", "remission", "resolved"}:
        return ConditionStatus.HISTORY
    return ConditionStatus.CURRENT


def _allergy(resource: dict[str, Any], policy: LocalPolicy) -> f.Allergy | None:
    clinical = {cd.code for cd in _codings(resource.get("clinicalStatus"))}
    verification = {cd.code for cd in _codings(resource.get("verificationStatus"))}
    if clinical & {"inactive", "resolved"} or verification & {"refuted", "entered-in-error"}:
        return None
    concept = resource.get("code")
    codings = _codings(concept)
    med = f.Medication(codings=codings, text=_text(concept))
    if is_isotretinoin(med, policy):
        return f.Allergy(substance=Allergen.ISOTRETINOIN)
    texts = [x.display for x in codings if x.display] + ([med.text] if med.text else [])
    for substance, names in ALLERGEN_NAMES:
        if any(c.contains_word(t, n) for t in texts for n in names):
            return f.Allergy(substance=substance)
    return f.Allergy(coding=codings[0]) if codings else None


def birth_date(patient: Any, as_of: date, problems: Problems) -> date | None:
    """``Patient.birthDate``; a partial date (``YYYY`` or ``YYYY-MM``) gives the youngest age it
    allows (the conservative reading). One after ``as_of`` or giving an age over
    ``MAX_AGE_YEARS`` is reported unreadable."""
    raw = as_dict(patient).get("birthDate")
    if not isinstance(raw, str):
        return None
    try:
        if len(raw) == 10:
            birth = date.fromisoformat(raw)
        elif len(raw) in (4, 7):
            year = int(raw[:4])
            month = int(raw[5:7]) if len(raw) == 7 else 12
            birth = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
        else:
            raise ValueError(raw)
    except (ValueError, OverflowError):
        birth = None
    if birth is None or birth > as_of or age_on(birth, as_of) > MAX_AGE_YEARS:
        problems.unreadable.append("patient: the birth date could not be read")
        return None
    return birth


def read_record(
    values: dict[str, Any],
    problems: Problems,
    *,
    client: Client,
    policy: LocalPolicy,
    as_of: date,
    draft_orders: Any,
    selections: list[str],
    exposure_days: int,
) -> Record:
    """The facts of a CDS Hooks call's data (RULES §14), its exposure and its orders."""
    birth = birth_date(values.get("patient"), as_of, problems)
    obs = observations_facts(values, client, problems, as_of)
    bundle_index: dict[str, dict[str, Any]] = {}
    entries = _entries(as_dict(draft_orders))
    for r in entries:
        if isinstance(r, dict) and r.get("resourceType") and r.get("id"):
            bundle_index[f"{r['resourceType']}/{r['id']}"] = r
    meds: list[f.Medication] | None = []
    sources: list[MedicationSource] = []
    exposure: list[str] = []
    exposed: list[MedicationSource] = []
    starts: list[tuple[date, bool]] = []
    horizon = as_of - timedelta(days=exposure_days)
    for key, kind, dated, said in (
        ("medRequests", "MedicationRequest", "authoredOn", "prescription"),
        ("medDispenses", "MedicationDispense", "whenHandedOver", "dispensing"),
        ("medStatements", "MedicationStatement", None, "statement"),  # effective[x]
    ):
        if key not in values:
            if key != "medDispenses":
                meds = None
            continue
        for r in resources(values[key], key, problems):
            if r.get("resourceType") != kind:
                continue
            med = _medication(r, r)
            status = r.get("status")
            iso = is_isotretinoin(med, policy)
            when = _effective(r) if dated is None else fhir_date(r.get(dated))
            if when is not None and when > as_of:
                continue  # dated after as_of: invisible to every rule (RULES §0.5)
            source = MedicationSource(
                medication_label(med), said, status if isinstance(status, str) else None, when
            )
            if iso:
                gives = len(exposure)
                if kind == "MedicationRequest" and status in ("active", "on-hold"):
                    exposure.append(f"{kind}/{r.get('id')} is {status}")
                if when is not None and horizon <= when <= as_of:
                    exposure.append(f"{kind}/{r.get('id')} dated {when}")
                if len(exposure) > gives:
                    exposed.append(source)
                if (
                    when is not None
                    and when <= as_of
                    and not (kind == "MedicationRequest" and status == "draft")
                ):
                    starts.append((when, kind == "MedicationRequest"))
                if not names_other_sets(med, policy):
                    continue
            current = (kind == "MedicationRequest" and status in ("active", "on-hold")) or (
                kind == "MedicationStatement" and status == "active"
            )
            if current and meds is not None:
                meds.append(med)
                sources.append(source)
    conditions: list[f.ConditionRecord] | None = None
    if "conditions" in values:
        conditions = []
        for r in resources(values["conditions"], "conditions", problems):
            status = _condition_status(r)
            if status is not None:
                conditions.append(
                    f.ConditionRecord(
                        codings=_codings(r.get("code")), text=_text(r.get("code")), status=status
                    )
                )
    # Breastfeeding: true from a current Condition coded 169750002; otherwise unknown (RULES §14).
    breastfeeding = (
        True
        if conditions
        and any(
            x.status is ConditionStatus.CURRENT
            and any(cd.system == c.SNOMED and cd.code == "169750002" for cd in x.codings)
            for x in conditions
        )
        else None
    )
    allergies: list[f.Allergy] | None = None
    if "allergies" in values:
        allergies = [
            a
            for r in resources(values["allergies"], "allergies", problems)
            if (a := _allergy(r, policy))
        ]
    orders: list[Order] = []
    for r in entries:
        if not isinstance(r, dict) or r.get("resourceType") != "MedicationRequest":
            continue
        ref = f"MedicationRequest/{r.get('id')}"
        med = _medication(r, r, bundle_index)
        orders.append(
            Order(
                reference=ref,
                selected=ref in selections,
                medication=med,
                isotretinoin=is_isotretinoin(med, policy),
                interacting=is_interacting(med, policy),
                raw=r,
            )
        )
    iso_orders = [o for o in orders if o.isotretinoin]
    chosen = next((o for o in iso_orders if o.selected), iso_orders[0] if iso_orders else None)
    if meds is not None:
        for o in orders:
            if not o.isotretinoin or names_other_sets(o.medication, policy):
                meds.append(o.medication)
                sources.append(
                    MedicationSource(
                        medication_label(o.medication),
                        "draft-order",
                        o.raw.get("status") if isinstance(o.raw.get("status"), str) else None,
                        fhir_date(o.raw.get("authoredOn")),
                        o.selected,
                    )
                )
    first = min(starts, default=None)
    start, approximate = first if first is not None else (None, False)
    facts = f.Facts(
        birth_date=birth,
        weight=obs.get("weight"),
        pregnancy_potential=obs.get("pregnancy_potential"),
        pregnancy_status=obs.get("pregnancy_status"),
        pregnancy_tests=obs.get("pregnancy_tests", ()),
        home_testing_permitted=obs.get("home_testing_permitted"),
        breastfeeding=breastfeeding,
        medications=None if meds is None else tuple(meds),
        allergies=None if allergies is None else tuple(allergies),
        conditions=None if conditions is None else tuple(conditions),
        labs=obs.get("labs"),
        mood_screens=obs.get("mood_screens"),
        treatment_start_date=start,
    )
    return Record(
        facts=facts,
        problems=problems,
        exposure=exposure,
        treatment_start_approximate=approximate,
        orders=orders,
        isotretinoin_order=chosen,
        medication_sources=tuple(sources) if meds is not None else (),
        exposure_sources=tuple(exposed),
    )
