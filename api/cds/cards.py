"""Findings as CDS Hooks 2.0 cards.

* One card per finding that applies with severity ``critical`` or ``warning``; its indicator is the
  severity in the client's jurisdiction.
* One "Information needed" card listing every gating ``unknown`` finding and the data the service
  could not see or read; ``critical`` when it holds the pregnancy or programme finding at
  order-sign, otherwise ``warning``.
* One "Checklist" card (``info``) with the items due or overdue and the ``info`` findings; the
  indication appears there ("not assessable from the record" without an acne assessment).
* Medications the service could not classify (``unrecognised_medications``, RULES §13) are one
  line on the "Information needed" card; when there is no such card (nothing gating, nothing
  missing) the line goes on the "Checklist" card instead. They never make a card of their own and
  never change a decision.

No card ever says "safe", "cleared" or "OK to prescribe". Every card and suggestion has a
``uuid``; fields without a value are omitted (CDS Hooks 2.0 JSON rules).
"""

from __future__ import annotations

import uuid
from typing import Any

from api.cds.fhir import Problems
from api.cds.prefetch import FEEDS
from domain.codes import ISOCDS, LOINC
from domain.engine import Evaluation, Finding
from domain.sources import SOURCES_BY_ID
from domain.vocab import ItemState, Severity, Status

SUMMARY_MAX = 139
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


def _summary(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1].rstrip() + "…"


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
        lines.append(f"- {src.citation}{where} (`{cit.source}`){link}")
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


def _context_line(ev: Evaluation) -> str:
    return f"_Jurisdiction {ev.jurisdiction.value}, rules of {ev.epoch}, as of {ev.as_of}._"


def _service_request(patient_id: str, loinc: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "code": {"coding": [{"system": LOINC, "code": loinc}], "text": text},
    }


def _suggestions(rule_ids: list[str], patient_id: str) -> list[dict[str, Any]]:
    out = []
    seen: set[str] = set()
    for rid in rule_ids:
        spec = ORDERS.get(rid)
        if spec is None or spec[0] in seen:
            continue
        label, tests = spec
        seen.add(label)
        out.append(
            {
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
            }
        )
    return out


def finding_card(ev: Evaluation, f: Finding) -> dict[str, Any]:
    """The card of one applying critical or warning finding."""
    parts = [f"**{f.title}** ({f.severity.value})", "", f.text]
    if f.triggers:
        parts += ["", "What triggered it:", *(f"- {t}" for t in f.triggers)]
    if f.notes:
        parts += ["", *(f"- {n}" for n in f.notes)]
    if f.rule_id == "contraindication.ppp-not-met":
        parts += [
            "",
            "The EHR record does not carry contraception methods, counselling, iPLEDGE steps or "
            "signed forms: confirm each of them (they count as not recorded).",
        ]
    if f.rule_id == "documentation.pregnancy-potential":
        parts += [
            "",
            "Pregnancy-prevention requirements apply until the prescriber records whether the "
            "patient can become pregnant. Recording it is the prescriber's deliberate act.",
        ]
    parts += [
        "",
        f"Rule `{f.rule_id}` v{f.rule_version}, variant {f.variant}; verification: {f.verification.value}; "
        f"basis: {f.basis.value}.",
        _context_line(ev),
        "",
        "Sources:",
        _citations(f),
    ]
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": _summary(f"{f.title}: {f.text}"),
        "detail": "\n".join(parts),
        "indicator": f.severity.value,
        "source": _source(f),
        "overrideReasons": list(OVERRIDE_REASONS),
        "extension": _extension(ev, [f]),
    }
    return card


def information_card(
    ev: Evaluation, gating: list[Finding], problems: Problems, hook: str
) -> dict[str, Any] | None:
    """The "Information needed" card, or ``None`` when nothing is missing."""
    if not gating and not problems.unavailable and not problems.unreadable:
        return None
    critical = hook == "order-sign" and any(f.rule_id in PROGRAMME for f in gating)
    parts = ["The service could not decide these on the data it could see:", ""]
    for f in gating:
        missing = ", ".join(f.missing) or "not recorded"
        parts.append(f"- **{f.title}** (`{f.rule_id}`): missing {missing}")
    if problems.unavailable:
        parts += ["", "Data the EHR did not send and the service could not fetch:"]
        parts += [f"- `{key}`: {FEEDS.get(key, key)}" for key in sorted(problems.unavailable)]
    if problems.unreadable:
        parts += ["", "Data that could not be read:", *(f"- {u}" for u in problems.unreadable)]
    parts += _unrecognised_lines(ev)
    parts += ["", _context_line(ev)]
    names = [f.title.lower() for f in gating[:3]]
    more = f" and {len(gating) - 3} more" if len(gating) > 3 else ""
    what = ", ".join(names) + more if names else "some data could not be obtained"
    return {
        "uuid": str(uuid.uuid4()),
        "summary": _summary(f"Information needed: {what}"),
        "detail": "\n".join(parts),
        "indicator": "critical" if critical else "warning",
        "source": _service_source("information-needed", "Information needed"),
        "extension": _extension(ev, gating),
    }


def _unrecognised_lines(ev: Evaluation) -> list[str]:
    """The line naming medications the service could not classify (no decision effect)."""
    if not ev.unrecognised_medications:
        return []
    names = "; ".join(ev.unrecognised_medications)
    return ["", f"Medications not recognised (check them for interactions yourself): {names}"]


def checklist_card(
    ev: Evaluation, shown: list[Finding], hook: str, patient_id: str, *, unrecognised: bool
) -> dict[str, Any]:
    """The "Checklist" card: items due or overdue, info findings, and the indication (not
    assessable: a FHIR record carries no acne assessment)."""
    items = [
        f
        for f in ev.checklist
        if hook != "order-select" and in_scope(hook, f) and f.status is Status.APPLIES and f.item
    ]
    open_items = [f for f in items if f.item and f.item.state in (ItemState.DUE, ItemState.OVERDUE)]
    # RULES §15: while a stop rule applies, the window and the next pregnancy tests are suspended.
    due = [f for f in open_items if f.rule_id not in ev.suspended]
    suspended = [f for f in items if f.rule_id in ev.suspended]
    infos = [
        f
        for f in shown
        if f.status is Status.APPLIES and f.severity is Severity.INFO and f.item is None
    ]
    parts: list[str] = []
    if due:
        parts.append("**Due now**")
        for f in due:
            assert f.item is not None  # noqa: S101  # filtered above
            window = ""
            if f.item.due_from or f.item.due_by:
                window = f" ({f.item.due_from or '…'} to {f.item.due_by or '…'})"
            parts.append(f"- {f.title}: {f.item.state.value}{window}")
    if suspended:
        stops = ", ".join(ev.stop_rules)
        parts += ["", f"**Suspended while {stops} applies** (a stop rule ends treatment)"]
        parts += [f"- {f.title}: suspended" for f in suspended]
    parts += ["", "**Indication:** not assessable from the record (no acne assessment)"]
    # Notes on items already done (e.g. a home test accepted before the 2026 REMS update).
    done_notes = [f for f in items if f.item and f.item.state is ItemState.DONE and f.notes]
    if infos or done_notes:
        parts += ["", "**Notes**", *(f"- {f.title}: {f.text}" for f in infos)]
        parts += [f"- {f.title} (done): {'; '.join(f.notes)}" for f in done_notes]
    if unrecognised:
        parts += _unrecognised_lines(ev)
    parts += ["", _context_line(ev)]
    rule_ids = [f.rule_id for f in due]
    suggestions = _suggestions(rule_ids, patient_id)
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": _summary(
            f"Checklist: {len(due)} item(s) due or overdue" if due else "Checklist: nothing due now"
        ),
        "detail": "\n".join(parts).strip(),
        "indicator": "info",
        "source": _service_source("checklist", "Checklist"),
        "extension": _extension(ev, due + infos),
    }
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "any"
    return card


EXPOSURE_KEYS = ("medRequests", "medDispenses", "medStatements")


def exposure_unknown_card(problems: Problems) -> dict[str, Any]:
    """The card for a call whose trigger needs isotretinoin exposure when no medication data could
    be seen: no cards would read as "nothing to say", which the service cannot know."""
    keys = [k for k in EXPOSURE_KEYS if k in problems.unavailable]
    parts = [
        "The service could not see this patient's medication orders, dispensings or statements, "
        "and holds no treatment course for the patient, so it cannot tell whether the patient is "
        "taking isotretinoin.",
        "",
        "Data the EHR did not send and the service could not fetch:",
        *(f"- `{key}`: {FEEDS[key]}" for key in keys),
    ]
    return {
        "uuid": str(uuid.uuid4()),
        "summary": "Information needed: medication data unavailable, isotretinoin use unknown",
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
# picture for a patient on treatment: due items, lab and symptom findings, interactions with what
# they take now, and pregnancy; the programme's paperwork (never in the EHR record) is left to the
# order hooks. ``order-select`` is the early check of the order: contraindications, interactions,
# precautions, missing pregnancy-prevention steps and the indication. ``order-sign`` is everything.
PATIENT_VIEW_KINDS = frozenset({"monitoring", "lab", "stop", "interaction"})
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


def cards_for(
    ev: Evaluation, hook: str, patient_id: str, problems: Problems
) -> list[dict[str, Any]]:
    """Every card of an evaluation, most urgent first."""
    shown = [f for f in ev.findings if in_scope(hook, f)]
    cards = [
        finding_card(ev, f)
        for f in shown
        if f.status is Status.APPLIES and f.severity in (Severity.CRITICAL, Severity.WARNING)
    ]
    gating = [f for f in shown if f.status is Status.UNKNOWN and f.gating]
    info = information_card(ev, gating, problems, hook)
    if info is not None:
        cards.append(info)
    cards.append(checklist_card(ev, shown, hook, patient_id, unrecognised=info is None))
    return [prune(card) for card in cards]
