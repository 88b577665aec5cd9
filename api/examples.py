"""Request examples for the OpenAPI document; each works when sent (a test sends them)."""

from __future__ import annotations

from typing import Any

# Vignette A1 (US textbook start), the complete profile.
A1_PROFILE: dict[str, Any] = {
    "age_years": 19,
    "weight": {"value": 60, "unit": "kg", "measured_on": "2026-02-27"},
    "pregnancy_potential": {"category": "can-become-pregnant"},
    "pregnancy_status": [],
    "pregnancy_tests": [
        {"specimen_date": "2026-02-06", "result": "negative", "setting": "medical-point-of-care"},
        {
            "specimen_date": "2026-02-27",
            "result": "negative",
            "setting": "medical-lab",
            "clia_certified": True,
        },
    ],
    "breastfeeding": False,
    "acne": {
        "severity": "severe",
        "nodular": True,
        "nodule_count": 8,
        "scarring": False,
        "psychosocial_burden": False,
        "truncal": False,
        "conglobata": False,
        "fulminans": False,
    },
    "previous_therapies": [
        {
            "therapy_class": "oral-antibiotic",
            "ingredient": "doxycycline",
            "start": "2025-10-20",
            "end": "2026-01-20",
            "response": "none",
        },
        {
            "therapy_class": "topical",
            "ingredient": "adapalene + benzoyl peroxide",
            "start": "2025-10-20",
            "end": "2026-01-20",
            "response": "none",
        },
    ],
    "previous_courses": [],
    "medications": [],
    "allergies": [],
    "conditions": [],
    "labs": [
        {
            "loinc": "2571-8",
            "value": 120,
            "unit": "mg/dL",
            "collected_on": "2026-02-20",
            "fasting": True,
        },
        {
            "loinc": "1742-6",
            "value": 22,
            "unit": "U/L",
            "collected_on": "2026-02-20",
            "fasting": True,
            "uln": 40,
        },
    ],
    "mood_screens": [{"instrument": "phq-9", "total": 3, "item_9": 0, "screened_on": "2026-02-27"}],
    "contraception": [
        {"method": "combined-pill", "start_date": "2026-01-15"},
        {"method": "male-condom", "start_date": "2026-01-15"},
    ],
    "counselling": [{"topic": "pregnancy-prevention", "given_on": "2026-02-06"}],
    "rems": {"enrolled_on": "2026-02-06", "monthly_confirmation_on": "2026-02-27"},
    "acknowledgement_forms": [],
    "reported_symptoms": [],
    "attestations": {},
}

A1_REQUEST: dict[str, Any] = {
    "jurisdiction": "US",
    "as_of": "2026-03-01",
    "profile": A1_PROFILE,
    "plan": {
        "product": "generic",
        "planned_mg_per_day": 60,
        "planned_days_supply": 30,
        "planned_refills": 0,
    },
}

ASSESSMENT_EXAMPLES: dict[str, Any] = {
    "a1": {
        "summary": "A1: textbook start (US)",
        "description": "19 years, can become pregnant, severe nodular acne after failed doxycycline; every "
        "iPLEDGE step recorded. Decision `start`.",
        "value": A1_REQUEST,
    },
    "minimal": {
        "summary": "A7: not enough information",
        "description": "Only age and severity: decision `needs-information`; nothing says the patient is cleared.",
        "value": {
            "jurisdiction": "US",
            "as_of": "2026-03-01",
            "profile": {"age_years": 25, "acne": {"severity": "severe"}},
        },
    },
}

CHECKLIST_EXAMPLES: dict[str, Any] = {
    "follow-up": {
        "summary": "A follow-up visit (US)",
        "value": {
            "jurisdiction": "US",
            "as_of": "2026-03-01",
            "visit_type": "follow-up",
            "profile": {**A1_PROFILE, "treatment_start_date": "2026-02-01"},
            "plan": {"product": "generic"},
        },
    },
}

DOSING_EXAMPLES: dict[str, Any] = {
    "e1": {
        "summary": "E1: Claravis, 70 kg, 1 mg/kg/day",
        "description": "70 mg/day as 40 mg + 30 mg; cumulative target 8,400–10,500 mg.",
        "value": {
            "jurisdiction": "US",
            "as_of": "2026-03-01",
            "weight": {"value": 70, "unit": "kg"},
            "product": "claravis",
            "target_mg_per_kg_day": 1.0,
            "age_years": 24,
        },
    },
    "eu": {
        "summary": "EU generic with the strengths in stock",
        "value": {
            "jurisdiction": "EU",
            "as_of": "2026-03-01",
            "weight": {"value": 64, "unit": "kg"},
            "product": "eu-uk-generic",
            "target_mg_per_kg_day": 0.5,
            "available_strengths_mg": [10, 20],
        },
    },
}
