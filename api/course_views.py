"""The course views (RULES §15): the checklist and timeline a stored course gives on ``as_of``.

Both are views of one evaluation, the one a course assessment with an empty profile makes, so they
give every rule the status the assessment gives it. They never look reassuring while a ``stop.*``
rule applies:

* the checklist lists every applying finding and every gating ``unknown`` under ``findings``, the
  most severe applying one as ``alert``; the prescription window and the pregnancy tests that lead
  to the next prescription (screening, confirmation, monthly) are ``suspended``, naming the stop
  rules. The end-of-therapy and post-therapy tests are what stopping requires (RULES §9.1): they
  stay as the rules give them;
* the timeline marks the stored events the findings are about (positive or indeterminate pregnancy
  tests, positive mood screens, abnormal lab results, stop symptoms), and replaces the projections
  (the suspended items and the cumulative-target date) by one ``suspended`` entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from api.schemas.common import CourseItemState
from api.schemas.courses import CourseChecklistOut, Timeline, TimelineEntry, TimelineMark
from api.schemas.evaluation import checklist_wire, context_of, cumulative_wire, finding_wire
from db.tables import CourseEvent
from domain.checks.clinical import positive_screen
from domain.checks.common import StopSymptoms
from domain.codes import ALT, AST, TRIGLYCERIDES
from domain.context import Context
from domain.course import CourseHistory
from domain.engine import Evaluation, Finding
from domain.facts import Facts, MoodScreen
from domain.rules import Catalog
from domain.settings import EvaluationSettings
from domain.vocab import (
    SEVERITY_RANK,
    ItemCategory,
    ItemState,
    MoodInstrument,
    RuleKind,
    Severity,
    Status,
    Symptom,
    VisitType,
)

WINDOW = "prescription.window"
OPEN_STATES = (ItemState.DUE, ItemState.OVERDUE)
PREGNANCY = "contraindication.pregnancy"
STOP_PREGNANCY = "stop.pregnancy"
PSYCHIATRIC = "precaution.psychiatric-history"
SUICIDAL = "precaution.suicidal-ideation-now"
ITEM_9_INSTRUMENTS = (MoodInstrument.PHQ9, MoodInstrument.PHQA)
# The lab rules' structured data name the analyte of a liver result (``domain.checks.labs``).
LIVER_ANALYTES = {"ALT": ALT, "AST": AST}
SUMMARY_MAX = 200


def _while(stops: list[str]) -> str:
    verb = "applies" if len(stops) == 1 else "apply"
    return f"{', '.join(stops)} {verb}, and a stop rule ends treatment"


def _suspension(stops: list[str]) -> str:
    return (
        f"Suspended: {_while(stops)}; no prescription window or next pregnancy test is scheduled "
        "while it does (see `findings`)."
    )


def _entry(entry: dict[str, Any], ev: Evaluation) -> dict[str, Any]:
    """A checklist entry of the course view (suspended while a stop rule applies)."""
    stops = list(ev.stop_rules)
    if entry["rule_id"] not in ev.suspended:
        return {**entry, "state": CourseItemState(entry["state"].value)}
    return {
        **entry,
        "state": CourseItemState.SUSPENDED,
        "due_from": None,
        "due_by": None,
        "suspended_by": stops,
        "reason": _suspension(stops),
    }


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1].rstrip() + "…"


def _alert(ev: Evaluation) -> dict[str, Any] | None:
    """The most severe applying finding: among equally severe ones a stop rule first (it changes
    what to do now), then the evaluation's order. Items already done or not required are not
    alerts."""
    candidates = [
        (SEVERITY_RANK[f.severity], f.kind is not RuleKind.STOP, i, f)
        for i, f in enumerate(ev.findings)
        if f.status is Status.APPLIES and (f.item is None or f.item.state in OPEN_STATES)
    ]
    if not candidates:
        return None
    f = min(candidates, key=lambda c: c[:3])[3]
    key = f.triggers[0] if f.triggers else f.text
    return {"rule_id": f.rule_id, "severity": f.severity, "summary": _one_line(f"{f.title}: {key}")}


def course_checklist(ev: Evaluation, course_id: str) -> CourseChecklistOut:
    """The course checklist: the evaluation's findings, alert and checklist (RULES §15)."""
    findings = [finding_wire(x) for x in ev.findings]
    checklist = [_entry(checklist_wire(x), ev) for x in findings if x["item"] is not None]
    window = next((c for c in checklist if c["rule_id"] == WINDOW), None)
    return CourseChecklistOut.model_validate(
        {
            **context_of(ev),
            "course_id": course_id,
            "alert": _alert(ev),
            "findings": [
                w
                for w, x in zip(findings, ev.findings, strict=True)
                if x.status is Status.APPLIES or x.gating
            ],
            "checklist": checklist,
            "cumulative": cumulative_wire(ev.dosing.cumulative),
            "prescription_window": window,
            "pregnancy_tests_due": [
                c
                for c in checklist
                if c["category"] is ItemCategory.PREGNANCY_TEST
                and c["state"]
                in (CourseItemState.DUE, CourseItemState.OVERDUE, CourseItemState.SUSPENDED)
            ],
            "lab_findings": [x for x in findings if x["kind"] is RuleKind.LAB],
            "supply_limit": [x for x in findings if x["rule_id"] == "prescription.supply-limit"],
            "not_assessed": [
                {"rule_id": x.rule_id, "missing": x.missing}
                for x in ev.findings
                if x.status is Status.UNKNOWN
            ],
        }
    )


# --- the timeline ----------------------------------------------------------------------------


class _Marker:
    """Marks stored events with the rules the evaluation on ``as_of`` reports about them."""

    def __init__(
        self,
        ev: Evaluation,
        history: CourseHistory,
        catalog: Catalog,
        settings: EvaluationSettings,
    ) -> None:
        self.ev = ev
        self.on = ev.as_of
        in_force = catalog.in_force(ev.jurisdiction, ev.as_of)
        self.severities = {r.id: v.severity for r, v in in_force}
        self.stop_symptoms: list[tuple[str, frozenset[Symptom]]] = [
            (r.id, frozenset(v.check.symptoms))
            for r, v in in_force
            if r.kind is RuleKind.STOP and isinstance(v.check, StopSymptoms)
        ]
        self.ctx = Context(Facts(), ev.as_of, ev.jurisdiction, settings)
        # stop.pregnancy is contraindication.pregnancy at every visit after the first dose.
        self.pregnancy = (
            [PREGNANCY] if ev.visit_type is VisitType.BASELINE else [STOP_PREGNANCY, PREGNANCY]
        )
        self.labs = self._lab_marks(history)

    def mark(self, rule_id: str) -> TimelineMark | None:
        """``rule_id`` with its severity and its status on ``as_of`` (none if not in force)."""
        f = self.ev.finding(rule_id)
        if f is not None:
            return TimelineMark(rule_id=rule_id, severity=f.severity, status=f.status)
        severity = self.severities.get(rule_id)
        return None if severity is None else TimelineMark(rule_id=rule_id, severity=severity)

    def _lab_findings(self) -> Iterable[Finding]:
        return (
            f
            for f in self.ev.findings
            if f.kind is RuleKind.LAB
            and f.status is Status.APPLIES
            and f.severity in (Severity.WARNING, Severity.CRITICAL)
        )

    def _lab_marks(self, history: CourseHistory) -> dict[tuple[str, date, float, str], list[str]]:
        """The lab results (LOINC, date, value, unit) each abnormal ``lab.*`` finding is about.

        A finding reads the most recent result of its analyte (RULES §10); its structured data
        name that result (triglycerides: with its date; ALT/AST: the latest of that analyte).
        """
        latest: dict[str, date] = {}
        for r in history.labs:
            if r.collected_on <= self.on and r.collected_on > latest.get(r.loinc, date.min):
                latest[r.loinc] = r.collected_on
        marks: dict[tuple[str, date, float, str], list[str]] = {}
        for f in self._lab_findings():
            data = dict(f.data)
            if "collected_on" in data:
                keys = [
                    (
                        TRIGLYCERIDES,
                        date.fromisoformat(str(data["collected_on"])),
                        float(data["value"]),
                        str(data["unit"]),
                    )
                ]
            else:
                keys = [
                    (loinc, latest[loinc], float(v["value"]), str(v["unit"]))
                    for name, loinc in LIVER_ANALYTES.items()
                    if isinstance(v := data.get(name), dict) and loinc in latest
                ]
            for key in keys:
                marks.setdefault(key, []).append(f.rule_id)
        return marks

    def _screen(self, s: MoodScreen) -> list[str]:
        rules = [PSYCHIATRIC] if positive_screen(self.ctx, s) else []
        if s.instrument in ITEM_9_INSTRUMENTS and s.item_9 is not None and s.item_9 > 0:
            rules.insert(0, SUICIDAL)
        return rules

    def rules_for(self, e: CourseEvent) -> list[str]:
        """The rules event ``e`` is marked with (none after ``as_of``)."""
        if e.event_date > self.on:
            return []
        d = e.data
        if e.kind == "pregnancy-test" and d["result"] in ("positive", "indeterminate"):
            return list(self.pregnancy)
        if e.kind == "lab":
            key = (d["loinc"], e.event_date, float(d["value"]), str(d["unit"]))
            return self.labs.get(key, [])
        if e.kind == "visit":
            rules: list[str] = []
            screen = d.get("mood_screen")
            if screen is not None:
                rules += self._screen(
                    MoodScreen(
                        instrument=MoodInstrument(screen["instrument"]),
                        total=screen["total"],
                        item_9=screen.get("item_9"),
                        screened_on=e.event_date,
                    )
                )
            reported = {Symptom(s) for s in d.get("reported_symptoms") or ()}
            rules += [rid for rid, symptoms in self.stop_symptoms if reported & symptoms]
            return rules
        return []

    def entry(self, e: CourseEvent, summary: str) -> TimelineEntry:
        """The timeline entry of a stored event, with its marks."""
        marks = [m for m in (self.mark(r) for r in self.rules_for(e)) if m is not None]
        return _marked(
            TimelineEntry(on=e.event_date, type="event", kind=e.kind, summary=summary), marks
        )


def _marked(entry: TimelineEntry, marks: list[TimelineMark]) -> TimelineEntry:
    """``entry`` with ``marks``, the most severe (then the first) as its rule."""
    if not marks:
        return entry
    top = min(marks, key=lambda m: SEVERITY_RANK[m.severity])
    return entry.model_copy(
        update={
            "marks": marks,
            "rule_id": top.rule_id,
            "severity": top.severity,
            "status": top.status,
        }
    )


def summary_of(e: CourseEvent) -> str:
    """A stored event in words."""
    d = e.data
    match e.kind:
        case "dispensing":
            return f"dispensed {d['mg_per_day']:g} mg/day for {d['days_supplied']} days"
        case "lab":
            return f"lab {d['loinc']}: {d['value']:g} {d['unit']}"
        case "pregnancy-test":
            return f"pregnancy test {d['result']} ({d['setting']})"
        case "contraception":
            return f"contraception {d['method']}"
        case "counselling":
            return f"counselling {d['topic']}"
        case "documentation":
            return f"documentation {d['kind']}"
        case "pregnancy-potential":
            return f"pregnancy potential: {d['category']}"
        case _:
            return _visit_summary(d)


def _visit_summary(d: dict[str, Any]) -> str:
    parts = ["visit"]
    screen = d.get("mood_screen")
    if screen is not None:
        item9 = screen.get("item_9")
        parts.append(
            f"{screen['instrument']} {screen['total']}"
            + ("" if item9 is None else f" (item 9 = {item9})")
        )
    symptoms = d.get("reported_symptoms")
    if symptoms:
        parts.append("symptoms: " + ", ".join(symptoms))
    return "; ".join(parts)


def course_timeline(
    course_id: str,
    ev: Evaluation,
    history: CourseHistory,
    events: list[CourseEvent],
    checklist: CourseChecklistOut,
    catalog: Catalog,
    settings: EvaluationSettings,
) -> Timeline:
    """Every stored event up to ``as_of`` by date, marked; then what is scheduled, or
    ``suspended`` (RULES §15). Events dated after ``as_of`` are left out: a timeline as of a past
    date shows what had happened by then (RULES §0.5)."""
    on = ev.as_of
    marker = _Marker(ev, history, catalog, settings)
    entries = [marker.entry(e, summary_of(e)) for e in events if e.event_date <= on]
    suspended = [i for i in checklist.checklist if i.state is CourseItemState.SUSPENDED]
    for item in checklist.checklist:
        if item.state in (CourseItemState.DUE, CourseItemState.OVERDUE):
            entries.append(
                TimelineEntry(
                    on=item.due_from,
                    type="scheduled",
                    kind=item.rule_id,
                    summary=item.title,
                    due_by=item.due_by,
                    state=item.state.value,
                )
            )
    stops = list(ev.stop_rules)
    c = checklist.cumulative
    if stops:
        what = [i.rule_id for i in suspended]
        if c is not None and c.days_remaining is not None:
            what.append("dosing.cumulative-target")
        marks = [m for m in (marker.mark(r) for r in stops) if m is not None]
        entries.append(
            _marked(
                TimelineEntry(
                    on=on,
                    type="suspended",
                    kind="projections",
                    summary=f"Projections suspended: {_while(stops)}"
                    + (f"; not projected: {', '.join(what)}." if what else "."),
                ),
                marks,
            )
        )
    elif c is not None and c.days_remaining is not None:
        end = on.toordinal() + int(c.days_remaining.low)
        entries.append(
            TimelineEntry(
                on=date.fromordinal(end),
                type="projection",
                kind="dosing.cumulative-target",
                summary=(
                    f"cumulative target {c.target_mg_per_kg.low:g} mg/kg reached at "
                    f"{c.daily_mg or 0:g} mg/day"
                ),
            )
        )
    entries.sort(key=lambda x: (x.on is None, x.on or date.max, x.type))
    return Timeline(course_id=course_id, as_of=on, entries=entries)
