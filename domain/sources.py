"""The source register (RULES §1): every citation names one of these IDs.

``url`` becomes the CDS Hooks card's ``source.url``; ``None`` where RULES §1 gives none.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.vocab import Basis


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """A document the rules cite.

    Attributes:
        id: Stable source ID, e.g. ``fda-label-absorica``.
        citation: The document, as RULES §1 names it.
        notes: What RULES §1 says about it (version, what was checked).
        url: Public address, or ``None``.
        basis: The basis a variant gets when this source is cited first (RULES §0.2).
    """

    id: str
    citation: str
    notes: str
    url: str | None
    basis: Basis


def _s(id_: str, citation: str, notes: str, url: str | None, basis: Basis) -> Source:
    return Source(id=id_, citation=citation, notes=notes, url=url, basis=basis)


_L, _R, _G, _E, _P = Basis.LABEL, Basis.REMS, Basis.GUIDELINE, Basis.EVIDENCE, Basis.REGULATOR

SOURCES: tuple[Source, ...] = (
    _s(
        "fda-label-absorica",
        "ABSORICA / ABSORICA LD prescribing information (Sun Pharma), PLR format",
        "§1–§8 numbering; DailyMed set 3ef0cff8-19c1-4441-b780-fca6c7ee1615",
        "https://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid=3ef0cff8-19c1-4441-b780-fca6c7ee1615",
        _L,
    ),
    _s(
        "fda-label-generic",
        "Generic isotretinoin capsules PI, PLR format",
        "§5.9–§5.12 checked",
        None,
        _L,
    ),
    _s(
        "fda-label-legacy",
        "Older-format labels (Claravis, Amnesteem, Myorisan, Accutane)",
        "",
        None,
        _L,
    ),
    _s("fda-medguide", "Isotretinoin Medication Guide", "", None, _L),
    _s(
        "ipledge-rems",
        "iPLEDGE Shared System REMS, FDA REMS database entry (version 10/03/2023)",
        "the REMS in force before ipledge-2026",
        "https://www.accessdata.fda.gov/scripts/cder/rems/index.cfm?event=RemsDetails.page&REMS=24",
        _R,
    ),
    _s(
        "ipledge-2021",
        "iPLEDGE REMS modification effective 2021-12-13",
        "two patient categories",
        None,
        _R,
    ),
    _s(
        "ipledge-2023",
        "FDA letter 2023-11-30 requiring five REMS changes; FDA enforcement discretion on "
        "pregnancy testing from Oct 2023",
        "secondary (four professional-society sources)",
        None,
        _R,
    ),
    _s(
        "ipledge-2026",
        "FDA approval 2026-02-09 of the iPLEDGE modification, effective 180 days later",
        "approval primary; a later slip of the date is rumoured, so the date is a setting",
        "https://www.fda.gov/drugs/postmarket-drug-safety-information-patients-and-providers/"
        "ipledge-risk-evaluation-and-mitigation-strategy-rems",
        _R,
    ),
    _s(
        "aad-2024",
        "Reynolds RV et al., Guidelines of care for acne vulgaris, J Am Acad Dermatol "
        "2024;90(5):1006.e1–e30",
        "abstract (primary) + treatment figure (secondary)",
        "https://doi.org/10.1016/j.jaad.2023.12.017",
        _G,
    ),
    _s("aad-2016", "Zaenglein AL et al., J Am Acad Dermatol 2016;74:945–73", "secondary", None, _G),
    _s(
        "peds-2013",
        "Eichenfield LF et al., Pediatrics 2013;131:S163",
        "",
        "https://www.ncbi.nlm.nih.gov/pmc/articles/PMC3970835/",
        _G,
    ),
    _s(
        "xia-2022",
        "Xia E et al., isotretinoin lab monitoring Delphi consensus, JAMA Dermatol 2022",
        "",
        "https://doi.org/10.1001/jamadermatol.2022.2044",
        _E,
    ),
    _s(
        "hansen-2016",
        "Hansen TJ et al., J Am Acad Dermatol 2016;75:323–8",
        "",
        "https://pubmed.ncbi.nlm.nih.gov/27189824/",
        _E,
    ),
    _s("barbieri-2020", "Barbieri JS et al., J Am Acad Dermatol 2020", "", None, _E),
    _s(
        "lee-2016",
        "Lee YH et al., JAMA Dermatol 2016;152:35–44",
        "",
        "https://pubmed.ncbi.nlm.nih.gov/26630323/",
        _E,
    ),
    _s(
        "opel-2017",
        "Opel D et al., Br J Dermatol 2017;177:960–6",
        "pancreatitis",
        "https://pubmed.ncbi.nlm.nih.gov/27893168/",
        _E,
    ),
    _s("blasiak-2013", "Blasiak RC et al., JAMA Dermatol 2013", "cumulative ≥ 220 mg/kg", None, _E),
    _s("tan-2015", "Tan J et al., J Cutan Med Surg 2015", "120–150 mg/kg evidence", None, _E),
    _s(
        "ema-2018",
        "EMA retinoid referral outcome, 2018-03-22 (pregnancy prevention programme)",
        "",
        "https://www.ema.europa.eu/en/medicines/human/referrals/retinoid-containing-medicinal-products",
        _P,
    ),
    _s("eu-smpc", "EU/UK isotretinoin SmPC (post-2018 harmonised text), §4.2–§4.6", "", None, _P),
    _s(
        "mhra-ppp-reminder",
        'MHRA Drug Safety Update "Oral retinoids: pregnancy prevention — reminder of measures"',
        "secondary (formulary summary): test ≤ 3 days before the prescription, dispense within 7 days",
        "https://www.gov.uk/drug-safety-update/oral-retinoids-pregnancy-prevention-reminder-of-"
        "measures-to-minimise-teratogenic-risk",
        _P,
    ),
    _s(
        "mhra-2023",
        "MHRA Drug Safety Update, Oct 2023, new isotretinoin safety measures",
        "",
        "https://www.gov.uk/drug-safety-update/isotretinoin-roaccutanev-introduction-of-new-safety-"
        "measures-including-additional-oversight-of-the-initiation-of-treatment-for-patients-under-"
        "18-years-of-age",
        _P,
    ),
    _s(
        "mhra-2025",
        'MHRA Drug Safety Update "Isotretinoin – updates to prescribing guidance and survey of '
        'services", autumn 2025',
        "day unconfirmed",
        None,
        _P,
    ),
    _s(
        "mhra-2026",
        "MHRA Drug Safety Update, Jan 2026, changes to prescribing guidance",
        "",
        "https://www.gov.uk/drug-safety-update/isotretinoin-changes-to-prescribing-guidance-and-"
        "additional-risk-minimisation-measures",
        _P,
    ),
    _s(
        "nice-ng198",
        "NICE NG198 Acne vulgaris: management (2021, updated 2023)",
        "",
        "https://www.nice.org.uk/guidance/ng198",
        _G,
    ),
    _s(
        "ctcae-5",
        "NCI CTCAE v5.0 grading (pinned: v6 exists and differs)",
        "used only for local-policy defaults",
        None,
        Basis.LOCAL_POLICY,
    ),
)

SOURCES_BY_ID: dict[str, Source] = {s.id: s for s in SOURCES}
