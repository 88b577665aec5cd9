"""``GET /v1/feedback/summary``: how clinicians answered the CDS Hooks cards, per rule.

Each issued card is stored with the rules it carried (its ``org.isocds.rules`` extension), so a
feedback item counts once for every rule on its card. Free-text override comments may hold patient
details: they are stored but only counted here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api.database import db_call, transaction
from api.deps import ServicesDep, json_response
from api.problems import problem_responses
from api.schemas.common import Instant
from api.schemas.feedback import FeedbackSummary, ReasonCount, RuleFeedback
from api.security import FeedbackReader
from db.repositories import FeedbackRepository
from db.tables import CdsCard, CdsFeedback

router = APIRouter(prefix="/v1", tags=["feedback"])


def summarise(rows: list[tuple[CdsFeedback, CdsCard | None]]) -> FeedbackSummary:
    """Per rule ID: accepted and overridden counts, with the override reasons."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: dict[str, Counter[tuple[str | None, str | None, str | None]]] = defaultdict(Counter)
    unmatched = 0
    for fb, card in rows:
        if card is None:
            unmatched += 1
            continue
        rule_ids = {str(r.get("ruleId")) for r in card.rules}
        reason: dict[str, Any] = fb.override_reason or {}
        for rule_id in rule_ids:
            counts[rule_id]["cards"] += 1
            counts[rule_id][fb.outcome] += 1
            if fb.outcome == "overridden":
                key = (reason.get("code"), reason.get("system"), reason.get("display"))
                reasons[rule_id][key] += 1
                if reason.get("userComment"):
                    counts[rule_id]["comments"] += 1
    return FeedbackSummary(
        feedback=len(rows),
        unmatched=unmatched,
        rules=[
            RuleFeedback(
                rule_id=rule_id,
                cards=c["cards"],
                accepted=c["accepted"],
                overridden=c["overridden"],
                comments=c["comments"],
                override_reasons=[
                    ReasonCount(code=code, system=system, display=display, count=n)
                    for (code, system, display), n in reasons[rule_id].most_common()
                ],
            )
            for rule_id, c in sorted(counts.items())
        ],
    )


@router.get(
    "/feedback/summary",
    summary="CDS Hooks feedback per rule",
    response_model=FeedbackSummary,
    responses=problem_responses(401, 403, 422, 500, 503),
)
async def feedback_summary(
    services: ServicesDep,
    caller: FeedbackReader,
    since: Annotated[
        Instant | None, Query(description="Feedback received at or after this time (ISO 8601).")
    ] = None,
    until: Annotated[
        Instant | None, Query(description="Feedback received before this time (ISO 8601).")
    ] = None,
) -> Response:
    """How often the cards carrying each rule were accepted and overridden, with the reasons
    (the feedback of the key's tenant, on cards issued to it)."""

    def read() -> FeedbackSummary:
        with transaction(services, write=False) as session:
            return summarise(FeedbackRepository(session).joined(caller.tenant, since, until))

    return json_response(await db_call(services, read))
