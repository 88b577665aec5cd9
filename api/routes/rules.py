"""``GET /v1/rules``, ``/v1/rules/{rule_id}`` and ``/v1/sources``: the catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import ServicesDep
from api.problems import ProblemError, problem_responses
from api.schemas.common import CalendarDate
from api.schemas.rules import RuleList, RuleOut, SourceList, SourceOut
from api.security import Evaluator
from domain.sources import SOURCES
from domain.vocab import Jurisdiction, RuleKind

router = APIRouter(prefix="/v1", tags=["rules"])


@router.get(
    "/rules",
    summary="The rule catalogue",
    response_model=RuleList,
    responses=problem_responses(401, 403, 422, 500),
)
async def list_rules(
    services: ServicesDep,
    _: Evaluator,
    kind: Annotated[RuleKind | None, Query(description="Only rules of this kind.")] = None,
    jurisdiction: Annotated[
        Jurisdiction | None, Query(description="Only rules with a variant for this jurisdiction.")
    ] = None,
    as_of: Annotated[
        CalendarDate | None,
        Query(
            description="The date `expired` is computed for (default: today in `ISOCDS_TIMEZONE`)."
        ),
    ] = None,
    in_force: Annotated[
        bool,
        Query(
            description="Only rules with a variant in force for `jurisdiction` on `as_of` "
            "(needs `jurisdiction`)."
        ),
    ] = False,
) -> RuleList:
    """Every rule with its variants, sources and verification; filtered."""
    if in_force and jurisdiction is None:
        raise ProblemError(
            422,
            "in_force needs a jurisdiction",
            errors=[{"path": "?in_force", "reason": "needs ?jurisdiction"}],
        )
    on = as_of or services.today()
    catalog = services.catalog
    rules = catalog.rules
    if kind is not None:
        rules = tuple(r for r in rules if r.kind is kind)
    if jurisdiction is not None:
        rules = tuple(r for r in rules if any(jurisdiction in v.jurisdictions for v in r.variants))
        if in_force:
            rules = tuple(r for r in rules if r.variant_for(jurisdiction, on) is not None)
    return RuleList(
        ruleset_version=catalog.version,
        catalogue_hash=catalog.hash,
        as_of=on,
        rules=[RuleOut.from_domain(r, on) for r in rules],
    )


@router.get(
    "/rules/{rule_id}",
    summary="One rule",
    response_model=RuleOut,
    responses=problem_responses(401, 403, 404, 422, 500),
)
async def get_rule(
    services: ServicesDep,
    _: Evaluator,
    rule_id: Annotated[
        str, Path(description="The rule ID, e.g. `interaction.tetracyclines`.", max_length=100)
    ],
    as_of: Annotated[
        CalendarDate | None,
        Query(
            description="The date `expired` is computed for (default: today in `ISOCDS_TIMEZONE`)."
        ),
    ] = None,
) -> RuleOut:
    """The rule with its variants (404 problem for an unknown ID)."""
    return RuleOut.from_domain(services.catalog.rule(rule_id), as_of or services.today())


@router.get(
    "/sources",
    summary="The source register",
    response_model=SourceList,
    responses=problem_responses(401, 403, 500),
)
async def list_sources(_: Evaluator) -> SourceList:
    """Every source the rules cite, with its url where known (RULES §1)."""
    return SourceList(sources=[SourceOut.from_domain(s) for s in SOURCES])
