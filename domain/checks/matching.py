"""Matching medications, conditions and allergies to value sets (RULES §13)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.codes import NON_SYSTEMIC_WORDS, ValueSet, contains_word
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


def name_match(texts: list[str], value_set: ValueSet) -> Match | None:
    """A whole-word, case-insensitive match of an ingredient name, then of a brand name."""
    for text in texts:
        for name in value_set.names:
            if contains_word(text, name):
                return Match(MatchBasis.NAME, name)
    for text in texts:
        for brand in value_set.brands:
            if contains_word(text, brand):
                return Match(MatchBasis.BRAND, brand)
    return None


def is_non_systemic(med: Medication) -> bool:
    """Topical, cutaneous, ophthalmic, periodontal (and similar) products (route exclusion)."""
    texts = [*_texts(med), med.route or ""]
    return any(contains_word(t, w) for t in texts for w in NON_SYSTEMIC_WORDS)


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
    return code_match(med.codings, value_set, policy) or name_match(_texts(med), value_set)


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
