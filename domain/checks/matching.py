"""Matching medications, conditions and allergies to value sets (RULES §13).

A medication matches a value set by (system, code), else by a whole word of its display or text:
an ingredient name or synonym (basis ``name``), a brand (basis ``brand``), or, for the
progestin-only pills, an ingredient **and** a strength. Text is compared after
:func:`domain.codes.normalise_text`. A medication may match several sets ("doxycycline (with
isotretinoin)" is both); each rule asks about its own set. A medication that matches none of the
medication sets and is not known to be unrelated is *unrecognised* (:func:`unrecognised`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.codes import (
    StrengthProduct,
    ValueSet,
    contains_word,
    medication_vocabulary,
    normalise_text,
)
from domain.facts import Coding, ConditionRecord, Medication
from domain.settings import LocalPolicy
from domain.vocab import MatchBasis, Verification


@dataclass(frozen=True, slots=True)
class Match:
    """How a medication matched a value set.

    Attributes:
        basis: ``code``, ``name`` or ``brand``.
        term: The code (``system|code``) or the word that matched.
        verification: The verification of a matched code (names: ``primary``).
    """

    basis: MatchBasis
    term: str
    verification: Verification = Verification.PRIMARY


def _texts(med: Medication) -> list[str]:
    texts = [c.display for c in med.codings if c.display]
    if med.text:
        texts.append(med.text)
    return texts


def code_match(
    codings: tuple[Coding, ...], value_set: ValueSet, policy: LocalPolicy
) -> Match | None:
    """A (system, code) match against the value set and the deployment's additions."""
    added = policy.additions(value_set.name)
    for coding in codings:
        for entry in value_set.entries:
            if entry.matches(coding.system, coding.code):
                return Match(MatchBasis.CODE, f"{coding.system}|{coding.code}", entry.verification)
        if (coding.system, coding.code) in added:
            return Match(MatchBasis.CODE, f"{coding.system}|{coding.code}")
    return None


_STRENGTH = re.compile(
    r"(?<![\w.])(\d+(?:[.,]\d+)?)\s*(mg|milligrams?|mcg|µg|μg|ug|micrograms?)(?![^\W_])"
)
_TO_MG = {"mg": 1.0, "milligram": 1.0, "milligrams": 1.0}


def strengths_mg(text: str) -> list[float]:
    """Every strength written in ``text`` (mg, mcg/µg/ug/micrograms), in mg."""
    found = []
    for number, unit in _STRENGTH.findall(normalise_text(text)):
        value = float(number.replace(",", "."))
        found.append(value * _TO_MG.get(unit, 0.001))
    return found


def _strength_product(text: str, product: StrengthProduct) -> bool:
    if not any(contains_word(text, n) for n in (product.ingredient, *product.synonyms)):
        return False
    return any(abs(s - want) < 1e-9 for s in strengths_mg(text) for want in product.strengths_mg)


def name_match(texts: list[str], value_set: ValueSet, policy: LocalPolicy) -> Match | None:
    """A whole-word match of a name or synonym, then of a brand, then of a strength product."""
    for text in texts:
        for name in value_set.names:
            if contains_word(text, name):
                return Match(MatchBasis.NAME, name)
    brands = (*value_set.brands, *policy.brands(value_set.name))
    for text in texts:
        for brand in brands:
            if contains_word(text, brand):
                return Match(MatchBasis.BRAND, brand)
    if not value_set.products or any(
        contains_word(t, n) for t in texts for n in value_set.combined_with
    ):
        return None  # no strength products, or a combined product (never a progestin-only one)
    for text in texts:
        for product in value_set.products:
            if _strength_product(text, product):
                return Match(MatchBasis.NAME, product.ingredient)
    return None


def is_non_systemic(med: Medication) -> bool:
    """Topical, cutaneous, ophthalmic, periodontal (and similar) products (route exclusion).

    The route, the dose form or the text names a route word, or the product is one of the
    topical or periodontal products of the data file.
    """
    vocabulary = medication_vocabulary()
    texts = [*_texts(med), med.route or ""]
    return any(
        contains_word(t, w)
        for t in texts
        for w in (*vocabulary.route_words, *vocabulary.route_products)
    )


def _is_excluded_product(med: Medication) -> bool:
    products = medication_vocabulary().route_products
    return any(contains_word(t, p) for t in _texts(med) for p in products)


def medication_match(
    med: Medication,
    value_set: ValueSet,
    policy: LocalPolicy,
    *,
    systemic_only: bool = False,
    topical_only: bool = False,
) -> Match | None:
    """Match one medication by code, then name, then brand; apply the route rule asked for."""
    if systemic_only and is_non_systemic(med):
        return None
    if topical_only and med.route and not is_non_systemic(med):
        return None
    return code_match(med.codings, value_set, policy) or name_match(_texts(med), value_set, policy)


def matched_sets(med: Medication, policy: LocalPolicy) -> tuple[str, ...]:
    """The medication value sets ``med`` matches, by code or words, whatever its route."""
    return tuple(
        vs.name
        for vs in medication_vocabulary().value_sets
        if medication_match(med, vs, policy) is not None
    )


def unrecognised(med: Medication, policy: LocalPolicy) -> bool:
    """RULES §13: a medication the service could not classify.

    It matches no medication set by code, name, synonym or brand, is not one of the topical or
    periodontal products the route exclusion names, and names none of the deployment's
    ``unrelated_medication_names``. A medication whose reference could not be resolved is not
    listed here: it is already an ``unknown`` input of every medication rule.
    """
    if med.unresolved or matched_sets(med, policy) or _is_excluded_product(med):
        return False
    return not any(
        contains_word(t, n) for t in _texts(med) for n in policy.unrelated_medication_names
    )


def medication_label(med: Medication) -> str:
    """A short name for a medication, for the finding's triggering facts."""
    texts = _texts(med)
    if texts:
        return texts[-1]
    if med.codings:
        c = med.codings[0]
        return f"{c.system}|{c.code}"
    return "unnamed medication"


def condition_matches(cond: ConditionRecord, value_set: ValueSet, policy: LocalPolicy) -> bool:
    """A condition matches on (system, code), or by name when the value set has names."""
    if code_match(cond.codings, value_set, policy) is not None:
        return True
    texts = [c.display for c in cond.codings if c.display]
    if cond.text:
        texts.append(cond.text)
    return any(contains_word(t, n) for t in texts for n in value_set.names)
