"""The rule catalogue, built from the settings in force (never at import).

Dates that are settings (the ``ipledge-2026`` epoch) and ``local-policy`` numbers enter here, and
the catalogue hash covers them together with every rule, variant and value set.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from typing import Any

from domain.catalog import (
    contraindications,
    counselling,
    documentation,
    dosing,
    indication,
    interactions,
    labs,
    monitoring,
    precautions,
    stop,
)
from domain.catalog._build import Epochs
from domain.codes import medication_vocabulary, value_sets
from domain.rules import Catalog, make_catalog
from domain.settings import EvaluationSettings

# 2026.2: the RULES amendments of §0.4 (retreatment gating), §0.5 (records after as_of), §6
# (oxytetracycline), §7 (a recent positive item 9), §13 (brands, synonyms, progestin-only
# products, topical exclusions, unrecognised medications) and §15 (course views).
RULESET_VERSION = "2026.2"


def _fingerprint(settings: EvaluationSettings) -> dict[str, Any]:
    return {
        "ipledge_2026_effective": settings.ipledge_2026_effective.isoformat(),
        "lab_profile_us": settings.lab_profile_us.value,
        "eu_post_therapy_test": settings.eu_post_therapy_test.value,
        "local_policy": asdict(settings.local_policy),
        "value_sets": [repr(v) for v in value_sets()],
        "route_exclusion": [
            medication_vocabulary().route_words,
            medication_vocabulary().route_products,
        ],
    }


@lru_cache(maxsize=16)
def build_catalog(settings: EvaluationSettings) -> Catalog:
    """Build and validate the catalogue for these settings (cached per settings value).

    Raises:
        CatalogError: the rules break an invariant (see :func:`domain.rules.validate_rules`).
    """
    epochs = Epochs(settings.ipledge_2026_effective)
    rules = [
        *indication.rules(),
        *contraindications.rules(epochs),
        *interactions.rules(),
        *precautions.rules(settings.local_policy),
        *dosing.rules(),
        *monitoring.rules(epochs, settings),
        *labs.rules(settings.local_policy),
        *stop.rules(),
        *counselling.rules(),
        *documentation.rules(epochs),
    ]
    return make_catalog(RULESET_VERSION, rules, _fingerprint(settings))
