"""CDS Hooks feedback, summarised per rule."""

from __future__ import annotations

from pydantic import Field

from api.schemas.common import Wire


class ReasonCount(Wire):
    """An override reason and how often it was given."""

    code: str | None = Field(default=None, description="The reason's code (absent: none sent).")
    system: str | None = Field(default=None, description="The reason's code system.")
    display: str | None = Field(
        default=None, description="The reason's display text (clients may omit it)."
    )
    count: int = Field(description="How many overrides gave this reason.")


class RuleFeedback(Wire):
    """How clinicians answered the cards that carried one rule."""

    rule_id: str = Field(description="Rule ID.")
    cards: int = Field(description="Feedback items on cards carrying this rule.")
    accepted: int = Field(description="How often such a card was accepted.")
    overridden: int = Field(description="How often such a card was overridden.")
    override_reasons: list[ReasonCount] = Field(
        description="Override reasons, most frequent first."
    )
    comments: int = Field(description="Overrides with a free-text comment (comments not shown).")


class FeedbackSummary(Wire):
    """Feedback on issued cards, per rule ID."""

    feedback: int = Field(description="Feedback items received in the period.")
    unmatched: int = Field(
        description="Feedback for card uuids this service did not issue (or no longer holds)."
    )
    rules: list[RuleFeedback] = Field(description="Per rule ID, by rule ID.")
