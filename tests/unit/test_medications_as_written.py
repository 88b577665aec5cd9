"""Medications as clinicians and EHRs write them (RULES §13, §6): brands, synonyms, normalisation.

Each brand family of the catalogue's medication data is matched at least once (US and EU/UK
names), so are the synonyms; topical and periodontal products match nothing; a progestin-only
pill is recognised by ingredient and strength, a combined pill is not; an unknown drug is listed
under ``unrecognised_medications`` and changes no decision; a code of another system never
matches; text is normalised before matching; a text naming two sets matches both.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain.catalog import _fingerprint as catalog_fingerprint
from domain.catalog import build_catalog
from domain.checks.matching import matched_sets, medication_match, strengths_mg, unrecognised
from domain.codes import (
    ATC,
    LOINC,
    RXNORM,
    medication_vocabulary,
    normalise_text,
    value_set,
)
from domain.errors import PolicyError
from domain.facts import Coding, Medication
from domain.settings import EvaluationSettings, LocalPolicy
from domain.vocab import Decision, MatchBasis
from tests.factories import a1, a1_eu, run, status_of

POLICY = LocalPolicy()


def med(text: str | None = None, *codings: Coding, route: str | None = None) -> Medication:
    return Medication(codings=codings, text=text, route=route)


TETRACYCLINE_BRANDS = [
    # doxycycline
    ("Vibramycin 100 mg capsules", "doxycycline"),
    ("Vibra-Tabs 100 mg", "doxycycline"),
    ("Doryx MPC 120 mg delayed-release tablet", "doxycycline"),
    ("Acticlate 75 mg", "doxycycline"),
    ("Targadox 50 mg", "doxycycline"),
    ("Monodox 100mg", "doxycycline"),
    ("Oracea 40 mg capsule", "doxycycline"),
    ("Efracea 40 mg modified-release capsules", "doxycycline"),
    ("Periostat 20 mg tablet", "doxycycline"),
    ("Lymepak 100 mg", "doxycycline"),
    ("Doxylar 100 mg", "doxycycline"),
    # minocycline
    ("Minocin MR 100 mg", "minocycline"),
    ("Solodyn 105 mg extended-release", "minocycline"),
    ("Ximino 90 mg", "minocycline"),
    ("Dynacin 100mg", "minocycline"),
    ("CoreMino 45 mg", "minocycline"),
    ("Sebomin MR 100mg", "minocycline"),
    ("Aknemin 100 mg", "minocycline"),
    ("Acnamino MR", "minocycline"),
    # the others
    ("Sumycin 250 mg", "tetracycline"),
    ("Deteclo tablets", "tetracycline"),
    ("Terramycin 250 mg", "oxytetracycline"),
    ("Oxytetracycline 250 mg tablets", "oxytetracycline"),
    ("Declomycin 150 mg", "demeclocycline"),
    ("Ledermycin 150 mg", "demeclocycline"),
    ("Tetralysal 300 mg capsules", "lymecycline"),
    ("Seysara 100 mg", "sarecycline"),
    ("Nuzyra 150 mg", "omadacycline"),
    ("Xerava 50 mg vial", "eravacycline"),
    ("Tygacil 50 mg", "tigecycline"),
]


@pytest.mark.parametrize(("text", "ingredient"), TETRACYCLINE_BRANDS)
def test_every_tetracycline_brand_family_fires_the_interaction(text: str, ingredient: str) -> None:
    m = medication_match(med(text), value_set("tetracyclines"), POLICY, systemic_only=True)
    assert m is not None, text
    # The data file names the brand under this ingredient.
    family = next(i for i in value_set("tetracyclines").ingredients if i.name == ingredient)
    assert m.term in (family.name, *family.brands)
    ev = run(a1(medications=(med(text, route="oral"),)))
    assert status_of(ev, "interaction.tetracyclines") == "applies"
    assert ev.decision is not Decision.START
    eu = run(a1_eu(medications=(med(text, route="oral"),)), jurisdiction="EU")
    f = eu.finding("interaction.tetracyclines")
    assert f is not None
    assert f.severity.value == "critical"
    assert eu.decision is Decision.DO_NOT_START


def test_oxytetracycline_was_missed_before_and_is_matched_by_name() -> None:
    m = medication_match(med("Oxytetracycline 250mg"), value_set("tetracyclines"), POLICY)
    assert m is not None
    assert m.basis is MatchBasis.NAME
    assert m.term == "oxytetracycline"


@pytest.mark.parametrize(
    "text",
    [
        "Absorica 30 mg",
        "Absorica LD 16 mg",
        "Accutane 20mg",
        "Amnesteem 40 mg",
        "Claravis 10 mg",
        "Myorisan 30 mg",
        "Zenatane 20 mg",
        "Sotret 20 mg",
        "Roaccutane 20 mg capsules",
        "Ciscutan 10 mg",
        "Aknenormin 20 mg",
        "Curacné 20 mg",
        "CURACNE 20 MG",
        "Contracné 10 mg",
        "Procuta 20 mg",
    ],
)
def test_isotretinoin_brands_us_and_eu_uk(text: str) -> None:
    m = medication_match(med(text), value_set("isotretinoin"), POLICY, systemic_only=True)
    assert m is not None
    assert m.basis is MatchBasis.BRAND


def test_absorica_ld_is_reported_rather_than_absorica() -> None:
    m = medication_match(med("Absorica LD 32 mg"), value_set("isotretinoin"), POLICY)
    assert m is not None
    assert m.term == "Absorica LD"


@pytest.mark.parametrize(
    "text",
    [
        "Retinyl palmitate 10,000 IU",
        "retinyl acetate capsules",
        "Vitamin A palmitate 15000 units",
        "vitamin A acetate",
        "Retinol 25,000 IU",
        "Aquasol A injection",
    ],
)
def test_vitamin_a_synonyms_and_brand(text: str) -> None:
    assert status_of(run(a1(medications=(med(text),))), "interaction.vitamin-a") == "applies"


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("Isotrex 0.05% gel", None),
        ("Isotrexin gel", None),
        ("Isotrex", None),
        ("Amzeeq", None),
        ("Amzeeq (minocycline) 4%", None),
        ("Zilxi minocycline", None),
        ("Arestin 1 mg minocycline microspheres", None),
        ("Atridox doxycycline", None),
        ("Doxycycline 10% gel", "periodontal"),
    ],
)
def test_topical_and_periodontal_products_match_nothing(text: str, route: str | None) -> None:
    m = med(text, route=route)
    assert medication_match(m, value_set("tetracyclines"), POLICY, systemic_only=True) is None
    assert medication_match(m, value_set("isotretinoin"), POLICY, systemic_only=True) is None
    ev = run(a1(medications=(m,)))
    assert status_of(ev, "interaction.tetracyclines") is None
    assert ev.decision is Decision.START
    # A named topical product is known, not "unrecognised".
    assert ev.unrecognised_medications == ()


@pytest.mark.parametrize(
    "text",
    [
        "Norethindrone 0.35 MG Oral Tablet",
        "norethisterone 350 micrograms tablets",
        "Norethisterone 350 µg",
        "Drospirenone 4 mg tablet",
        "Norgestrel 0.075 mg (Opill)",
        "Desogestrel 75 microgram tablets",
        "Desogestrel 75mcg",
        "Levonorgestrel 30 ug tablet",
        "Camila",
        "Errin 0.35 mg",
        "Slynd",
        "Cerazette",
        "Cerelle 75 microgram",
        "Noriday",
        "Norgeston",
        "Hana 75 microgram",
    ],
)
def test_progestin_only_pills_by_ingredient_and_strength_or_brand(text: str) -> None:
    ev = run(a1(medications=(med(text),)))
    assert status_of(ev, "interaction.progestin-only-pill") == "applies", text


@pytest.mark.parametrize(
    "text",
    [
        "Norethindrone 1 MG / Ethinyl Estradiol 0.035 MG Oral Tablet",
        "norethindrone 0.35 mg / ethinyl estradiol",  # combined: never a POP
        "Drospirenone 3 mg / ethinylestradiol 0.02 mg",
        "Drospirenone 3 mg / estetrol 14.2 mg",
        "Levonorgestrel 1.5 mg",  # emergency contraception strength
        "Desogestrel 150 microgram / ethinylestradiol 20 microgram",
        "norethindrone",  # an ingredient without a strength is not a product
    ],
)
def test_combined_pills_and_other_strengths_are_not_progestin_only(text: str) -> None:
    assert status_of(run(a1(medications=(med(text),))), "interaction.progestin-only-pill") is None


def test_strengths_are_read_in_mg() -> None:
    assert strengths_mg("Norethisterone 350 µg") == [pytest.approx(0.35)]
    assert strengths_mg("desogestrel 75 micrograms") == [pytest.approx(0.075)]
    assert strengths_mg("drospirenone 4mg") == [pytest.approx(4.0)]
    assert strengths_mg("levonorgestrel 0,03 mg") == [pytest.approx(0.03)]


def test_an_unknown_drug_is_listed_and_changes_no_decision() -> None:
    unknown_drug = med("Zorblaxin 10 mg tablet")
    ev = run(a1(medications=(unknown_drug,)))
    assert ev.unrecognised_medications == ("Zorblaxin 10 mg tablet",)
    assert ev.decision is Decision.START
    assert run(a1(medications=())).decision is Decision.START
    assert unrecognised(unknown_drug, POLICY)


def test_recognised_medications_are_not_listed() -> None:
    meds = (
        med("Doxycycline 100 mg"),
        med("Prednisolone 5 mg"),
        med("Phenytoin 100 mg"),
        med("Multivitamin tablet"),
        med(None, Coding(system=RXNORM, code="3640")),
        Medication(unresolved=True),  # already an unknown input, not listed again
    )
    assert run(a1(medications=meds)).unrecognised_medications == ()


def test_a_code_from_another_system_never_matches() -> None:
    # RxNorm doxycycline 3640 as a LOINC or local code, ATC J01AA as a SNOMED code.
    for coding in (
        Coding(system=LOINC, code="3640"),
        Coding(system="urn:oid:2.16.840.1.113883.6.238", code="3640"),
        Coding(system="http://snomed.info/sct", code="J01AA02"),
        Coding(system=RXNORM.upper(), code="3640"),
    ):
        m = med(None, coding)
        assert medication_match(m, value_set("tetracyclines"), POLICY) is None
        ev = run(a1(medications=(m,)))
        assert status_of(ev, "interaction.tetracyclines") is None
        assert len(ev.unrecognised_medications) == 1
    assert medication_match(
        med(None, Coding(system=ATC, code="J01AA06")), value_set("tetracyclines"), POLICY
    )


@pytest.mark.parametrize(
    "text",
    [
        "DOXYCYCLİNE 100 MG",  # Turkish dotted capital I
        "ｄｏｘｙｃｙｃｌｉｎｅ 100 mg",  # full-width letters
        "doxy\u200bcycline 100 mg",  # zero-width space
        "doxy\u00adcycline",  # soft hyphen
        "Doxy\u200dcycline\u2060 100 mg",  # zero-width joiner, word joiner
        "DOXYCYCLINE\u0007 hyclate",  # a control character
        "VIBRAMYCIN",
        "vibramycin",
        "MiNoCiN mr",
    ],
)
def test_text_is_normalised_before_matching(text: str) -> None:
    ev = run(a1(medications=(med(text),)))
    assert status_of(ev, "interaction.tetracyclines") == "applies", repr(text)


def test_normalisation_does_not_join_words_across_control_characters() -> None:
    assert normalise_text("a\nb") == "a b"
    assert normalise_text("ＡＢＣ") == "abc"


def test_a_text_naming_two_sets_matches_both() -> None:
    both = med("doxycycline (with isotretinoin)")
    assert set(matched_sets(both, POLICY)) >= {"isotretinoin", "tetracyclines"}
    ev = run(a1(medications=(both,)))
    assert status_of(ev, "interaction.tetracyclines") == "applies"
    assert ev.unrecognised_medications == ()


def test_names_match_only_as_whole_words() -> None:
    # "Hana" and "Heather" are brands of progestin-only pills; never inside another word.
    assert (
        status_of(run(a1(medications=(med("Shanaxol 5 mg"),))), "interaction.progestin-only-pill")
        is None
    )
    assert (
        status_of(run(a1(medications=(med("Heathermycin"),))), "interaction.progestin-only-pill")
        is None
    )


def test_local_policy_adds_brands_and_unrelated_names_and_changes_the_hash() -> None:
    policy = LocalPolicy.from_mapping(
        {
            "brand_additions": {"tetracyclines": ["Doxyhexal"]},
            "unrelated_medication_names": ["ibuprofen"],
        }
    )
    settings = replace(EvaluationSettings(), local_policy=policy)
    ev = run(a1(medications=(med("Doxyhexal 100"), med("Ibuprofen 200 mg"))), settings=settings)
    f = ev.finding("interaction.tetracyclines")
    assert f is not None
    assert f.match_basis is MatchBasis.BRAND
    assert ev.unrecognised_medications == ()
    default = run(a1(medications=(med("Doxyhexal 100"), med("Ibuprofen 200 mg"))))
    assert status_of(default, "interaction.tetracyclines") is None
    assert default.unrecognised_medications == ("Doxyhexal 100", "Ibuprofen 200 mg")
    assert build_catalog(settings).hash != build_catalog(EvaluationSettings()).hash


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"brand_additions": {"pregnant": ["X"]}}, "unknown medication value set"),
        ({"brand_additions": {"tetracyclines": "Doxyhexal"}}, "list of non-empty names"),
        ({"unrelated_medication_names": [""]}, "list of non-empty names"),
    ],
)
def test_bad_local_policy_names_are_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        LocalPolicy.from_mapping(data)


def test_the_data_file_is_covered_by_the_catalogue_hash() -> None:
    vocabulary = medication_vocabulary()
    names = {v.name for v in vocabulary.value_sets}
    assert {"isotretinoin", "tetracyclines", "vitamin-a", "progestin-only-pill"} <= names
    fingerprint = repr(catalog_fingerprint(EvaluationSettings()))
    assert "Terramycin" in fingerprint
    assert "Isotrexin" in fingerprint
