"""The words of the CDS Hooks cards: dates, escaping, summaries and the findings' facts in
clinical terms.

* **Dates** read "12 Oct 2026" and ranges "22–28 Oct 2026" (:func:`day`, :func:`span`); ISO dates
  inside the domain's texts are rewritten so (:func:`dated`).
* **Nothing from the record is trusted as markup.** Text that comes from FHIR data or the request
  (a medication display, a condition's text, a unit, an id) goes through :func:`md` before it
  enters a detail: HTML's ``& < >`` become entities and Markdown's inline syntax, autolinks and
  line-start markers are backslash-escaped, so a display such as
  ``doxycycline [x](https://evil.example) <script>`` shows as that text, never as a link or HTML.
  A summary is plain text: record text enters it only when :func:`plain` finds nothing in it to
  escape; otherwise the summary uses the rule's own noun instead.
* **Summaries are written, not cut** (:func:`finding_summary`): a short per-rule sentence
  (:data:`SUMMARIES`) naming the drug and the action, with the matched medication's name where
  the rule has one, falling back to the rule title with the first sentence of its text, and to a
  sentence that always fits. Every summary ends a sentence and fits :data:`SUMMARY_MAX`.
* **Facts in clinical terms** (:func:`trigger_text`, :func:`missing_text`): the field paths of the
  domain's triggers and missing inputs (``medications[0]``, ``mood_screens.item_9``,
  ``conditions[2]``, ``plan.product``) become words; a medication is named by the record it came
  from (the order being signed, the active prescription and its date).

Every wording of a clinical fact comes from the catalogue's rule texts (``domain/catalog``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from domain.checks.labs import ANALYTE_NAMES
from domain.codes import ATC, ICD10CM, LOINC, RXNORM, SNOMED
from domain.vocab import Verification

if TYPE_CHECKING:
    from domain.engine import Finding

SUMMARY_MAX = 139
"""Longest summary: CDS Hooks asks for fewer than 140 characters."""
SENTENCE_ENDS = (".", "!", "?")
UNVERIFIED = "This rule has not yet been verified against its source; check before relying on it."

# --- dates -----------------------------------------------------------------------------------

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day(d: date) -> str:
    """``12 Oct 2026``."""
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def span(start: date, end: date) -> str:
    """``22–28 Oct 2026``, ``29 Nov – 5 Dec 2026`` or ``29 Dec 2026 – 4 Jan 2027``."""
    if start == end:
        return day(start)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}–{end.day} {MONTHS[end.month - 1]} {end.year}"
    if start.year == end.year:
        return f"{start.day} {MONTHS[start.month - 1]} – {day(end)}"
    return f"{day(start)} – {day(end)}"


_ISO = r"\d{4}-\d{2}-\d{2}"
_ISO_RANGE = re.compile(rf"\b({_ISO}) to ({_ISO})\b")
_ISO_DAY = re.compile(rf"\b{_ISO}\b")


def _iso(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def dated(text: str) -> str:
    """``text`` with its ISO dates (and ``A to B`` ranges of them) written as :func:`day`."""

    def one_range(m: re.Match[str]) -> str:
        a, b = _iso(m.group(1)), _iso(m.group(2))
        return span(a, b) if a and b and a <= b else m.group(0)

    def one_day(m: re.Match[str]) -> str:
        d = _iso(m.group(0))
        return day(d) if d else m.group(0)

    return _ISO_DAY.sub(one_day, _ISO_RANGE.sub(one_range, text))


# --- escaping --------------------------------------------------------------------------------

RECORD_TEXT_MAX = 160
"""Longest piece of record text a detail shows (longer text is shortened, marked with "…")."""
_MD_INLINE = re.compile(r"([\\`*_\[\]~|@])")
_AUTOLINK_SCHEME = re.compile(r"(?i)(?<=[a-z0-9]):(?=//)")
_WWW = re.compile(r"(?i)\b(www)\.")
_LINE_START = re.compile(r"^(?:([#+=-])|(\d{1,9})([.)]))")
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ,.'()/%+-]*")


def clean(text: str, limit: int = RECORD_TEXT_MAX) -> str:
    """Record text on one line: control and format characters (bidi overrides, zero-width)
    removed, whitespace runs made one space, at most ``limit`` characters."""
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    one = " ".join(kept.split())
    return one if len(one) <= limit else one[: limit - 1].rstrip() + "…"


def md(text: str, limit: int = RECORD_TEXT_MAX) -> str:
    """Record text made inert in Markdown and HTML (see the module docstring)."""
    s = clean(text, limit)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_INLINE.sub(r"\\\1", s)
    s = _AUTOLINK_SCHEME.sub(r"\\:", s)
    s = _WWW.sub(r"\1\\.", s)
    # Record text never starts a line here, but a list marker or heading at its start stays text.
    return _LINE_START.sub(
        lambda m: f"\\{m.group(1)}" if m.group(1) else f"{m.group(2)}\\{m.group(3)}", s
    )


def plain(text: str | None, limit: int = 48) -> str | None:
    """``text`` when it is plain enough to put in a summary as it is (letters, digits, spaces and
    ``, . ' ( ) / % + -``, no web address, at most ``limit`` characters), else ``None``."""
    if text is None:
        return None
    s = clean(text, limit + 1)
    if len(s) > limit or not _PLAIN.fullmatch(s) or "www." in s.lower():
        return None
    return s


# --- the catalogue's texts -------------------------------------------------------------------

_POLICY_PARENS = re.compile(r"\s*\((?:[^()]|\([^()]*\))*local[ -]policy(?:[^()]|\([^()]*\))*\)")
_GATING_SENTENCE = re.compile(r"(?:^|(?<=\. ))Gating [^.]*\.\s*")


def rule_text(text: str) -> str:
    """A rule's text as the detail shows it: without the remarks about local policy and gating
    (that provenance is in the ``org.isocds.rules`` extension and ``source.topic``)."""
    out = _POLICY_PARENS.sub("", text)
    out = _GATING_SENTENCE.sub("", out)
    out = re.sub(r"\s+([.,;:])", r"\1", out)
    return " ".join(out.split())


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (up to ". " or the end), ending with a full stop."""
    m = re.search(r"\.(\s|$)", text)
    head = text[: m.start()] if m else text.rstrip(".")
    return head + "."


# --- summaries -------------------------------------------------------------------------------


def fits(summary: str) -> bool:
    """Whether ``summary`` is a whole sentence within :data:`SUMMARY_MAX` characters."""
    return (
        0 < len(summary) <= SUMMARY_MAX
        and summary.endswith(SENTENCE_ENDS)
        and "…" not in summary
        and "..." not in summary
    )


LAST_RESORT = "Isotretinoin: see the card for what to do."
"""The summary when no written sentence fits (no rule of the catalogue needs it: tested)."""


def first_fitting(candidates: Iterable[str | None], last: str) -> str:
    """The first candidate that :func:`fits`, else ``last``, else :data:`LAST_RESORT`."""
    for c in (*candidates, last):
        if c and fits(c):
            return c
    return LAST_RESORT


@dataclass(frozen=True, slots=True)
class Summary:
    """A rule's summary sentence.

    Attributes:
        text: The sentence; ``{med}`` is the matched medication's name (capitalised), other
            ``{names}`` are values of the finding (``mgkg``, ``max``, ``tg``, ``not_before``).
        eu: The sentence for the EU/UK variants, when it differs.
        noun: What ``{med}`` becomes when no medication name can be used.
        short: A shorter sentence for when the values do not fit or are missing.
        tiers: The sentence of a tier of the variant, by tier name.
    """

    text: str
    eu: str | None = None
    noun: str | None = None
    short: str | None = None
    tiers: Mapping[str, str] | None = None


SUMMARIES: dict[str, Summary] = {
    # contraindications (RULES §5)
    "contraindication.pregnancy": Summary(
        "Pregnancy or a positive pregnancy test: isotretinoin is contraindicated."
    ),
    "contraindication.breastfeeding": Summary(
        "Breastfeeding: isotretinoin is not recommended.",
        eu="Breastfeeding: isotretinoin is contraindicated.",
    ),
    "contraindication.hypersensitivity": Summary(
        "Hypersensitivity to isotretinoin, vitamin A or an excipient: isotretinoin is "
        "contraindicated."
    ),
    "contraindication.soy-peanut-allergy": Summary(
        "Soy allergy and an isotretinoin product containing soybean oil: contraindicated.",
        eu="Peanut or soya allergy and an isotretinoin product containing soybean oil: "
        "contraindicated.",
        tiers={
            "peanut-without-soy": "Peanut allergy and an isotretinoin product containing "
            "soybean oil: caution."
        },
    ),
    "contraindication.tartrazine": Summary(
        "Tartrazine sensitivity: avoid the Absorica 25 mg strength of isotretinoin."
    ),
    "contraindication.hepatic-insufficiency": Summary(
        "Hepatic insufficiency: weigh the risk of hepatotoxicity before isotretinoin.",
        eu="Hepatic insufficiency: isotretinoin is contraindicated.",
    ),
    "contraindication.hyperlipidaemia": Summary(
        "Excessively elevated lipids: control them before starting isotretinoin.",
        eu="Excessively elevated blood lipids: isotretinoin is contraindicated.",
    ),
    "contraindication.hypervitaminosis-a": Summary(
        "Hypervitaminosis A: additive vitamin A toxicity with isotretinoin.",
        eu="Hypervitaminosis A: isotretinoin is contraindicated.",
    ),
    "contraindication.ppp-not-met": Summary(
        "iPLEDGE requirements not met: do not prescribe isotretinoin until they are recorded.",
        eu="Pregnancy prevention programme not met: isotretinoin is contraindicated unless all "
        "its conditions are fulfilled.",
    ),
    # interactions (RULES §6): named after the medication that matched
    "interaction.tetracyclines": Summary(
        "{med} with isotretinoin: risk of intracranial hypertension. Avoid.",
        eu="{med} with isotretinoin: contraindicated (intracranial hypertension).",
        noun="A tetracycline-class antibiotic",
    ),
    "interaction.vitamin-a": Summary(
        "{med} with isotretinoin: additive toxicity. No vitamin A supplements.",
        noun="Vitamin A",
    ),
    "interaction.progestin-only-pill": Summary(
        "{med} with isotretinoin: not an acceptable method of contraception.",
        eu="{med} with isotretinoin: may be inadequate contraception.",
        noun="A progestin-only pill",
    ),
    "interaction.st-johns-wort": Summary(
        "{med} with isotretinoin: may make hormonal contraceptives fail.",
        noun="St John's Wort",
    ),
    # precautions (RULES §7)
    "precaution.psychiatric-history": Summary(
        "Psychiatric history or a positive mood screen: assess before isotretinoin and screen at "
        "every visit."
    ),
    "precaution.suicidal-ideation-now": Summary(
        "Current suicidal ideation: do not start isotretinoin, or stop it; urgent assessment."
    ),
    "precaution.ibd": Summary(
        "Inflammatory bowel disease: weigh the risk of isotretinoin; stop on bowel symptoms."
    ),
    "precaution.metabolic-risk": Summary(
        "Metabolic risk with isotretinoin: more frequent lipid and glucose monitoring."
    ),
    "precaution.severe-renal-impairment": Summary(
        "Severe renal impairment: start isotretinoin at a low dose and titrate."
    ),
    "precaution.uk-under-18-second-prescriber": Summary(
        "Under 18: a second, independent prescriber must agree before starting isotretinoin."
    ),
    # dosing and the prescription (RULES §8, §9.1)
    "dosing.above-maximum": Summary(
        "Planned isotretinoin dose {mgkg} mg/kg/day is above the maximum ({max} mg/kg/day). "
        "Review the dose.",
        short="Planned isotretinoin dose is above the maximum. Review the dose.",
    ),
    "prescription.supply-limit": Summary(
        "This isotretinoin order breaks the limit: at most 30 days' supply and no refills.",
        eu="This isotretinoin order breaks the limit: at most 30 days of treatment per "
        "prescription.",
    ),
    # lab results (RULES §10)
    "lab.triglycerides.elevated": Summary(
        "Isotretinoin: triglycerides {tg}. Recheck fasting; consider dose reduction.",
        short="Isotretinoin: triglycerides elevated. Recheck fasting; consider dose reduction.",
    ),
    "lab.triglycerides.severe": Summary(
        "Isotretinoin: triglycerides {tg}, pancreatitis risk. Stop if they cannot be controlled.",
        short="Isotretinoin: triglycerides severely elevated, pancreatitis risk. Stop if they "
        "cannot be controlled.",
    ),
    "lab.liver.elevated": Summary(
        "Isotretinoin: transaminases elevated. Recheck; consider dose reduction."
    ),
    "lab.liver.severe": Summary(
        "Isotretinoin: transaminases severely elevated or suspected hepatitis. Stop if they do "
        "not readily normalise."
    ),
    "lab.stale": Summary("Isotretinoin: a lipid or liver test is overdue. Order it."),
    # stop rules (RULES §11)
    "stop.pregnancy": Summary(
        "Pregnancy during isotretinoin treatment: stop at once, refer, and report to the iPLEDGE "
        "pregnancy registry.",
        eu="Pregnancy during isotretinoin treatment: stop and refer to a specialist in teratology.",
    ),
    "stop.mood": Summary(
        "Depression, psychosis, aggression or suicidal ideation: stop isotretinoin."
    ),
    "stop.papilledema": Summary(
        "Signs of intracranial hypertension: stop isotretinoin at once and refer to neurology."
    ),
    "stop.serious-skin-reaction": Summary("Serious skin reaction: stop isotretinoin."),
    "stop.pancreatitis": Summary("Symptoms of pancreatitis: stop isotretinoin and seek care."),
    "stop.hepatitis": Summary("Suspected hepatitis (jaundice, dark urine): stop isotretinoin."),
    "stop.hearing": Summary("Tinnitus or hearing loss: stop isotretinoin and refer."),
    "stop.vision": Summary(
        "Visual difficulty: stop isotretinoin and arrange an ophthalmological examination."
    ),
    "stop.ibd-symptoms": Summary(
        "Abdominal pain, rectal bleeding or severe diarrhoea: stop isotretinoin at once."
    ),
    "stop.severe-allergy": Summary(
        "Anaphylaxis, a severe allergic reaction or allergic vasculitis: stop isotretinoin and "
        "manage."
    ),
    # indication (RULES §4)
    "indication.not-established": Summary(
        "Isotretinoin is not indicated on the facts given: neither the labelled nor the "
        "guideline criteria hold."
    ),
    "indication.age-under-12": Summary("Isotretinoin is not indicated under 12 years of age."),
    "indication.retreatment-interval": Summary(
        "Too soon after a previous isotretinoin course: do not start before {not_before}.",
        short="Too soon after a previous isotretinoin course: wait 8 weeks (56 days) after it "
        "ended.",
    ),
    "indication.acne-fulminans": Summary(
        "Acne fulminans: refer the same day; a lower isotretinoin starting dose."
    ),
    # documentation (RULES §12)
    "documentation.pregnancy-potential": Summary(
        "Record whether the patient can become pregnant: until then, every isotretinoin "
        "pregnancy-prevention requirement applies.",
        eu="Record whether the patient is of childbearing potential: until then, the isotretinoin "
        "pregnancy prevention programme applies.",
    ),
    "documentation.ipledge": Summary(
        "iPLEDGE: enrol before the first isotretinoin prescription; confirm before each "
        "prescription."
    ),
    "documentation.uk-arf": Summary(
        "Acknowledgement of Risk Form: signed by patient and prescriber for isotretinoin."
    ),
    "documentation.eu-acknowledgement": Summary(
        "Pregnancy prevention programme acknowledgement form: due for isotretinoin."
    ),
}


def _is_eu(f: Finding) -> bool:
    return f.variant_in_force.label.split("/")[0] in ("EU", "UK")


def _values(f: Finding, med: str | None) -> dict[str, str]:
    data = dict(f.data)
    out: dict[str, str] = {}
    if med:
        out["med"] = med[:1].upper() + med[1:]
    if isinstance(data.get("planned_mg_per_kg_day"), float | int):
        out["mgkg"] = f"{data['planned_mg_per_kg_day']:.2f}"
    if isinstance(data.get("maximum_mg_per_kg_day"), float | int):
        out["max"] = f"{data['maximum_mg_per_kg_day']:g}"
    value, unit = data.get("value"), plain(str(data.get("unit") or ""), 12)
    if isinstance(value, float | int) and unit:
        out["tg"] = f"{value:g} {unit}"
        if isinstance(data.get("value_mg_dl"), float | int) and unit != "mg/dL":
            out["tg"] += f" ({data['value_mg_dl']:g} mg/dL)"
    if f.not_before is not None:
        out["not_before"] = day(f.not_before)
    return out


def _fill(template: str | None, values: Mapping[str, str]) -> str | None:
    if template is None:
        return None
    try:
        return template.format_map(values)
    except KeyError:
        return None


def finding_summary(f: Finding, med: str | None = None) -> str:
    """The summary of ``f``'s card; ``med`` is the plain name of the medication that matched."""
    spec = SUMMARIES.get(f.rule_id)
    title = f.title
    fallback = f"Isotretinoin: {title[:1].lower() + title[1:]}. See the card for what to do."
    text = first_sentence(rule_text(f.text))
    generic = f"{title}: {text[:1].lower() + text[1:]}"
    if spec is None:
        return first_fitting([generic], fallback)
    tier = f.tier.name if f.tier else None
    chosen = (spec.tiers or {}).get(tier or "") or (spec.eu if spec.eu and _is_eu(f) else None)
    template = chosen or spec.text
    with_name = _values(f, med)
    with_noun = _values(f, spec.noun) if spec.noun else with_name
    return first_fitting(
        [
            _fill(template, with_name),
            _fill(template, with_noun),
            _fill(spec.short, with_noun),
            generic if "isotretinoin" in generic.lower() else None,
        ],
        fallback,
    )


# --- facts in clinical terms ------------------------------------------------------------------

SYSTEMS = {RXNORM: "RxNorm", SNOMED: "SNOMED CT", LOINC: "LOINC", ATC: "ATC", ICD10CM: "ICD-10-CM"}
_CODED = re.compile(r"(\S+)\|([A-Za-z0-9.\-]+)")
_RULE_ID = re.compile(
    r"\b(?:indication|contraindication|interaction|precaution|monitoring|prescription|dosing|lab"
    r"|stop|counselling|documentation)\.[a-z0-9.-]*[a-z0-9]"
)
_PHQ = {"phq-9": "PHQ-9", "phq-a": "PHQ-A", "phq-2": "PHQ-2"}
_MED_TRIGGER = re.compile(r"^medications\[(\d+)\]: (.*) \(matched by (\w+): (.*)\)$")
_INDEXED = re.compile(r"^(conditions|allergies)\[\d+\]: ")
_TECHNICAL = {
    "an isotretinoin order's authoredOn": "the date an isotretinoin prescription was written",
    "authoredOn": "date written",
    # the forms due (FormKind), as the catalogue's texts name them
    "form due: uk-arf-2023": "the Acknowledgement of Risk Form (2023 version), signed by patient "
    "and prescriber",
    "form due: uk-arf-2026": "the revised Acknowledgement of Risk Form (2026 version), signed by "
    "patient and prescriber",
    "form due: eu-acknowledgement": "the pregnancy prevention programme acknowledgement form",
}


def coded(text: str) -> str:
    """``system|code`` pairs as ``RxNorm 3640`` (an unknown system keeps its URI)."""
    return _CODED.sub(lambda m: f"{SYSTEMS.get(m.group(1), m.group(1))} {m.group(2)}", text)


def words(text: str, titles: Mapping[str, str] | None = None) -> str:
    """A domain text in clinical words (before escaping): dates, codes, rule IDs, PHQ names."""
    out = text
    for technical, said in _TECHNICAL.items():
        out = out.replace(technical, said)
    out = coded(out)
    if titles:
        out = _RULE_ID.sub(lambda m: titles.get(m.group(0), m.group(0)), out)
    for raw, name in _PHQ.items():
        out = re.sub(rf"\b{re.escape(raw)}\b", name, out)
    out = re.sub(r"\battested (\w+)", lambda m: "attested: " + m.group(1).replace("_", " "), out)
    return dated(_paths(out))


_ACNE = {
    "severity": "acne severity",
    "scarring": "scarring acne",
    "truncal": "mainly truncal acne",
    "nodular": "nodular acne",
    "nodule_count": "nodule count",
}


def _paths(text: str) -> str:
    """The field paths left in a domain text, in words (``acne.truncal``, ``labs[2571-8]``,
    ``plan.product``, ``item_9``)."""
    out = re.sub(r"\bacne\.(\w+)", lambda m: _ACNE.get(m.group(1), "acne " + m.group(1)), text)
    out = re.sub(
        r"\blabs\[([0-9-]+)\](\.uln)?",
        lambda m: (
            ANALYTE_NAMES.get(m.group(1), f"LOINC {m.group(1)}")
            + (" upper limit of normal" if m.group(2) else "")
        ),
        out,
    )
    out = re.sub(r"\b(?:attestations|plan|rems|facts)\.(\w+)", r"\1", out)
    out = re.sub(r"\b([a-z]+)\[\d+\]", r"\1", out)
    out = out.replace("mood_screens.item_9", "item 9 of the mood screen")
    out = re.sub(r"\b([a-z]+_[a-z0-9_]+)\.([a-z][a-z0-9_]*)\b", r"\1 \2", out)
    return re.sub(r"\b([a-z]+(?:_[a-z0-9]+)+)\b", lambda m: m.group(1).replace("_", " "), out)


Describe = Callable[[int], str | None]
"""The clinical description of the facts' medication ``i`` (already escaped), if known."""


def trigger_text(trigger: str, describe: Describe, titles: Mapping[str, str]) -> str:
    """One triggering fact of a finding in clinical words, escaped for Markdown."""
    m = _MED_TRIGGER.match(trigger)
    if m:
        index, label, basis, term = int(m.group(1)), m.group(2), m.group(3), m.group(4)
        what = describe(index) or f"the medication {md(label)}"
        return f"{what} (matched by {md(basis)}: {md(coded(term))})"
    m = _INDEXED.match(trigger)
    if m:
        kind = "recorded condition" if m.group(1) == "conditions" else "recorded allergy"
        return f"{kind}: {md(words(trigger[m.end() :], titles))}"
    return md(words(trigger, titles))


def note_text(note: str, titles: Mapping[str, str]) -> str | None:
    """A finding's note in clinical words (escaped), or ``None`` for a note that is provenance
    only (a code listed from a secondary source)."""
    said = words(note, titles)
    if re.fullmatch(r"code .+ is secondary", said):
        return None
    listed = re.fullmatch(r"code (.+) is unverified", said)
    if listed:
        return f"the code {md(listed.group(1))} is not yet verified against its source"
    return md(said)


_MISSING: dict[str, tuple[str, str]] = {
    # input: (in a sentence, in a summary)
    "breastfeeding": ("whether the patient is breastfeeding", "breastfeeding"),
    "pregnancy_potential": (
        "whether the patient can become pregnant (the prescriber's record)",
        "pregnancy potential",
    ),
    "pregnancy_status": ("a current pregnancy status", "pregnancy status"),
    "pregnancy_tests": ("a recent negative pregnancy test", "pregnancy test"),
    "mood_screens": ("a mood screen (PHQ-9 or PHQ-A)", "mood screen"),
    "mood_screens.item_9": (
        "the item 9 answer of the latest PHQ-9 or PHQ-A",
        "mood screen item 9",
    ),
    "labs": ("lipid and liver results", "lab results"),
    "weight": ("a recent weight", "weight"),
    "age": ("the date of birth", "age"),
    "conditions": ("the patient's conditions", "conditions"),
    "allergies": ("the patient's allergies", "allergies"),
    "medications": ("the current medications", "medications"),
    "plan.product": ("which isotretinoin product is ordered", "product"),
    "plan.contains_soybean_oil": (
        "whether the product contains soybean oil",
        "soybean oil content",
    ),
    "acne.severity": ("the acne severity", "acne severity"),
    "acne.nodule_count": ("the count of inflammatory nodules", "nodule count"),
    "previous_therapies": ("the previous acne treatments", "previous treatments"),
    "previous_courses": ("the previous isotretinoin courses", "previous courses"),
    "reported_symptoms": ("the symptoms asked about at this visit", "symptoms"),
}


def missing_text(name: str, describe: Describe) -> tuple[str, str]:
    """A missing input of an ``unknown`` finding as (words for a sentence, a short name)."""
    if name in _MISSING:
        return _MISSING[name]
    m = re.fullmatch(r"labs\[([0-9-]+)\](\.uln)?", name)
    if m:
        analyte = ANALYTE_NAMES.get(m.group(1), f"LOINC {m.group(1)}")
        if m.group(2):
            return (
                f"the upper limit of normal of the {analyte} result",
                f"{analyte} upper limit",
            )
        return f"a {analyte} result", analyte
    m = re.fullmatch(r"medications\[(\d+)\]", name)
    if m:
        what = describe(int(m.group(1))) or "a current medication"
        return f"what {what} is (it could not be identified)", "an unidentified medication"
    m = re.fullmatch(r"attestations\.(\w+)", name)
    if m:
        said = m.group(1).replace("_", " ")
        return f"whether the patient has {said}", said
    m = re.fullmatch(r"previous_therapies\[\d+\]\.response", name)
    if m:
        return "the response to a previous acne treatment", "treatment response"
    m = re.fullmatch(r"previous_courses\[\d+\]\.end", name)
    if m:
        return "the end date of a previous isotretinoin course", "end of a previous course"
    m = re.fullmatch(r"acne\.(\w+)", name)
    if m:
        said = m.group(1).replace("_", " ")
        return f"the acne assessment ({said})", "acne assessment"
    said = re.sub(r"\[\d+\]", "", name).replace("_", " ").replace(".", " ")
    return said, said


def listing(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def verification_line(f: Finding) -> str | None:
    """The sentence for a finding whose variant (or tier) is not verified."""
    return UNVERIFIED if f.verification is Verification.UNVERIFIED else None
