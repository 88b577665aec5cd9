"""CDS Hooks feedback, summarised per rule: what a rule's clinical owner reviews for alert fatigue."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from api.schemas.common import Wire

Hook = Literal["patient-view", "order-select", "order-sign"]
"""The hooks the service answers."""


class ReasonCount(Wire):
    """An override reason and how many cards carrying the rule were overridden with it."""

    code: str = Field(description="The reason's code.")
    system: str | None = Field(
        default=None, description="The reason's code system (absent: the client sent none)."
    )
    display: str | None = Field(
        default=None,
        description="The reason's display: the service's own for a reason it offers (clients may "
        "send none), otherwise the one the client sent (absent: none was sent).",
    )
    count: int = Field(description="Cards carrying the rule overridden with this reason.")


class RuleFeedback(Wire):
    """How clinicians answered the cards that carried one rule.

    Every count is of cards: a card counts once in each category it got (feedback may be sent more
    than once for a card, so categories can overlap), and ``no_feedback`` counts the cards that got
    none of them for the rule."""

    rule_id: str = Field(description="Rule ID.")
    issued: int = Field(description="Cards issued carrying this rule.")
    accepted: int = Field(
        description="Cards on which a suggestion behind this rule was accepted (a suggestion is "
        "credited to its own rule only, never to the other rules on its card)."
    )
    overridden: int = Field(
        description="Cards overridden with a coded reason (credited to every rule on the card)."
    )
    override_reasons: list[ReasonCount] = Field(
        description="The coded override reasons, most frequent first."
    )
    dismissed: int = Field(
        description="Cards overridden without a coded reason (a free-text comment alone included)."
    )
    no_feedback: int = Field(
        description="Cards with no feedback concerning this rule: none at all, or only an accepted "
        "suggestion of another rule on the card."
    )
    comments: int = Field(
        description="Overridden cards with a free-text comment (the comments are not shown: they "
        "may hold patient details)."
    )
    accepted_rate: float = Field(description="`accepted / issued` (4 decimals).")
    overridden_rate: float = Field(description="`overridden / issued` (4 decimals).")
    dismissed_rate: float = Field(description="`dismissed / issued` (4 decimals).")
    no_feedback_rate: float = Field(description="`no_feedback / issued` (4 decimals).")


class SummaryFilters(Wire):
    """The filters the summary was made with (absent: not filtered)."""

    since: datetime | None = Field(default=None, description="Cards issued at or after this time.")
    until: datetime | None = Field(default=None, description="Cards issued before this time.")
    iss: str | None = Field(default=None, description="Cards issued to this CDS client (JWT iss).")
    hook: Hook | None = Field(default=None, description="Cards issued at this hook.")


class FeedbackSummary(Wire):
    """Feedback on the cards issued to the tenant, per rule ID."""

    filters: SummaryFilters = Field(description="The filters applied.")
    cards: int = Field(description="Cards issued (matching the filters).")
    feedback: int = Field(
        description="Feedback items: those on the cards counted, plus the unmatched ones."
    )
    unmatched: int = Field(
        description="Feedback items received in the period (from `iss`, any hook) naming a card "
        "this service did not issue to the tenant."
    )
    unattributed: int = Field(
        description="Accepted feedback items on the cards counted naming no suggestion the service "
        "knows the rules of (cards issued before suggestions were recorded, or no suggestion sent)."
    )
    rules: list[RuleFeedback] = Field(
        description="Per rule ID, by rule ID: every rule carried by a card counted, with zeros "
        "when its cards got no feedback."
    )
