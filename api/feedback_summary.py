"""The CDS Hooks feedback summary per rule (``GET /v1/feedback/summary``), as JSON or CSV.

Counted per card and rule: a card carrying a rule was *accepted* for it when a suggestion behind
that rule was accepted (``cds_card_suggestion``: an accepted suggestion is never credited to the
other rules on its card), *overridden* when the card was overridden with a coded reason, and
*dismissed* when it was overridden without one; an override is about the whole card, so it counts
for every rule on it. A card with none of these for the rule counts as *no feedback*.

Override reasons are grouped by system and code; a reason the service offers (``OVERRIDE_REASONS``)
is shown with the service's display, whatever the client sent (clients may send none).
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from api.cds.cards import OVERRIDE_REASONS
from api.cds.reasons import service_reason
from api.schemas.feedback import FeedbackSummary, ReasonCount, RuleFeedback, SummaryFilters
from db.tables import CdsFeedback

ReasonKey = tuple[str | None, str]
"""(system, code) of an override reason."""


@dataclass(slots=True)
class _Answers:
    """What one card got for one rule."""

    accepted: bool = False
    reasons: set[ReasonKey] = field(default_factory=set)
    dismissed: bool = False
    comment: bool = False


def _text(value: Any) -> str | None:
    """A non-empty string sent by a client, or ``None`` (anything else is not text)."""
    return value if isinstance(value, str) and value.strip() else None


def _rule_ids(rules: Any) -> list[str]:
    """The rule IDs of a card's ``rules`` column, in their order."""
    ids = [r.get("ruleId") for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []
    return list(dict.fromkeys(str(i) for i in ids if i))


def _rate(count: int, issued: int) -> float:
    return round(count / issued, 4) if issued else 0.0


def summarise(
    cards: list[tuple[str, Any]],
    suggestions: list[tuple[str, str, str]],
    feedback: list[CdsFeedback],
    unmatched: int,
    filters: SummaryFilters,
) -> FeedbackSummary:
    """The summary of ``cards`` (uuid, rules), the rules behind their ``suggestions`` (card uuid,
    suggestion uuid, rule ID) and the ``feedback`` on them; ``unmatched`` items named no card."""
    rules_of = {uuid: _rule_ids(rules) for uuid, rules in cards}
    behind: dict[tuple[str, str], set[str]] = defaultdict(set)
    for card_uuid, suggestion_uuid, rule_id in suggestions:
        behind[card_uuid, suggestion_uuid].add(rule_id)
    answers: dict[tuple[str, str], _Answers] = defaultdict(_Answers)
    displays: dict[ReasonKey, str] = {}
    unattributed = 0
    for fb in feedback:
        on_card = rules_of.get(fb.card_uuid)
        if on_card is None:
            continue
        if fb.outcome == "accepted":
            credited = {
                rule_id
                for suggestion in fb.accepted_suggestions or []
                for rule_id in behind.get((fb.card_uuid, str(suggestion)), ())
                if rule_id in on_card
            }
            if not credited:
                unattributed += 1
            for rule_id in credited:
                answers[fb.card_uuid, rule_id].accepted = True
            continue
        reason: dict[str, Any] = fb.override_reason if isinstance(fb.override_reason, dict) else {}
        key = _reason_key(reason, displays)
        comment = _text(reason.get("userComment")) is not None
        for rule_id in on_card:
            got = answers[fb.card_uuid, rule_id]
            if key is None:
                got.dismissed = True
            else:
                got.reasons.add(key)
            got.comment = got.comment or comment
    return FeedbackSummary(
        filters=filters,
        cards=len(cards),
        feedback=len([fb for fb in feedback if fb.card_uuid in rules_of]) + unmatched,
        unmatched=unmatched,
        unattributed=unattributed,
        rules=_per_rule(rules_of, answers, displays),
    )


def _reason_key(reason: dict[str, Any], displays: dict[ReasonKey, str]) -> ReasonKey | None:
    """The (system, code) of an override's coded reason (a stored ``override_reason``; ``None``:
    no coded reason), noting the display to show for it: the service's for its own reasons, else
    the first a client sent."""
    code, system = _text(reason.get("code")), _text(reason.get("system"))
    if code is None:
        return None
    offered = service_reason(system, code)
    if offered is not None:
        key: ReasonKey = (offered["system"], code)
        displays[key] = offered["display"]
        return key
    key = (system, code)
    display = _text(reason.get("display"))
    if display is not None:
        displays.setdefault(key, display)
    return key


def _per_rule(
    rules_of: dict[str, list[str]],
    answers: dict[tuple[str, str], _Answers],
    displays: dict[ReasonKey, str],
) -> list[RuleFeedback]:
    issued: Counter[str] = Counter()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: dict[str, Counter[ReasonKey]] = defaultdict(Counter)
    for card_uuid, rule_ids in rules_of.items():
        for rule_id in rule_ids:
            issued[rule_id] += 1
            got = answers.get((card_uuid, rule_id), _Answers())
            c = counts[rule_id]
            c["accepted"] += got.accepted
            c["overridden"] += bool(got.reasons)
            c["dismissed"] += got.dismissed
            c["comments"] += got.comment
            c["no_feedback"] += not (got.accepted or got.reasons or got.dismissed)
            reasons[rule_id].update(got.reasons)
    out = []
    for rule_id in sorted(issued):
        n, c = issued[rule_id], counts[rule_id]
        ranked = sorted(reasons[rule_id].items(), key=lambda kv: (-kv[1], kv[0][1], kv[0][0] or ""))
        out.append(
            RuleFeedback(
                rule_id=rule_id,
                issued=n,
                accepted=c["accepted"],
                overridden=c["overridden"],
                override_reasons=[
                    ReasonCount(
                        code=code, system=system, display=displays.get((system, code)), count=k
                    )
                    for (system, code), k in ranked
                ],
                dismissed=c["dismissed"],
                no_feedback=c["no_feedback"],
                comments=c["comments"],
                accepted_rate=_rate(c["accepted"], n),
                overridden_rate=_rate(c["overridden"], n),
                dismissed_rate=_rate(c["dismissed"], n),
                no_feedback_rate=_rate(c["no_feedback"], n),
            )
        )
    return out


# --- CSV ------------------------------------------------------------------------------------------

SERVICE_REASON_CODES = tuple(r["code"] for r in OVERRIDE_REASONS)
CSV_COLUMNS = (
    "rule_id",
    "issued",
    "accepted",
    "overridden",
    "dismissed",
    "no_feedback",
    "comments",
    "accepted_rate",
    "overridden_rate",
    "dismissed_rate",
    "no_feedback_rate",
    *(f"overridden_{code}" for code in SERVICE_REASON_CODES),
    "overridden_other",
    "override_reasons",
)
"""The CSV's columns: the JSON's per-rule counts and rates; one ``overridden_<code>`` column per
reason the service offers; ``overridden_other`` (overrides with a reason from the client's own
list); ``override_reasons`` (every reason: ``display [code]: count``, ``; ``-separated)."""


def _cell(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(summary: FeedbackSummary) -> str:
    """One row per rule (RFC 4180, CRLF line ends, a header row of ``CSV_COLUMNS``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    ours = {(r["system"], r["code"]) for r in OVERRIDE_REASONS}
    for rule in summary.rules:
        by_code = {r.code: r.count for r in rule.override_reasons if (r.system, r.code) in ours}
        other = [r for r in rule.override_reasons if (r.system, r.code) not in ours]
        listed = "; ".join(
            f"{r.display or r.code} [{r.code}]: {r.count}" for r in rule.override_reasons
        )
        writer.writerow(
            [
                _cell(rule.rule_id),
                rule.issued,
                rule.accepted,
                rule.overridden,
                rule.dismissed,
                rule.no_feedback,
                rule.comments,
                f"{rule.accepted_rate:.4f}",
                f"{rule.overridden_rate:.4f}",
                f"{rule.dismissed_rate:.4f}",
                f"{rule.no_feedback_rate:.4f}",
                *(by_code.get(code, 0) for code in SERVICE_REASON_CODES),
                sum(r.count for r in other),
                _cell(listed),
            ]
        )
    return buffer.getvalue()
