"""Findings as CDS Hooks 2.0 cards, written for a prescriber signing an order.

* **Summaries** are written to fit (fewer than 140 characters, a whole sentence naming the drug
  and the action, never a longer text cut short): a short sentence per rule, with the matched
  medication's name where the rule has one (:mod:`api.cds.card_text`).
* **Details** open with what to do and why (the rule's text), say which draft order the card is
  about, then give the facts that triggered it in clinical terms ("the doxycycline order being
  signed", "the active doxycycline prescription from 12 Oct 2026"), then the sources, and end with
  one short line naming the rule, the jurisdiction and its rules in force. Field paths, versions,
  variants and local-policy remarks stay in the ``org.isocds.rules`` extension and
  ``source.topic``; a rule not yet verified is said so in words.
* **Record text is never markup**: a medication display, a condition's text, a unit or an id is
  escaped for Markdown and HTML before it enters a card (ids are checked as FHIR ids first).
* One card per finding that applies with severity ``critical`` or ``warning`` (its indicator is
  the severity in the client's jurisdiction), except a checklist item, which is a line of the
  Checklist card at order-sign (shown once) and no card once done.
* One "Information needed" card listing every gating ``unknown`` finding and the data the service
  could not see or read; ``critical`` when it holds the pregnancy or programme finding at
  order-sign, otherwise ``warning``.
* One "Checklist" card: at order-sign only what this prescription waits for ("Before this
  prescription": tests in the window, contraception, iPLEDGE, labs), as tasks with dates, and a
  count of the rest; at patient-view every item due, grouped "Before the next prescription",
  "This visit" and "Counselling", with the ``info`` notes; at order-select no items. Its indicator
  is the most severe item it lists (``info`` unless a ``warning`` item such as iPLEDGE is due).
  The indication appears there ("not assessable from the record" without an acne assessment).
* A call about an interacting order (a tetracycline for a patient on isotretinoin) shows what that
  order triggers and the stop rules; the programme and the checklist belong to the isotretinoin
  order, and are not shown.
* Medications the service could not classify (``unrecognised_medications``, RULES §13) are one
  line on the "Information needed" card; when there is no such card (nothing gating, nothing
  missing) the line goes on the "Checklist" card instead (or, for an interacting order, on its
  last card). They never make a card of their own and never change a decision.

No card ever says "safe", "cleared" or "OK to prescribe". Every card and suggestion has a
``uuid``; fields without a value are omitted (CDS Hooks 2.0 JSON rules).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from api.cds import card_text as wording
from api.cds.fhir import MedicationSource, Order, Problems, Record
from api.cds.prefetch import FEEDS
from domain.checks.matching import medication_label
from domain.codes import ISOCDS, LOINC
from domain.engine import Evaluation, Finding
from domain.rules import Item
from domain.sources import SOURCES_BY_ID
from domain.vocab import (
    SEVERITY_RANK,
    ItemCategory,
    ItemState,
    Jurisdiction,
    RuleKind,
    Severity,
    Status,
)

PROGRAMME = ("contraindication.pregnancy", "contraindication.ppp-not-met")
SERVICE_LABEL = "Isotretinoin decision support"

OVERRIDE_REASONS = (
    {
        "system": f"{ISOCDS}:override-reason",
        "code": "benefit-outweighs-risk",
        "display": "Benefit outweighs the risk for this patient",
    },
    {
        "system": f"{ISOCDS}:override-reason",
        "code": "record-incomplete",
        "display": "The record is incomplete: the requirement is met",
    },
    {
        "system": f"{ISOCDS}:override-reason",
        "code": "done-elsewhere",
        "display": "Done elsewhere, not recorded here",
    },
)

# What to order when a lab or pregnancy-test item is due: one suggestion each, with one valid R4
# ServiceRequest per test (RULES §9, codes of §13; the LOINC displays are left to the EHR).
_HCG = (("2118-8", "hCG, serum, qualitative"),)
ORDERS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "monitoring.lipids": (
        "Order fasting lipids",
        (
            ("2571-8", "Triglycerides"),
            ("2093-3", "Total cholesterol"),
            ("2085-9", "HDL cholesterol"),
        ),
    ),
    "monitoring.liver": ("Order liver tests", (("1742-6", "ALT"), ("1920-8", "AST"))),
    **{
        f"monitoring.pregnancy-test.{kind}": ("Order a pregnancy test", _HCG)
        for kind in ("screening", "confirmation", "monthly", "end-of-therapy", "post-therapy")
    },
}


def _source(f: Finding) -> dict[str, Any]:
    first = f.citations[0]
    src = SOURCES_BY_ID[first.source]
    out: dict[str, Any] = {
        "label": src.citation if len(src.citation) <= 120 else src.citation[:119] + "…",
        "topic": {"system": ISOCDS, "code": f.rule_id, "display": f.title},
    }
    if first.url:
        out["url"] = first.url
    return out


def _citations(f: Finding) -> str:
    lines = []
    for cit in f.citations:
        src = SOURCES_BY_ID[cit.source]
        where = f" {cit.section}" if cit.section else ""
        link = f" <{cit.url}>" if cit.url else ""
        lines.append(f"- {src.citation}{where}{link}")
    return "\n".join(lines)


def _rule_ref(f: Finding) -> dict[str, Any]:
    return {
        "ruleId": f.rule_id,
        "ruleVersion": f.rule_version,
        "status": f.status.value,
        "variant": f.variant,
    }


def _extension(ev: Evaluation, findings: list[Finding]) -> dict[str, Any]:
    return {
        "org.isocds.rules": {
            "rules": [_rule_ref(f) for f in findings],
            "rulesetVersion": ev.ruleset_version,
            "catalogueHash": ev.catalogue_hash,
            "jurisdiction": ev.jurisdiction.value,
            "epoch": ev.epoch,
        }
    }


def _service_source(code: str, display: str) -> dict[str, Any]:
    """The ``source`` of a card the service composes (not one finding's)."""
    return {"label": SERVICE_LABEL, "topic": {"system": ISOCDS, "code": code, "display": display}}


def _service_request(patient_id: str, loinc: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "code": {"coding": [{"system": LOINC, "code": loinc}], "text": text},
    }


SUGGESTION_RULES = "_isocds_rule_ids"
"""The key of a suggestion holding the rule IDs behind it: stored with the issued card (feedback
credits an accepted suggestion to these rules only), and removed before the card is sent."""


def _suggestions(rule_ids: list[str], patient_id: str) -> list[dict[str, Any]]:
    """One suggestion per order (due items ordering the same tests share it), each with the rule
    IDs behind it under ``SUGGESTION_RULES``."""
    out = []
    by_label: dict[str, dict[str, Any]] = {}
    for rid in rule_ids:
        spec = ORDERS.get(rid)
        if spec is None:
            continue
        label, tests = spec
        if label in by_label:
            behind: list[str] = by_label[label][SUGGESTION_RULES]
            if rid not in behind:
                behind.append(rid)
            continue
        suggestion: dict[str, Any] = {
            "label": label,
            "uuid": str(uuid.uuid4()),
            "actions": [
                {
                    "type": "create",
                    "description": f"Draft order: {text} (LOINC {loinc})",
                    "resource": _service_request(patient_id, loinc, text),
                }
                for loinc, text in tests
            ],
            SUGGESTION_RULES: [rid],
        }
        by_label[label] = suggestion
        out.append(suggestion)
    return out


@dataclass(frozen=True)
class Scene:
    """What a call's cards are about: the hook, its draft orders and the records the current
    medications were read from (:class:`api.cds.fhir.Record`).

    Attributes:
        hook: ``patient-view``, ``order-select`` or ``order-sign``.
        iso_order: The isotretinoin draft order the call is about, if any.
        orders: Every draft MedicationRequest of the call.
        medications: The record of each of the facts' medications (same order).
        exposure: The isotretinoin records that give exposure.
        course: The service holds a treatment course for the patient.
    """

    hook: str
    iso_order: Order | None = None
    orders: tuple[Order, ...] = ()
    medications: tuple[MedicationSource, ...] = ()
    exposure: tuple[MedicationSource, ...] = ()
    course: bool = False

    @classmethod
    def of(cls, hook: str, record: Record | None, *, course: bool = False) -> Scene:
        """The scene of a call from what was read of it."""
        if record is None:
            return cls(hook, course=course)
        return cls(
            hook,
            iso_order=record.isotretinoin_order if hook != "patient-view" else None,
            orders=tuple(record.orders) if hook != "patient-view" else (),
            medications=record.medication_sources,
            exposure=record.exposure_sources,
            course=course,
        )

    @property
    def order_hook(self) -> bool:
        """``order-select`` or ``order-sign``."""
        return self.hook in ORDER_HOOKS

    @property
    def interacting_only(self) -> bool:
        """An order hook whose orders hold no isotretinoin: the call is about an interacting
        order for a patient with exposure."""
        return self.order_hook and self.iso_order is None

    def describe(self, index: int) -> str | None:
        """The record medication ``index`` came from, in words (escaped)."""
        if not 0 <= index < len(self.medications):
            return None
        return source_words(self.medications[index], self.hook)

    def drafts_of(self, f: Finding) -> list[MedicationSource]:
        """The draft orders among the medications ``f`` names (triggers or missing inputs)."""
        out: list[MedicationSource] = []
        for said in (*f.triggers, *f.missing):
            m = _MEDICATION_INDEX.match(said)
            if m and int(m.group(1)) < len(self.medications):
                source = self.medications[int(m.group(1))]
                if source.kind == "draft-order" and source not in out:
                    out.append(source)
        return out

    def concerns(self, f: Finding) -> bool:
        """Whether ``f`` belongs on this call's cards. A call about an interacting order shows
        what that order triggers and the stop rules; the programme, the checklist and the rest
        belong to the isotretinoin order."""
        if not self.interacting_only:
            return True
        return f.kind is RuleKind.STOP or bool(self.drafts_of(f))

    def _order_words(self, names: list[str]) -> str:
        said = wording.listing(names)
        if self.hook == "order-sign":
            return f"For the order being signed: {said}."
        return f"For the draft order (not yet signed): {said}."

    def about(self, f: Finding | None = None) -> list[str]:
        """The lines saying which draft order a card is about (none at patient-view)."""
        if not self.order_hook:
            return []
        drafts = self.drafts_of(f) if f is not None else []
        if drafts:
            lines = [self._order_words([wording.md(s.name, 80) for s in drafts])]
        elif self.iso_order is not None:
            lines = [
                self._order_words([wording.md(medication_label(self.iso_order.medication), 80)])
            ]
        elif f is not None:
            lines = ["About the patient's isotretinoin treatment, not the order at hand."]
        else:
            names = [
                wording.md(medication_label(o.medication), 80) for o in self.orders if o.interacting
            ]
            lines = [self._order_words(names)] if names else []
        if self.interacting_only:
            lines.append(self.exposure_line())
        return lines

    def exposure_line(self) -> str:
        """What gives the patient isotretinoin exposure, in words."""
        said = [source_words(s, self.hook) for s in self.exposure[:2]]
        if len(self.exposure) > 2:
            said.append(f"{len(self.exposure) - 2} more")
        if self.course:
            said.append("a treatment course recorded in this service")
        if not said:
            return "The patient has isotretinoin on record."
        return f"Isotretinoin on record: {wording.listing(said)}."

    def medication_name(self, f: Finding) -> str | None:
        """The plain name of the medication that matched ``f``, for its summary."""
        for trigger in f.triggers:
            m = _MEDICATION_TRIGGER.match(trigger)
            if m is None:
                continue
            index, label, basis, term = int(m.group(1)), m.group(2), m.group(3), m.group(4)
            source = self.medications[index] if index < len(self.medications) else None
            name = wording.plain(source.name if source else label, 40)
            if name is None and basis in ("name", "brand"):
                name = wording.plain(term, 40)
            return name
        return None


ORDER_HOOKS = ("order-select", "order-sign")
_MEDICATION_INDEX = re.compile(r"^medications\[(\d+)\]")
_MEDICATION_TRIGGER = re.compile(r"^medications\[(\d+)\]: (.*) \(matched by (\w+): (.*)\)$")


def source_words(source: MedicationSource, hook: str) -> str:
    """The record of a medication in words (escaped): "the doxycycline order being signed", "the
    active doxycycline prescription from 12 Oct 2026"."""
    name = wording.md(source.name, 80)
    if source.kind == "draft-order":
        if hook == "order-sign":
            return f"the {name} order being signed"
        return f"the draft {name} order (not yet signed)"
    when = f" from {wording.day(source.dated)}" if source.dated else ""
    status = f"{wording.md(source.status, 20)} " if source.status else ""
    if source.kind == "dispensing":
        return (
            f"{name} dispensed on {wording.day(source.dated)}"
            if source.dated
            else f"{name} dispensed"
        )
    if source.kind == "statement":
        return f"the {status}{name} medication statement{when}"
    return f"the {status}{name} prescription{when}"


def _provenance(ev: Evaluation, f: Finding | None = None) -> str:
    """The one short last line: the rule, the jurisdiction and its rules in force, the date."""
    rule = f"Rule {f.rule_id} · " if f is not None else ""
    return (
        f"_{rule}Jurisdiction {ev.jurisdiction.value}, rules of {ev.epoch} · "
        f"as of {wording.day(ev.as_of)}._"
    )


def _facts(f: Finding, scene: Scene, titles: dict[str, str]) -> list[str]:
    facts = [wording.trigger_text(t, scene.describe, titles) for t in f.triggers]
    notes = [n for n in (wording.note_text(x, titles) for x in f.notes) if n]
    parts: list[str] = []
    if facts:
        parts += ["", "What triggered it:", *(f"- {x}" for x in facts)]
    if notes:
        parts += ["", *(f"- {x}" for x in notes)]
    return parts


def finding_card(
    ev: Evaluation, f: Finding, scene: Scene | None = None, titles: dict[str, str] | None = None
) -> dict[str, Any]:
    """The card of one applying critical or warning finding: what to do and why (the rule's
    text), the order it is about, the facts that triggered it, the sources."""
    scene = scene or Scene("patient-view")
    titles = titles if titles is not None else {x.rule_id: x.title for x in ev.findings}
    parts = [wording.rule_text(f.text)]
    about = scene.about(f)
    if about:
        parts += ["", *about]
    parts += _facts(f, scene, titles)
    if f.rule_id == "contraindication.ppp-not-met":
        steps = (
            "counselling, iPLEDGE steps" if ev.jurisdiction is Jurisdiction.US else "counselling"
        )
        parts += [
            "",
            f"The EHR record does not carry contraception methods, {steps} or signed forms: "
            "confirm each of them (they count as not recorded).",
        ]
    if f.rule_id == "documentation.pregnancy-potential":
        parts += [
            "",
            "Pregnancy-prevention requirements apply until the prescriber records whether the "
            "patient can become pregnant. Recording it is the prescriber's deliberate act.",
        ]
    unverified = wording.verification_line(f)
    if unverified:
        parts += ["", unverified]
    parts += ["", "Sources:", _citations(f), "", _provenance(ev, f)]
    return {
        "uuid": str(uuid.uuid4()),
        "summary": wording.finding_summary(f, scene.medication_name(f)),
        "detail": "\n".join(parts),
        "indicator": f.severity.value,
        "source": _source(f),
        "overrideReasons": list(OVERRIDE_REASONS),
        "extension": _extension(ev, [f]),
    }


def _problem_text(problem: str) -> str:
    """A problem of the reader in words (escaped): its prefetch key named by what it feeds."""
    key, sep, rest = problem.partition(": ")
    if sep and key in FEEDS:
        said = FEEDS[key]
        problem = f"{said[:1].upper() + said[1:]}: {rest}"
    return wording.md(wording.words(problem), 240)


def _unavailable_lines(keys: set[str]) -> tuple[list[str], str]:
    """The feeds not obtained, in words, and a last line naming the prefetch keys for the EHR
    team."""
    ordered = sorted(keys)
    lines = [f"- {wording.md(FEEDS.get(k, k))}" for k in ordered]
    technical = ", ".join(f"`{k}`" for k in ordered if re.fullmatch(r"\w{1,40}", k))
    return lines, f"_For the EHR team: prefetch keys not obtained: {technical}._"


def information_card(
    ev: Evaluation,
    gating: list[Finding],
    problems: Problems,
    hook: str | Scene,
    titles: dict[str, str] | None = None,
) -> dict[str, Any] | None:
    """The "Information needed" card, or ``None`` when nothing is missing."""
    if not gating and not problems.unavailable and not problems.unreadable:
        return None
    scene = hook if isinstance(hook, Scene) else Scene(hook)
    titles = titles if titles is not None else {x.rule_id: x.title for x in ev.findings}
    critical = scene.hook == "order-sign" and any(f.rule_id in PROGRAMME for f in gating)
    parts = list(scene.about())
    if parts:
        parts.append("")
    short: list[str] = []
    if gating:
        parts += ["The service could not decide these on the data it could see:", ""]
        for f in gating:
            said = [wording.missing_text(m, scene.describe) for m in f.missing]
            short += [s for _, s in said if s not in short]
            missing = wording.listing([w for w, _ in said]) or "a fact that is not recorded"
            line = f"- **{f.title}**: missing {missing}"
            notes = [n for n in (wording.note_text(x, titles) for x in f.notes) if n]
            if notes:
                line += f" ({'; '.join(notes)})"
            parts.append(line)
    technical: str | None = None
    if problems.unavailable:
        lines, technical = _unavailable_lines(problems.unavailable)
        parts += ["", "Data the EHR did not send and the service could not fetch:", *lines]
        short.append("EHR data not received")
    if problems.unreadable:
        parts += ["", "Data that could not be read:"]
        parts += [f"- {_problem_text(u)}" for u in problems.unreadable]
        short.append("unreadable data")
    parts += _unrecognised_lines(ev)
    parts += ["", _provenance(ev)]
    if technical:
        parts.append(technical)
    return {
        "uuid": str(uuid.uuid4()),
        "summary": _information_summary(scene, short),
        "detail": "\n".join(parts),
        "indicator": "critical" if critical else "warning",
        "source": _service_source("information-needed", "Information needed"),
        "extension": _extension(ev, gating),
    }


def _information_summary(scene: Scene, short: list[str]) -> str:
    if not scene.order_hook:
        subject = "isotretinoin monitoring"
    elif scene.iso_order is not None:
        subject = "this isotretinoin order"
    else:
        subject = "this order (patient on isotretinoin)"
    head = f"Information needed for {subject}"
    return wording.first_fitting(
        [
            f"{head}: {wording.listing(short)}." if short else None,
            f"{head}: {len(short)} facts are missing." if len(short) > 1 else None,
        ],
        f"{head}.",
    )


def _unrecognised_lines(ev: Evaluation) -> list[str]:
    """The line naming medications the service could not classify (no decision effect)."""
    if not ev.unrecognised_medications:
        return []
    names = "; ".join(wording.md(n, 80) for n in ev.unrecognised_medications)
    return ["", f"Medications not recognised (check them for interactions yourself): {names}"]


# The checklist's groups, by item category (RULES §9): what the next prescription waits for,
# what this visit does, and what to counsel.
BEFORE, VISIT, COUNSEL = "before", "visit", "counselling"
GROUPS = {
    ItemCategory.PREGNANCY_TEST: BEFORE,
    ItemCategory.PRESCRIPTION: BEFORE,
    ItemCategory.CONTRACEPTION: BEFORE,
    ItemCategory.DOCUMENTATION: BEFORE,
    ItemCategory.LAB: BEFORE,
    ItemCategory.SCREENING: VISIT,
    ItemCategory.COUNSELLING: COUNSEL,
}
GROUP_WORDS = {VISIT: "this visit", COUNSEL: "counselling"}
OWN_CARD = frozenset({"documentation.pregnancy-potential"})
"""Checklist rules shown as a card of their own, never as a checklist line: recording the
category decides which other items apply."""
OPEN = (ItemState.DUE, ItemState.OVERDUE)
_MISSED = re.compile(r"[Aa] missed (?:first )?window: (.+?)\.(?: |$)")


def _lower_first(s: str) -> str:
    return s[:1].lower() + s[1:]


def _when(item: Item, as_of: date) -> str:
    """An item's state with its dates: "due now", "due from 25 Nov 2026", "overdue (window …)"."""
    start, end = item.due_from, item.due_by
    if item.state is ItemState.OVERDUE:
        if start and end:
            return f"overdue (window {wording.span(start, end)})"
        if end:
            return f"overdue (due by {wording.day(end)})"
        return f"overdue (due from {wording.day(start)})" if start else "overdue"
    if start and end:
        return f"due {wording.span(start, end)}"
    if start and start > as_of:
        return f"due from {wording.day(start)}"
    return f"due by {wording.day(end)}" if end else "due now"


def _window_line(f: Finding, item: Item, notes: list[str], as_of: date) -> str:
    """``prescription.window`` as a task: "Prescribe by 28 Oct 2026 (fill window 22–28 Oct
    2026)", or "Window missed (22–28 Oct 2026): …" with what the rule says to do."""
    reminder = [n for n in notes if "supply" in n]
    eu = f.variant_in_force.label.split("/")[0] in ("EU", "UK")
    if item.due_from and item.due_by:
        window = wording.span(item.due_from, item.due_by)
        if item.state is ItemState.OVERDUE:
            missed = _MISSED.search(wording.rule_text(f.text))
            return f"Window missed ({window})" + (f": {missed.group(1)}" if missed else "")
        if eu:
            line = f"Dispense by {wording.day(item.due_by)} (window {window})"
        else:
            line = f"Prescribe by {wording.day(item.due_by)} (fill window {window})"
    else:
        other = [n for n in notes if n not in reminder]
        line = f"{f.title}: {_when(item, as_of)}" + (f" — {'; '.join(other)}" if other else "")
        reminder = []
    return line + (f"; {reminder[0]}" if reminder else "")


def item_line(f: Finding, as_of: date, titles: dict[str, str]) -> str:
    """A checklist item as a task with its dates."""
    item = f.item
    assert item is not None  # noqa: S101  # checklist findings carry an item
    notes = [n for n in (wording.note_text(x, titles) for x in f.notes) if n]
    if f.rule_id == "prescription.window":
        return _window_line(f, item, notes, as_of)
    if item.category is ItemCategory.COUNSELLING:
        return f"Counsel: {_lower_first(wording.rule_text(f.text)).rstrip('.')}"
    line = f"{f.title}: {_when(item, as_of)}"
    return line + (f" — {'; '.join(notes)}" if notes else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def checklist_card(
    ev: Evaluation,
    shown: list[Finding],
    hook: str | Scene,
    patient_id: str,
    titles: dict[str, str] | None = None,
    *,
    unrecognised: bool,
) -> dict[str, Any]:
    """The "Checklist" card: the items due, as tasks with dates, grouped "Before this
    prescription" (before the next one at patient-view), "This visit" and "Counselling".

    At order-sign it lists only what this prescription waits for, with a count of the rest; at
    order-select no items (the early check); at patient-view every item and the ``info`` notes.
    Items suspended while a stop rule applies are listed as suspended, never as due (RULES §15).
    """
    scene = hook if isinstance(hook, Scene) else Scene(hook)
    titles = titles if titles is not None else {x.rule_id: x.title for x in ev.findings}
    sign = scene.hook == "order-sign"
    in_view = {f.rule_id for f in shown}
    items = [
        f
        for f in ev.checklist
        if scene.hook != "order-select"
        and f.rule_id in in_view
        and f.status is Status.APPLIES
        and f.rule_id not in OWN_CARD
    ]
    # RULES §15: while a stop rule applies, the window and the next pregnancy tests are suspended.
    due = [f for f in items if f.item and f.item.state in OPEN and f.rule_id not in ev.suspended]
    suspended = [f for f in items if f.rule_id in ev.suspended]
    grouped: dict[str, list[Finding]] = {BEFORE: [], VISIT: [], COUNSEL: []}
    for f in due:
        assert f.item is not None  # noqa: S101  # filtered above
        grouped[GROUPS.get(f.item.category, VISIT)].append(f)
    listed = grouped[BEFORE] if sign else due
    parts = list(scene.about())
    if parts:
        parts.append("")
    heads = {
        BEFORE: "Before this prescription" if sign else "Before the next prescription",
        VISIT: "This visit",
        COUNSEL: "Counselling",
    }
    for group in (BEFORE,) if sign else (BEFORE, VISIT, COUNSEL):
        if grouped[group]:
            parts += [f"**{heads[group]}**"]
            parts += [f"- {item_line(f, ev.as_of, titles)}" for f in grouped[group]]
            parts.append("")
    if sign and not grouped[BEFORE]:
        parts += ["Nothing on the checklist is due before this prescription.", ""]
    others = [g for g in (VISIT, COUNSEL) if grouped[g]] if sign else []
    if others:
        count = sum(len(grouped[g]) for g in others)
        which = ", ".join(GROUP_WORDS[g] for g in others)
        parts += [
            f"{_plural(count, 'other item')} ({which}): open the patient's chart view "
            "(patient-view) to see them.",
            "",
        ]
    if suspended:
        stops = wording.listing([titles.get(s, s) for s in ev.stop_rules])
        parts += [f"**Suspended while a stop rule applies** ({stops}: a stop rule ends treatment)"]
        parts += [f"- {f.title}: suspended" for f in suspended]
        parts.append("")
    parts += ["**Indication:** not assessable from the record (no acne assessment)"]
    infos: list[Finding] = []
    if not sign:
        infos = [
            f
            for f in shown
            if f.status is Status.APPLIES and f.severity is Severity.INFO and f.item is None
        ]
        # Notes on items already done (e.g. a home test accepted before the 2026 REMS update).
        done = [f for f in items if f.item and f.item.state is ItemState.DONE and f.notes]
        if infos or done:
            parts += ["", "**Notes**"]
            parts += [f"- {f.title}: {wording.rule_text(f.text)}" for f in infos]
            for f in done:
                notes = [n for n in (wording.note_text(x, titles) for x in f.notes) if n]
                if notes:
                    parts.append(f"- {f.title} (done): {'; '.join(notes)}")
    if unrecognised:
        parts += _unrecognised_lines(ev)
    parts += ["", _provenance(ev)]
    suggestions = _suggestions([f.rule_id for f in listed], patient_id)
    worst = min((f.severity for f in listed), key=SEVERITY_RANK.__getitem__, default=Severity.INFO)
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": _checklist_summary(scene, listed, due),
        "detail": "\n".join(parts).strip(),
        # A warning item (iPLEDGE, a form) keeps its indicator on the card that shows it.
        "indicator": worst.value,
        "source": _service_source("checklist", "Checklist"),
        "extension": _extension(ev, listed + infos),
    }
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "any"
    return card


def _checklist_summary(scene: Scene, listed: list[Finding], due: list[Finding]) -> str:
    if scene.hook == "order-sign":
        if listed:
            return (
                f"Isotretinoin checklist: {_plural(len(listed), 'item')} to complete before this "
                "prescription."
            )
        return "Isotretinoin checklist: nothing is due before this prescription."
    if scene.hook == "order-select":
        return "Isotretinoin checklist: the indication is not assessable from the record."
    if due:
        overdue = sum(1 for f in due if f.item and f.item.state is ItemState.OVERDUE)
        tail = f", {overdue} overdue" if overdue else ""
        return f"Isotretinoin checklist: {_plural(len(due), 'item')} to do now{tail}."
    return "Isotretinoin checklist: nothing is due now."


EXPOSURE_KEYS = ("medRequests", "medDispenses", "medStatements")


def exposure_unknown_card(problems: Problems) -> dict[str, Any]:
    """The card for a call whose trigger needs isotretinoin exposure when no medication data could
    be seen: no cards would read as "nothing to say", which the service cannot know."""
    keys = {k for k in EXPOSURE_KEYS if k in problems.unavailable}
    lines, technical = _unavailable_lines(keys)
    parts = [
        "The service could not see this patient's medication orders, dispensings or statements, "
        "and holds no treatment course for the patient, so it cannot tell whether the patient is "
        "taking isotretinoin.",
        "",
        "Data the EHR did not send and the service could not fetch:",
        *lines,
        "",
        technical,
    ]
    return {
        "uuid": str(uuid.uuid4()),
        "summary": "Information needed: no medication data could be obtained, so isotretinoin use "
        "is unknown.",
        "detail": "\n".join(parts),
        "indicator": "warning",
        "source": _service_source("information-needed", "Information needed"),
    }


def prune(value: Any) -> Any:
    """``value`` without ``None`` and empty strings, arrays and objects (CDS Hooks JSON rules)."""
    if isinstance(value, dict):
        items = ((k, prune(v)) for k, v in value.items())
        return {k: v for k, v in items if v is not None and v not in ("", [], {})}
    if isinstance(value, list):
        return [v for v in (prune(x) for x in value) if v is not None and v not in ("", [], {})]
    return value


# What each hook shows (kinds of RULES §0, plus single rules). ``patient-view`` is the monthly
# picture for a patient on treatment: due items (counselling among them, on the checklist), lab
# and symptom findings, interactions with what they take now, and pregnancy; the programme's
# paperwork (never in the EHR record) is left to the order hooks. ``order-select`` is the early
# check of the order: contraindications, interactions, precautions, missing pregnancy-prevention
# steps and the indication. ``order-sign`` is everything.
PATIENT_VIEW_KINDS = frozenset({"monitoring", "lab", "stop", "interaction", "counselling"})
PATIENT_VIEW_RULES = frozenset(
    {
        "contraindication.pregnancy",
        "documentation.pregnancy-potential",
        "prescription.window",
        "precaution.suicidal-ideation-now",
    }
)
ORDER_SELECT_KINDS = frozenset(
    {"contraindication", "interaction", "precaution", "indication", "documentation", "stop"}
)


def in_scope(hook: str, f: Finding) -> bool:
    """Whether ``hook`` shows ``f``."""
    if hook == "patient-view":
        return f.kind.value in PATIENT_VIEW_KINDS or f.rule_id in PATIENT_VIEW_RULES
    if hook == "order-select":
        return f.kind.value in ORDER_SELECT_KINDS
    return True


def _own_card(f: Finding, hook: str) -> bool:
    """Whether ``f`` gets a card of its own: it applies, is critical or a warning, and is not a
    checklist item shown on the Checklist card (at order-sign a warning item such as iPLEDGE is a
    checklist line, shown once) or already done."""
    if f.status is not Status.APPLIES or f.severity not in (Severity.CRITICAL, Severity.WARNING):
        return False
    if f.item is None or f.rule_id in OWN_CARD:
        return True
    return f.item.state in OPEN and hook == "order-select"


def cards_for(
    ev: Evaluation,
    hook: str,
    patient_id: str,
    problems: Problems,
    record: Record | None = None,
    *,
    course: bool = False,
) -> list[dict[str, Any]]:
    """Every card of an evaluation, most urgent first.

    ``record`` names the draft orders and the records of the medications (the cards say which
    order they are about); ``course``: the service holds a course for the patient.
    """
    scene = Scene.of(hook, record, course=course)
    titles = {f.rule_id: f.title for f in ev.findings}
    shown = [f for f in ev.findings if in_scope(hook, f) and scene.concerns(f)]
    cards = [finding_card(ev, f, scene, titles) for f in shown if _own_card(f, hook)]
    gating = [f for f in shown if f.status is Status.UNKNOWN and f.gating]
    info = information_card(ev, gating, problems, scene, titles)
    if info is not None:
        cards.append(info)
    if not scene.interacting_only:
        cards.append(
            checklist_card(ev, shown, scene, patient_id, titles, unrecognised=info is None)
        )
    elif info is None and cards and ev.unrecognised_medications:
        # No Checklist card for an interacting order: the line goes before the last card's
        # provenance line.
        head, _, last = cards[-1]["detail"].rpartition("\n\n")
        cards[-1]["detail"] = "\n".join([head, *_unrecognised_lines(ev), "", last])
    return [prune(card) for card in cards]
