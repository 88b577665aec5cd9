"""``POST /v1/assessments``, ``/v1/checklists`` and ``/v1/dosing-plans``: the engine over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel

from api.answering import answer
from api.deps import Services, ServicesDep
from api.examples import ASSESSMENT_EXAMPLES, CHECKLIST_EXAMPLES, DOSING_EXAMPLES
from api.problems import problem_responses
from api.schemas.evaluation import (
    AssessmentOut,
    AssessmentRequest,
    ChecklistOut,
    ChecklistRequest,
    DosingPlanRequest,
    DosingPlanResponse,
    EvaluationRequest,
    assessment_out,
    checklist_out,
    dosing_wire,
    finding_wire,
)
from api.schemas.profile import AcneIn, PlanIn, ProfileIn, to_facts
from api.security import Evaluator
from domain.engine import Evaluation, evaluate
from domain.vocab import RuleKind

router = APIRouter(prefix="/v1", tags=["evaluations"])

# The evaluation routes are ``async``: the work is pure computation of about a millisecond, done
# on the event loop without a thread hop. (Database work, when a route has any, runs in a worker
# thread in one hop.)

ERRORS = problem_responses(400, 401, 403, 409, 413, 415, 422, 500, 503)


def profile_path(path: str) -> str:
    """A domain input path as a path into an evaluation request body."""
    if path == "weight.kg":
        return "$.profile.weight.value"
    if path.startswith("plan."):
        return "$." + path
    return "$.profile." + path


def dosing_path(path: str) -> str:
    """A domain input path as a path into a dosing-plan request body."""
    renames = {"weight.kg": "weight.value", "plan.cumulative_mg_before": "cumulative_mg_so_far"}
    path = renames.get(path, path)
    return "$." + path.removeprefix("plan.")


def _evaluate(request: Request, services: Services, body: EvaluationRequest) -> Evaluation:
    request.state.input_path = profile_path
    facts = to_facts(
        body.profile,
        body.plan,
        visit_type=body.visit_type,
        visit_date=body.visit_date,
        previous_visit_date=body.previous_visit_date,
    )
    return evaluate(
        facts,
        body.as_of or services.today(),
        body.jurisdiction,
        services.evaluation,
        catalog=services.catalog,
    )


@router.post(
    "/assessments",
    summary="Assess a patient: decision, findings, checklist and dosing plan",
    response_model=AssessmentOut,
    responses=ERRORS,
)
async def create_assessment(
    request: Request,
    services: ServicesDep,
    caller: Evaluator,
    body: Annotated[AssessmentRequest, Body(openapi_examples=ASSESSMENT_EXAMPLES)],
) -> Response:
    """Evaluate the profile on ``as_of`` in the jurisdiction (stateless; audited)."""

    async def compute() -> tuple[Evaluation, BaseModel]:
        ev = _evaluate(request, services, body)
        return ev, assessment_out(ev)

    return await answer(services, request, caller, body, "/v1/assessments", compute)


@router.post(
    "/checklists",
    summary="The checklist for a visit",
    response_model=ChecklistOut,
    responses=ERRORS,
)
async def create_checklist(
    request: Request,
    services: ServicesDep,
    caller: Evaluator,
    body: Annotated[ChecklistRequest, Body(openapi_examples=CHECKLIST_EXAMPLES)],
) -> Response:
    """The checklist items of the visit: state, window, codes and sources (audited)."""

    async def compute() -> tuple[Evaluation, BaseModel]:
        ev = _evaluate(request, services, body)
        return ev, checklist_out(ev)

    return await answer(services, request, caller, body, "/v1/checklists", compute, decision=False)


@router.post(
    "/dosing-plans",
    summary="A weight-based dosing plan",
    response_model=DosingPlanResponse,
    responses=ERRORS,
)
async def create_dosing_plan(
    request: Request,
    services: ServicesDep,
    caller: Evaluator,
    body: Annotated[DosingPlanRequest, Body(openapi_examples=DOSING_EXAMPLES)],
) -> Response:
    """Range, maximum, capsule plan, cumulative progress and the dosing findings (audited)."""
    request.state.input_path = dosing_path
    plan = PlanIn(
        product=body.product,
        available_strengths_mg=body.available_strengths_mg,
        planned_mg_per_day=body.planned_mg_per_day,
        target_mg_per_kg_day=body.target_mg_per_kg_day,
        doses_per_day=body.doses_per_day,
        regimen=body.regimen,
        start_weight_kg=body.start_weight_kg,
        weight_basis=body.weight_basis,
        target_cumulative_mg_per_kg=body.target_cumulative_mg_per_kg,
        cumulative_mg_before=body.cumulative_mg_so_far,
    )
    profile = ProfileIn(
        birth_date=body.birth_date,
        age_years=body.age_years,
        weight=body.weight,
        acne=AcneIn(severity=body.acne_severity, scarring=body.scarring, truncal=body.truncal),
        allergies=body.allergies,
    )
    facts = to_facts(profile, plan)

    async def compute() -> tuple[Evaluation, BaseModel]:
        ev = evaluate(
            facts,
            body.as_of or services.today(),
            body.jurisdiction,
            services.evaluation,
            catalog=services.catalog,
        )
        dosing = [f for f in ev.findings if f.kind is RuleKind.DOSING]
        out = DosingPlanResponse.model_validate(
            {
                "as_of": ev.as_of,
                "jurisdiction": ev.jurisdiction,
                "ruleset_version": ev.ruleset_version,
                "catalogue_hash": ev.catalogue_hash,
                "dosing": dosing_wire(ev.dosing),
                "findings": [finding_wire(f) for f in dosing],
            }
        )
        return ev, out

    return await answer(
        services, request, caller, body, "/v1/dosing-plans", compute, decision=False
    )
