"""Lab results (RULES §10) and lab schedules (RULES §9.3).

Triglycerides are converted to mg/dL and compared there (1 mmol/L = 88.57 mg/dL); ALT/AST are
compared as multiples of the result's own ULN, else of a configured ULN; with neither, the liver
rules are ``unknown``. Thresholds are strict (>). Each rule reads the most recent result per
analyte; at baseline a result older than the baseline lookback counts as missing.

The "suspected hepatitis" disjunct of ``lab.liver.severe`` reads reported symptoms (jaundice, dark
urine). An absent symptom list does not make it unknown: unreported symptoms are not "information
needed" (RULES §0.4, the reasoning of the ``stop.*`` override).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.checks.common import metabolic_risk
from domain.codes import ALT, AST, FASTING_GLUCOSE, MMOL_L, TG_MG_DL_PER_MMOL_L, TRIGLYCERIDES
from domain.context import Context, day, within_last
from domain.facts import LabResult
from domain.rules import FALSE, Item, Outcome, applies, unknown
from domain.vocab import ItemCategory, ItemState, LabProfile, Symptom, VisitType

HEPATITIS_SYMPTOMS = (Symptom.JAUNDICE, Symptom.DARK_URINE)
LIPIDS, LIVER = "lipids", "liver"
ANALYTE_NAMES = {TRIGLYCERIDES: "triglycerides", ALT: "ALT", AST: "AST"}


def tg_mg_dl(r: LabResult) -> float:
    """A triglyceride result in mg/dL."""
    return r.value * TG_MG_DL_PER_MMOL_L if r.unit == MMOL_L else r.value


def _fasting(r: LabResult) -> str:
    return {True: "fasting", False: "non-fasting", None: "fasting not recorded"}[r.fasting]


def _for_rules(ctx: Context, loinc: str) -> LabResult | None:
    results = ctx.results((loinc,))
    if ctx.baseline:
        days = ctx.policy.baseline_lookback_days
        results = tuple(
            r for r in results if within_last(r.collected_on, ctx.prescription_date, days)
        )
    return results[-1] if results else None


def _missing_text(ctx: Context, what: str) -> str:
    if ctx.baseline:
        return f"no {what} result within the {ctx.policy.baseline_lookback_days} days before the prescription"
    return f"no {what} result"


# --- triglycerides -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Triglycerides:
    """``lab.triglycerides.elevated`` (band ``elevated``) or ``.severe`` (band ``severe``)."""

    band: str

    def run(self, ctx: Context) -> Outcome:
        """Applies when the most recent TG falls in this band."""
        if ctx.labs is None:
            return unknown("labs")
        r = _for_rules(ctx, TRIGLYCERIDES)
        if r is None:
            return unknown(f"labs[{TRIGLYCERIDES}]", notes=(_missing_text(ctx, "triglyceride"),))
        p = ctx.policy
        mg = tg_mg_dl(r)
        severe = mg > p.tg_severe_mg_dl
        hit = severe if self.band == "severe" else (p.tg_elevated_mg_dl < mg <= p.tg_severe_mg_dl)
        if not hit:
            return FALSE
        low = p.tg_severe_mg_dl if self.band == "severe" else p.tg_elevated_mg_dl
        threshold = f"> {low:g} mg/dL ({low / TG_MG_DL_PER_MMOL_L:.2f} mmol/L)"
        if self.band == "elevated":
            threshold += f" and ≤ {p.tg_severe_mg_dl:g} mg/dL"
        shown = f"{r.value:g} {r.unit}" + (f" ({mg:.1f} mg/dL)" if r.unit == MMOL_L else "")
        return applies(
            f"triglycerides {shown} on {r.collected_on}, {_fasting(r)}",
            notes=() if r.fasting else (f"fasting status: {_fasting(r)}",),
            data=(
                ("value", r.value),
                ("unit", r.unit),
                ("value_mg_dl", round(mg, 1)),
                ("threshold", threshold),
                ("fasting", r.fasting),
                ("collected_on", r.collected_on.isoformat()),
            ),
        )


# --- liver -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiverValue:
    """The most recent ALT or AST result and its multiple of the ULN (``None``: no ULN)."""

    result: LabResult
    uln: float | None
    multiple: float | None


def liver_values(ctx: Context) -> tuple[LiverValue, ...]:
    """Most recent ALT and AST results (as the rules read them) with their ULN multiples."""
    return ctx.memo("liver_values", _liver_values)


def _liver_values(ctx: Context) -> tuple[LiverValue, ...]:
    out: list[LiverValue] = []
    for loinc, configured in ((ALT, ctx.policy.uln_alt_u_l), (AST, ctx.policy.uln_ast_u_l)):
        r = _for_rules(ctx, loinc)
        if r is None:
            continue
        uln = r.uln or configured
        out.append(LiverValue(r, uln, r.value / uln if uln else None))
    return tuple(out)


def _liver_trigger(v: LiverValue) -> str:
    r = v.result
    name = ANALYTE_NAMES[r.loinc]
    return f"{name} {r.value:g} {r.unit} on {r.collected_on} = {v.multiple:.2f} × ULN {v.uln:g}"


def liver_severe(ctx: Context) -> Outcome:
    """``lab.liver.severe``: ALT or AST > 5 × ULN, or suspected hepatitis (memoised)."""
    return ctx.memo("liver_severe", _liver_severe)


def _liver_severe(ctx: Context) -> Outcome:
    symptoms = ctx.symptoms or frozenset()
    hepatitis = [s for s in HEPATITIS_SYMPTOMS if s in symptoms]
    if hepatitis:
        return applies(*(f"suspected hepatitis: reported {s.value}" for s in hepatitis))
    if ctx.labs is None:
        return unknown("labs")
    values = liver_values(ctx)
    if not values:
        return unknown(f"labs[{ALT}]", notes=(_missing_text(ctx, "ALT or AST"),))
    limit = ctx.policy.liver_severe_uln
    hits = [v for v in values if v.multiple is not None and v.multiple > limit]
    if hits:
        return _liver_applies(hits, f"> {limit:g} × ULN")
    if any(v.multiple is None for v in values):
        return _no_uln(values)
    return FALSE


def _liver_applies(hits: list[LiverValue], threshold: str) -> Outcome:
    return applies(
        *(_liver_trigger(v) for v in hits),
        data=tuple(
            (
                ANALYTE_NAMES[v.result.loinc],
                {
                    "value": v.result.value,
                    "unit": v.result.unit,
                    "uln": v.uln,
                    "multiple_of_uln": round(v.multiple or 0.0, 2),
                    "threshold": threshold,
                },
            )
            for v in hits
        ),
    )


def _no_uln(values: tuple[LiverValue, ...]) -> Outcome:
    names = [ANALYTE_NAMES[v.result.loinc] for v in values if v.multiple is None]
    return unknown(
        *(f"labs[{v.result.loinc}].uln" for v in values if v.multiple is None),
        notes=(
            f"no ULN on the {' and '.join(names)} result and none configured: nothing is assumed",
        ),
    )


@dataclass(frozen=True, slots=True)
class Liver:
    """``lab.liver.elevated`` (band ``elevated``) or ``lab.liver.severe`` (band ``severe``)."""

    band: str

    def run(self, ctx: Context) -> Outcome:
        """The bands are exclusive: elevated applies only when severe does not."""
        severe = liver_severe(ctx)
        if self.band == "severe":
            return severe
        if severe.truth is True:
            return FALSE
        if ctx.labs is None:
            return unknown("labs")
        values = liver_values(ctx)
        if not values:
            return unknown(f"labs[{ALT}]", notes=(_missing_text(ctx, "ALT or AST"),))
        p = ctx.policy
        hits = [
            v
            for v in values
            if v.multiple is not None and p.liver_elevated_uln < v.multiple <= p.liver_severe_uln
        ]
        if hits:
            return _liver_applies(
                hits, f"> {p.liver_elevated_uln:g} and ≤ {p.liver_severe_uln:g} × ULN"
            )
        if any(v.multiple is None for v in values):
            return _no_uln(values)
        return FALSE


# --- lab schedules (monitoring.lipids, monitoring.liver) ----------------------------------


@dataclass(frozen=True, slots=True)
class LabItem:
    """The state of a lab checklist item.

    Attributes:
        item: The item.
        notes: Notes (e.g. "fasting not confirmed").
        indeterminate: Lab results were not given at a follow-up: ``overdue`` cannot be judged.
    """

    item: Item
    notes: tuple[str, ...] = ()
    indeterminate: bool = False


def _qualifying(ctx: Context, which: str) -> tuple[LabResult, ...]:
    if which == LIPIDS:
        return tuple(r for r in ctx.results((TRIGLYCERIDES,)) if r.fasting is not False)
    return ctx.results((ALT, AST))


def _codes(which: str) -> tuple[str, ...]:
    from domain.codes import LIPID_LOINCS, LIVER_LOINCS

    return LIPID_LOINCS if which == LIPIDS else LIVER_LOINCS


def _describe(r: LabResult) -> str:
    name = ANALYTE_NAMES.get(r.loinc, r.loinc)
    extra = f", {_fasting(r)}" if r.loinc == TRIGLYCERIDES else ""
    return f"{name} {r.value:g} {r.unit} on {r.collected_on}{extra}"


def _normal(ctx: Context, r: LabResult) -> bool:
    if r.loinc == TRIGLYCERIDES:
        return tg_mg_dl(r) <= ctx.policy.tg_elevated_mg_dl
    uln = r.uln or (ctx.policy.uln_alt_u_l if r.loinc == ALT else ctx.policy.uln_ast_u_l)
    return uln is not None and r.value / uln <= ctx.policy.liver_elevated_uln


def last_dose_increase(ctx: Context) -> date | None:
    """The date of the latest dispensing at a higher mg/day than the one before it."""
    last: date | None = None
    previous: float | None = None
    for d in ctx.dispensings:
        if previous is not None and d.mg_per_day > previous:
            last = d.dispensed_on
        previous = d.mg_per_day
    return last


def lab_item(ctx: Context, which: str) -> LabItem | None:
    """``monitoring.lipids`` or ``monitoring.liver`` at this visit; ``None``: not relevant."""
    return ctx.memo(f"lab_item:{which}", lambda c: _lab_item(c, which))


def _lab_item(ctx: Context, which: str) -> LabItem | None:
    if ctx.visit_type not in (VisitType.BASELINE, VisitType.FOLLOW_UP):
        return None
    cat, codes = ItemCategory.LAB, _codes(which)
    results = _qualifying(ctx, which)
    notes: tuple[str, ...] = ()
    if which == LIPIDS and any(r.fasting is False for r in ctx.results((TRIGLYCERIDES,))):
        notes = ("a non-fasting lipid result does not satisfy the item",)
    if ctx.baseline:
        recent = [
            r
            for r in results
            if within_last(r.collected_on, ctx.prescription_date, ctx.policy.baseline_lookback_days)
        ]
        if recent:
            r = recent[-1]
            if r.loinc == TRIGLYCERIDES and r.fasting is None:
                notes = (*notes, "fasting not confirmed")
            return LabItem(Item(cat, ItemState.DONE, codes=codes, satisfied_by=_describe(r)), notes)
        return LabItem(
            Item(cat, ItemState.DUE, due_by=ctx.prescription_date, codes=codes),
            (*notes, _missing_text(ctx, "qualifying")),
        )
    if ctx.labs is None:
        return LabItem(
            Item(cat, ItemState.DUE, codes=codes),
            ("no lab results were given",),
            indeterminate=True,
        )
    start = ctx.treatment_start
    if start is None:
        return LabItem(Item(cat, ItemState.DUE, codes=codes), ("treatment start not recorded",))
    profile = ctx.lab_profile
    if profile is LabProfile.EVIDENCE:
        return _evidence(ctx, which, results, start, notes)
    if profile is LabProfile.SMPC:
        return _smpc(ctx, which, results, start, notes)
    return _label(ctx, which, results, start, notes)


def _every_visit(
    ctx: Context, which: str, results: tuple[LabResult, ...], notes: tuple[str, ...]
) -> LabItem:
    """Due at each follow-up; ``done`` with a result since the previous visit.

    ``overdue`` when the latest result is older than ``label_lab_overdue_days`` (35).
    """
    codes = _codes(which)
    latest = results[-1] if results else None
    if latest is not None and ctx.in_item_window(latest.collected_on):
        return LabItem(
            Item(ItemCategory.LAB, ItemState.DONE, codes=codes, satisfied_by=_describe(latest)),
            notes,
        )
    limit = ctx.policy.label_lab_overdue_days
    if latest is None or (ctx.as_of - latest.collected_on).days > limit:
        age = "no result" if latest is None else f"latest result {latest.collected_on}"
        return LabItem(
            Item(ItemCategory.LAB, ItemState.OVERDUE, codes=codes),
            (*notes, f"{age}: more than {limit} days old"),
        )
    return LabItem(Item(ItemCategory.LAB, ItemState.DUE, codes=codes), notes)


def _label(
    ctx: Context, which: str, results: tuple[LabResult, ...], start: date, notes: tuple[str, ...]
) -> LabItem:
    since = max(start, last_dose_increase(ctx) or start)
    follow_ups = [r for r in results if r.collected_on > start and r.collected_on >= since]
    established = next((r for r in follow_ups if _normal(ctx, r)), None)
    latest = results[-1] if results else None
    if established is not None and latest is not None and _normal(ctx, latest):
        return LabItem(
            Item(
                ItemCategory.LAB,
                ItemState.NOT_REQUIRED,
                codes=_codes(which),
                satisfied_by=_describe(established),
            ),
            (
                *notes,
                "response established at the current dose; due again after a dose increase or "
                "an abnormal result",
            ),
        )
    return _every_visit(ctx, which, results, notes)


def _evidence(
    ctx: Context, which: str, results: tuple[LabResult, ...], start: date, notes: tuple[str, ...]
) -> LabItem:
    p, codes = ctx.policy, _codes(which)
    first, last = start + day(p.evidence_lab_due_from_day), start + day(p.evidence_lab_due_to_day)
    follow_ups = [r for r in results if r.collected_on >= first]
    if follow_ups:
        latest = results[-1]
        if not _normal(ctx, latest) or metabolic_risk(ctx).truth is True:
            return _label(ctx, which, results, start, notes)
        return LabItem(
            Item(ItemCategory.LAB, ItemState.DONE, first, last, codes, _describe(follow_ups[0])),
            notes,
        )
    return _windowed(ctx, codes, first, last, notes)


def _smpc(
    ctx: Context, which: str, results: tuple[LabResult, ...], start: date, notes: tuple[str, ...]
) -> LabItem:
    if metabolic_risk(ctx).truth is True:
        return _every_visit(ctx, which, results, (*notes, "metabolic risk: at every follow-up"))
    p, codes = ctx.policy, _codes(which)
    first = start + day(p.smpc_first_due_from_day)
    follow_ups = [r for r in results if r.collected_on >= first]
    if not follow_ups:
        return _windowed(ctx, codes, first, start + day(p.smpc_first_due_to_day), notes)
    latest = follow_ups[-1]
    nxt, end = (
        latest.collected_on + day(p.smpc_repeat_due_from_days),
        latest.collected_on + day(p.smpc_repeat_due_to_days),
    )
    if ctx.as_of < nxt:
        return LabItem(
            Item(ItemCategory.LAB, ItemState.DONE, nxt, end, codes, _describe(latest)), notes
        )
    return _windowed(ctx, codes, nxt, end, notes)


def _windowed(
    ctx: Context, codes: tuple[str, ...], first: date, last: date, notes: tuple[str, ...]
) -> LabItem:
    if ctx.as_of < first:
        return LabItem(
            Item(ItemCategory.LAB, ItemState.NOT_REQUIRED, first, last, codes),
            (*notes, f"not yet due: due from {first} to {last}"),
        )
    state = ItemState.DUE if ctx.as_of <= last else ItemState.OVERDUE
    return LabItem(Item(ItemCategory.LAB, state, first, last, codes), notes)


@dataclass(frozen=True, slots=True)
class LabSchedule:
    """``monitoring.lipids`` (``which="lipids"``) or ``monitoring.liver`` (``"liver"``)."""

    which: str

    def run(self, ctx: Context) -> Outcome:
        """The item by the lab profile in force."""
        state = lab_item(ctx, self.which)
        if state is None:
            return FALSE
        return Outcome(True, item=state.item, notes=state.notes)


@dataclass(frozen=True, slots=True)
class LabStale:
    """``lab.stale``: applies exactly when a lipid or liver item is ``overdue``."""

    def run(self, ctx: Context) -> Outcome:
        """Overdue items fire it; results not given at a follow-up make it unknown."""
        if ctx.visit_type is not VisitType.FOLLOW_UP:
            return FALSE
        items = [(w, lab_item(ctx, w)) for w in (LIPIDS, LIVER)]
        overdue = [(w, s) for w, s in items if s is not None and s.item.state is ItemState.OVERDUE]
        if overdue:
            return applies(
                *(
                    f"monitoring.{w} overdue"
                    + (f" (window {s.item.due_from} to {s.item.due_by})" if s.item.due_from else "")
                    for w, s in overdue
                )
            )
        if any(s is not None and s.indeterminate for _, s in items):
            return unknown("labs")
        return FALSE


@dataclass(frozen=True, slots=True)
class GlucoseSchedule:
    """``monitoring.glucose``: only for a patient with diabetes (RULES §9.3)."""

    def run(self, ctx: Context) -> Outcome:
        """Due at baseline and each follow-up; done with a fasting glucose in the item window."""
        from domain.checks.common import conditions_in
        from domain.codes import DIABETES

        if ctx.visit_type not in (VisitType.BASELINE, VisitType.FOLLOW_UP):
            return FALSE
        if conditions_in(ctx, DIABETES.name, current_only=False).truth is not True:
            return FALSE
        recent = [r for r in ctx.results((FASTING_GLUCOSE,)) if ctx.in_item_window(r.collected_on)]
        codes = (FASTING_GLUCOSE,)
        if recent:
            r = recent[-1]
            done = Item(
                ItemCategory.LAB,
                ItemState.DONE,
                codes=codes,
                satisfied_by=f"fasting glucose {r.value:g} {r.unit} on {r.collected_on}",
            )
            return Outcome(True, item=done)
        return Outcome(
            True,
            item=Item(ItemCategory.LAB, ItemState.DUE, codes=codes),
            notes=(f"fasting glucose {ctx.item_window_text}",),
        )
