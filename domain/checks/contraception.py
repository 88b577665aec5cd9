"""Contraception (RULES §9.2): whether the recorded methods meet the programme.

* US: abstinence, or at least two methods of which at least one is primary; a progestin-only
  pill counts for nothing.
* EU/UK: at least one user-independent method, or at least two user-dependent methods
  (classification ``unverified``); abstinence is not a listed EU method.
* Before the first dose, each counted method must have started at least 30 days before it
  (``local-policy`` reading of "1 month"); a method that is too recent is a time-limited blocker
  whose ``not_before`` is the date the combination becomes sufficient.
* At follow-up and later visits, the counted methods must be confirmed since the previous visit.
  The 30-day lead is a start condition and is not re-judged after the first dose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.context import Context, day
from domain.facts import ContraceptionRecord
from domain.vocab import ContraceptionMethod as M

US_PRIMARY = frozenset(
    {
        M.TUBAL_STERILISATION,
        M.PARTNER_VASECTOMY,
        M.IUD_COPPER,
        M.IUD_HORMONAL,
        M.COMBINED_PILL,
        M.PATCH,
        M.VAGINAL_RING,
        M.INJECTION,
        M.IMPLANT,
    }
)
US_SECONDARY = frozenset(
    {M.MALE_CONDOM, M.DIAPHRAGM_SPERMICIDE, M.CERVICAL_CAP_SPERMICIDE, M.SPONGE_SPERMICIDE}
)
EU_USER_INDEPENDENT = frozenset(
    {M.IUD_COPPER, M.IUD_HORMONAL, M.IMPLANT, M.TUBAL_STERILISATION, M.PARTNER_VASECTOMY}
)
EU_USER_DEPENDENT = frozenset(
    {
        M.INJECTION,
        M.COMBINED_PILL,
        M.PATCH,
        M.VAGINAL_RING,
        M.PROGESTIN_ONLY_PILL,
        M.MALE_CONDOM,
        M.DIAPHRAGM_SPERMICIDE,
        M.CERVICAL_CAP_SPERMICIDE,
        M.SPONGE_SPERMICIDE,
    }
)


def sufficient(methods: set[M], us: bool) -> bool:
    """Whether this set of method codes meets the programme (ignoring dates)."""
    if us:
        if M.ABSTINENCE in methods:
            return True
        primary = methods & US_PRIMARY
        counted = primary | (methods & US_SECONDARY)
        return bool(primary) and len(counted) >= 2
    if methods & EU_USER_INDEPENDENT:
        return True
    return len(methods & EU_USER_DEPENDENT) >= 2


@dataclass(frozen=True, slots=True)
class ContraceptionStatus:
    """Whether contraception is met at this visit.

    Attributes:
        met: The programme is met.
        reason: Why not, in words (empty when met).
        not_before: When a too-recent method makes it a time-limited blocker.
        satisfied_by: The methods that meet it, in words.
        notes: Notes (e.g. methods that count for nothing).
    """

    met: bool
    reason: str = ""
    not_before: date | None = None
    satisfied_by: str | None = None
    notes: tuple[str, ...] = ()


def contraception(ctx: Context) -> ContraceptionStatus:
    """The contraception status of this visit (memoised)."""
    return ctx.memo("contraception", _contraception)


def _describe(records: list[ContraceptionRecord]) -> str:
    return " + ".join(f"{r.method.value} since {r.start_date}" for r in records)


def _contraception(ctx: Context) -> ContraceptionStatus:
    us = ctx.is_us
    records = list(ctx.contraception)
    notes: list[str] = []
    if any(r.method is M.OTHER for r in records):
        notes.append("method 'other' is not counted: record the method")
    if us and any(r.method is M.PROGESTIN_ONLY_PILL for r in records):
        notes.append("a progestin-only pill is not an acceptable method (US)")
    if not us and any(r.method is M.ABSTINENCE for r in records):
        notes.append("abstinence is not a listed EU/UK method (unverified)")
    if not ctx.baseline:
        confirmed = [
            r for r in records if r.confirmed_on is not None and ctx.in_item_window(r.confirmed_on)
        ]
        if sufficient({r.method for r in confirmed}, us):
            return ContraceptionStatus(True, satisfied_by=_describe(confirmed), notes=tuple(notes))
        reason = (
            "methods not confirmed since the previous visit"
            if sufficient({r.method for r in records}, us)
            else _not_enough(us)
        )
        return ContraceptionStatus(False, reason, notes=tuple(notes))
    if not sufficient({r.method for r in records}, us):
        return ContraceptionStatus(False, _not_enough(us), notes=tuple(notes))
    lead = ctx.policy.contraception_lead_days
    first_dose = ctx.first_dose
    ready = [r for r in records if r.start_date + day(lead) <= first_dose]
    if sufficient({r.method for r in ready}, us):
        return ContraceptionStatus(True, satisfied_by=_describe(ready), notes=tuple(notes))
    # Too recent: the earliest date on which the methods started by then suffice.
    for when in sorted({r.start_date + day(lead) for r in records}):
        if sufficient({r.method for r in records if r.start_date + day(lead) <= when}, us):
            return ContraceptionStatus(
                False,
                f"methods started less than {lead} days before the planned first dose "
                f"{first_dose}; sufficient from {when}",
                not_before=when,
                notes=tuple(notes),
            )
    return ContraceptionStatus(False, _not_enough(us), notes=tuple(notes))  # pragma: no cover


def _not_enough(us: bool) -> str:
    if us:
        return "needs abstinence, or two methods of which at least one is primary"
    return "needs one user-independent method, or two user-dependent methods"
