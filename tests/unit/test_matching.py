"""Medication matching (RULES §13): system + code, whole-word names, brands, route exclusion."""

from __future__ import annotations

import pytest

from domain.checks.matching import medication_match
from domain.codes import ATC, LOINC, RXNORM, contains_word, value_set
from domain.facts import Coding, Medication
from domain.settings import LocalPolicy
from domain.vocab import MatchBasis
from tests.factories import a1, run, status_of

CDC_RACE = "urn:oid:2.16.840.1.113883.6.238"
ISOTRETINOIN = value_set("isotretinoin")
TETRACYCLINES = value_set("tetracyclines")


def med(text: str | None = None, *codings: Coding, route: str | None = None) -> Medication:
    return Medication(codings=codings, text=text, route=route)


def test_a_code_matches_only_with_its_system() -> None:
    policy = LocalPolicy()
    assert medication_match(med(None, Coding(system=RXNORM, code="3640")), TETRACYCLINES, policy)
    # The same code string in another system is not doxycycline.
    assert (
        medication_match(med(None, Coding(system=LOINC, code="3640")), TETRACYCLINES, policy)
        is None
    )
    # CDC race code 2106-3 shares its string with the urine hCG LOINC code: never a match.
    assert (
        medication_match(med(None, Coding(system=CDC_RACE, code="2106-3")), ISOTRETINOIN, policy)
        is None
    )


def test_the_race_code_collision_never_fires_a_rule() -> None:
    facts = a1(medications=(med(None, Coding(system=CDC_RACE, code="2106-3", display="White")),))
    ev = run(facts)
    assert status_of(ev, "interaction.tetracyclines") is None
    assert ev.decision.value == "start"


def test_atc_class_prefix_matches_the_class() -> None:
    m = medication_match(
        med(None, Coding(system=ATC, code="J01AA08")), TETRACYCLINES, LocalPolicy()
    )
    assert m is not None
    assert m.basis is MatchBasis.CODE


@pytest.mark.parametrize(
    ("text", "basis"),
    [
        ("Doxycycline hyclate 100 MG Oral Tablet", MatchBasis.NAME),
        ("MINOCYCLINE 50mg capsule", MatchBasis.NAME),
        ("Lymecycline 408 MG", MatchBasis.NAME),
    ],
)
def test_names_match_as_whole_words(text: str, basis: MatchBasis) -> None:
    m = medication_match(med(text), TETRACYCLINES, LocalPolicy())
    assert m is not None
    assert m.basis is basis


def test_a_name_inside_another_word_does_not_match() -> None:
    assert not contains_word("Oxytetracyclinex 250", "tetracycline")
    assert medication_match(med("antitetracyclinexyz"), TETRACYCLINES, LocalPolicy()) is None


def test_brands_match_with_basis_brand() -> None:
    m = medication_match(med("Claravis 40 MG Oral Capsule"), ISOTRETINOIN, LocalPolicy())
    assert m is not None
    assert m.basis is MatchBasis.BRAND
    assert m.term == "Claravis"


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("Minocycline 4% topical foam", None),
        ("Doxycycline hyclate 20 MG", "periodontal"),
        ("Tetracycline eye ointment", None),
        ("Minocycline", "cutaneous"),
    ],
)
def test_route_exclusion_for_tetracyclines(text: str, route: str | None) -> None:
    facts = a1(medications=(med(text, route=route),))
    assert status_of(run(facts), "interaction.tetracyclines") is None


def test_finding_records_the_match_basis() -> None:
    ev = run(a1(medications=(med("Doxycycline hyclate 100 MG Oral Tablet", route="oral"),)))
    f = ev.finding("interaction.tetracyclines")
    assert f is not None
    assert f.match_basis is MatchBasis.NAME
    assert "doxycycline" in f.triggers[0]


def test_a_multivitamin_makes_vitamin_a_unknown() -> None:
    ev = run(a1(medications=(med("Multivitamin tablet"),)))
    f = ev.finding("interaction.vitamin-a")
    assert f is not None
    assert f.status.value == "unknown"
    assert any("vitamin A content" in n for n in f.notes)


def test_an_unresolved_medication_is_unknown_not_no_match() -> None:
    ev = run(a1(medications=(Medication(unresolved=True),)))
    assert status_of(ev, "interaction.tetracyclines") == "unknown"
    assert ev.decision.value == "needs-information"  # tetracyclines are gating (RULES §0.4)


def test_a_progestin_ingredient_alone_is_not_a_progestin_only_pill() -> None:
    combined = med("Norethindrone 1 MG / Ethinyl Estradiol 0.035 MG Oral Tablet")
    assert status_of(run(a1(medications=(combined,))), "interaction.progestin-only-pill") is None
    pop = med("Norethindrone 0.35 MG progestin-only pill")
    assert status_of(run(a1(medications=(pop,))), "interaction.progestin-only-pill") == "applies"


def test_local_codes_extend_a_value_set() -> None:
    policy = LocalPolicy.from_mapping(
        {"value_set_additions": {"tetracyclines": [{"system": "urn:local:drugs", "code": "TET-1"}]}}
    )
    local = med(None, Coding(system="urn:local:drugs", code="TET-1"))
    assert medication_match(local, TETRACYCLINES, policy) is not None
    assert medication_match(local, TETRACYCLINES, LocalPolicy()) is None
