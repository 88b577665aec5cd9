"""``GET /v1/feedback/summary``: how clinicians answered the CDS Hooks cards, per rule.

Each issued card is stored with the rules it carried (its ``org.isocds.rules`` extension) and the
rule IDs behind each of its suggestions, so an accepted suggestion is credited to its own rule and
an override to every rule on the card (:mod:`api.feedback_summary`). Free-text override comments
may hold patient details: they are stored but only counted here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.cds.cards import OVERRIDE_REASONS
from api.database import db_call, transaction
from api.deps import ServicesDep, json_response
from api.feedback_summary import CSV_COLUMNS, summarise, to_csv
from api.problems import ProblemError, problem_responses
from api.schemas.common import Instant
from api.schemas.feedback import (
    FeedbackSummary,
    Hook,
    ReasonCount,
    RuleFeedback,
    SummaryFilters,
)
from api.security import FeedbackReader
from db.repositories import FeedbackRepository

router = APIRouter(prefix="/v1", tags=["feedback"])

CSV = "text/csv"
CSV_EXAMPLE = to_csv(
    FeedbackSummary(
        filters=SummaryFilters(),
        cards=12,
        feedback=9,
        unmatched=0,
        unattributed=0,
        rules=[
            RuleFeedback(
                rule_id="monitoring.lipids",
                issued=12,
                accepted=5,
                overridden=1,
                override_reasons=[
                    ReasonCount(code=r["code"], system=r["system"], display=r["display"], count=1)
                    for r in OVERRIDE_REASONS[2:]
                ],
                dismissed=2,
                no_feedback=4,
                comments=1,
                accepted_rate=0.4167,
                overridden_rate=0.0833,
                dismissed_rate=0.1667,
                no_feedback_rate=0.3333,
            )
        ],
    )
)
DESCRIPTION = f"""How clinicians answered the CDS Hooks cards issued to the key's tenant, per rule
ID: the report a rule's clinical owner reviews to find alert fatigue.

**What is counted.** The cards issued in `[since, until)` (to the client `iss`, at `hook`) and
all the feedback on them, whenever it arrived. Per rule ID, counting cards that carried the rule:

- `issued`: cards issued;
- `accepted`: cards on which a suggestion behind the rule was accepted (a suggestion is credited to
  its own rule only: accepting "Order fasting lipids" on the Checklist card counts for
  `monitoring.lipids`, not for the other rules on the card);
- `overridden`: cards overridden with a coded reason, per reason in `override_reasons` (system,
  code, the display of the service's own list for a reason it offers, since clients may send none,
  and the count); an override is about the whole card, so it counts for every rule on it;
- `dismissed`: cards overridden without a coded reason (a free-text comment alone included);
- `no_feedback`: cards with no feedback concerning the rule (none at all, or only an accepted
  suggestion of another rule): a rule whose cards got no feedback is listed with
  `no_feedback` = `issued`;
- `comments`: overridden cards with a free-text comment (the comments are never shown);
- `accepted_rate`, `overridden_rate`, `dismissed_rate`, `no_feedback_rate`: each count divided by
  `issued` (4 decimals).

A card counts once in each category it got; feedback may be sent several times for a card, so the
categories can overlap. Top level: `cards` issued, `feedback` items (on those cards, plus
`unmatched` ones received in the period that name a card not issued to the tenant; the `hook`
filter does not apply to those), `unattributed` accepted items naming no suggestion whose rules
are known (cards issued before suggestions were recorded), and the `filters` applied.

**CSV.** With `Accept: text/csv` the answer is a CSV file (RFC 4180, UTF-8, CRLF), one row per
rule, columns: {", ".join(f"`{c}`" for c in CSV_COLUMNS)}. The `overridden_<code>` columns
count the reasons the service offers; `overridden_other` those from the client's own list;
`override_reasons` lists every reason as `display [code]: count`, separated by `; `."""


def wants_csv(accept: str) -> bool:
    """Whether ``Accept`` prefers ``text/csv`` to JSON (``q`` values honoured; a tie goes to the
    type listed first)."""
    best: dict[str, tuple[float, int]] = {}
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.lower()
        kind = {CSV: "csv", "text/*": "csv*", "application/json": "json"}.get(media)
        kind = kind or ("any" if media in ("*/*", "application/*") else None)
        if kind is not None and (kind not in best or q > best[kind][0]):
            best[kind] = (q, position)
    csv_q = best.get("csv") or best.get("csv*") or (0.0, 0)
    json_q = best.get("json") or best.get("any") or (0.0, 0)
    if csv_q[0] <= 0:
        return False
    return csv_q[0] > json_q[0] or (csv_q[0] == json_q[0] and csv_q[1] < json_q[1])


@router.get(
    "/feedback/summary",
    summary="CDS Hooks feedback per rule (JSON or CSV)",
    description=DESCRIPTION,
    response_model=FeedbackSummary,
    responses={
        200: {
            "description": "The summary: JSON, or CSV with `Accept: text/csv`.",
            "content": {
                CSV: {
                    "schema": {"type": "string", "description": "One row per rule."},
                    "example": CSV_EXAMPLE,
                }
            },
        },
        **problem_responses(401, 403, 422, 500, 503),
    },
)
async def feedback_summary(
    request: Request,
    services: ServicesDep,
    caller: FeedbackReader,
    since: Annotated[
        Instant | None,
        Query(description="Cards issued at or after this time (RFC 3339; no offset: UTC)."),
    ] = None,
    until: Annotated[
        Instant | None,
        Query(description="Cards issued before this time (RFC 3339; no offset: UTC)."),
    ] = None,
    iss: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=300,
            description="Only the cards issued to this CDS client (its JWT `iss`).",
        ),
    ] = None,
    hook: Annotated[Hook | None, Query(description="Only the cards issued at this hook.")] = None,
) -> Response:
    """The tenant's CDS Hooks feedback per rule (see the description)."""
    if since is not None and until is not None and until < since:
        raise ProblemError(422, "until is before since")
    filters = SummaryFilters(since=since, until=until, iss=iss, hook=hook)

    def read() -> FeedbackSummary:
        tenant = caller.tenant
        with transaction(services, write=False) as session:
            repo = FeedbackRepository(session)
            return summarise(
                repo.issued_cards(tenant, since=since, until=until, iss=iss, hook=hook),
                repo.suggestion_rules(tenant, since=since, until=until, iss=iss, hook=hook),
                repo.feedback_on_issued(tenant, since=since, until=until, iss=iss, hook=hook),
                repo.unmatched(tenant, since=since, until=until, iss=iss),
                filters,
            )

    summary = await db_call(services, read)
    if wants_csv(request.headers.get("accept", "")):
        return Response(
            to_csv(summary),
            media_type=f"{CSV}; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="feedback-summary.csv"',
                "Vary": "Accept",
            },
        )
    return json_response(summary, headers={"Vary": "Accept"})
