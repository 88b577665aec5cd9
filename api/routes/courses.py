"""Treatment courses: ``/v1/courses`` and their events, checklist, assessments and timeline.

Writes are plain ``def`` routes (one transaction each, in FastAPI's threadpool) and accept an
``Idempotency-Key``. The checklist, assessment and timeline are evaluations: audited before they
are answered.

Every query is scoped to the API key's tenant: another tenant's course is answered exactly as a
missing one (404), never 403, so a key cannot even learn that it exists. Reads need the scope
``courses:read``, writes ``courses:write``.
"""

from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Body, Header, Path, Query, Request, Response
from pydantic import BaseModel
from sqlmodel import Session

from api.answering import answer
from api.course_views import course_checklist as course_checklist_view
from api.course_views import course_timeline as course_timeline_view
from api.database import db_call, run_write, transaction
from api.deps import Services, ServicesDep, json_response
from api.history import history_of
from api.problems import ProblemError, problem_responses
from api.routes.evaluations import profile_path
from api.schemas.common import CalendarDate, Wire
from api.schemas.courses import (
    EVENT_MODELS,
    CourseAssessmentRequest,
    CourseChecklistOut,
    CourseCreate,
    CourseList,
    CourseOut,
    CoursePatch,
    EventList,
    EventOut,
    Timeline,
    event_date,
    event_date_field,
)
from api.schemas.evaluation import (
    AssessmentOut,
    assessment_out,
)
from api.schemas.profile import LabIn, to_facts
from api.security import CourseReader, CourseWriter
from db.repositories import CourseRepository
from db.tables import Course, CourseEvent
from domain import facts as f
from domain.course import CourseHistory, CourseStatus, history_facts
from domain.engine import Evaluation, evaluate
from domain.errors import InputError, InputIssue
from domain.validation import validate_facts
from domain.vocab import Jurisdiction

router = APIRouter(prefix="/v1", tags=["courses"])

WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 500, 503)
READ_ERRORS = problem_responses(401, 403, 404, 422, 500, 503)
CourseId = Annotated[str, Path(description="The course ID.", max_length=36)]
AsOf = Annotated[
    CalendarDate | None,
    Query(description="The date to evaluate for (default: today in `ISOCDS_TIMEZONE`)."),
]


def etag(course: Course) -> str:
    """The course's ETag: its quoted version."""
    return f'"{course.version}"'


def _not_found(course_id: str) -> ProblemError:
    return ProblemError(
        404, f"no course {course_id}", slug="course-not-found", title="Course not found"
    )


def _load(session: Session, tenant: str, course_id: str, *, lock: bool = False) -> Course:
    """The tenant's course; 404 when there is none (another tenant's included: the same body)."""
    course = CourseRepository(session).get(tenant, course_id, lock=lock)
    if course is None:
        raise _not_found(course_id)
    return course


def _not_after_today(services: Services, when: date | None, path: str) -> None:
    if when is None:
        return
    today = services.today()
    if when > today:
        raise InputError([InputIssue(path, f"{when} is after today ({today})")])


def _body_path(path: str) -> str:
    """A domain input path as a path into the request body (the same field names)."""
    return "$." + path


def _course_response(course: Course, status: int = 200) -> Response:
    headers = {"ETag": etag(course), "Location": f"/v1/courses/{course.id}"}
    return json_response(CourseOut.from_row(course), status, headers)


@router.post(
    "/courses",
    status_code=201,
    summary="Create a course",
    response_model=CourseOut,
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422, 500, 503),
)
async def create_course(
    request: Request,
    services: ServicesDep,
    caller: CourseWriter,
    body: CourseCreate,
) -> Response:
    """A new course for a patient (`planned`, or `active` when a start date is given)."""
    request.state.input_path = _body_path
    _not_after_today(services, body.start_date, "start_date")

    def work(session: Session) -> Response:
        now = datetime.now(UTC)
        course = Course(
            id=str(uuid4()),
            tenant=caller.tenant,
            patient_ref=body.patient_ref,
            jurisdiction=body.jurisdiction.value,
            product=None if body.product is None else body.product.value,
            start_date=body.start_date,
            weight_at_start_kg=body.weight_at_start_kg,
            target_cumulative_mg_per_kg=body.target_cumulative_mg_per_kg,
            status=(CourseStatus.ACTIVE if body.start_date else CourseStatus.PLANNED).value,
            version=1,
            created_at=now,
            updated_at=now,
            created_by=caller.key_id,
        )
        CourseRepository(session).add(course)
        return _course_response(course, 201)

    return await db_call(services, run_write, services, request, caller, body, work)


@router.get(
    "/courses",
    summary="A patient's courses",
    response_model=CourseList,
    responses=problem_responses(401, 403, 422, 500, 503),
)
async def list_courses(
    services: ServicesDep,
    caller: CourseReader,
    patient_ref: Annotated[
        str, Query(min_length=1, max_length=200, description="The EHR's patient ID.")
    ],
) -> Response:
    """The courses of a patient in the key's tenant, oldest first."""

    def read() -> list[Course]:
        with transaction(services, write=False) as session:
            return CourseRepository(session).by_patient(caller.tenant, patient_ref)

    courses = await db_call(services, read)
    return json_response(CourseList(courses=[CourseOut.from_row(c) for c in courses]))


@router.get(
    "/courses/{course_id}", summary="A course", response_model=CourseOut, responses=READ_ERRORS
)
async def get_course(services: ServicesDep, caller: CourseReader, course_id: CourseId) -> Response:
    """The course, with its `ETag`."""

    def read() -> Course:
        with transaction(services, write=False) as session:
            return _load(session, caller.tenant, course_id)

    return _course_response(await db_call(services, read))


@router.patch(
    "/courses/{course_id}",
    summary="Start, complete or stop a course; correct its fields",
    response_model=CourseOut,
    responses=problem_responses(400, 401, 403, 404, 412, 413, 415, 422, 428, 500, 503),
)
async def patch_course(
    request: Request,
    services: ServicesDep,
    caller: CourseWriter,
    course_id: CourseId,
    body: CoursePatch,
    if_match: Annotated[
        str | None,
        Header(description="The course's current ETag (required): a stale one gets 412."),
    ] = None,
) -> Response:
    """Change the course's status (planned → active; planned or active → completed or stopped)."""
    request.state.input_path = _body_path
    if if_match is None:
        raise ProblemError(428, "send If-Match with the course's ETag")
    _not_after_today(services, body.date, "date")
    expected = if_match.strip()

    tenant = caller.tenant

    def write() -> Course:
        with transaction(services) as session:
            repo = CourseRepository(session)
            course = _load(session, tenant, course_id, lock=True)
            if expected != etag(course):  # If-Match compares strongly (RFC 9110)
                raise ProblemError(412, f"the course has changed: its ETag is now {etag(course)}")
            changes = _changes(course, body, repo.events(tenant, course_id))
            changes["updated_at"] = datetime.now(UTC)
            if not repo.update(tenant, course_id, course.version, changes):
                raise ProblemError(412, "the course changed while this request was being handled")
            return _load(session, tenant, course_id)

    return _course_response(await db_call(services, write))


def _changes(course: Course, body: CoursePatch, events: list[CourseEvent]) -> dict[str, Any]:
    """The column changes of a patch, with the status transitions checked."""
    changes: dict[str, Any] = {}
    for name in ("product", "weight_at_start_kg", "target_cumulative_mg_per_kg"):
        value = getattr(body, name)
        if value is not None:
            changes[name] = getattr(value, "value", value)
    status = CourseStatus(course.status)
    if body.status is None:
        return changes
    target = CourseStatus(body.status)
    if status in (CourseStatus.COMPLETED, CourseStatus.STOPPED):
        raise _bad("status", f"a {status.value} course cannot change its status")
    if target is CourseStatus.ACTIVE:
        if status is CourseStatus.ACTIVE:
            raise _bad("status", "the course is already active")
        dispensed = [e.event_date for e in events if e.kind == "dispensing"]
        start = body.date or course.start_date or (min(dispensed) if dispensed else None)
        if start is None:
            raise _bad("date", "starting a course needs its first dose date")
        changes.update(status=target.value, start_date=start)
        return changes
    if body.date is None:
        raise _bad("date", f"a {target.value} course needs the date of its last dose")
    if course.start_date is not None and body.date < course.start_date:
        raise _bad("date", f"the last dose cannot precede the start {course.start_date}")
    if target is CourseStatus.STOPPED and not body.stop_reason:
        raise _bad("stop_reason", "stopping a course needs a reason")
    changes.update(status=target.value, end_date=body.date, stop_reason=body.stop_reason)
    return changes


def _bad(path: str, reason: str) -> InputError:
    return InputError([InputIssue(path, reason)])


def _check_record(kind: str, body: Wire, when: date, course: Course) -> None:
    """The domain's checks on one record (units, ranges), with paths into the event body."""
    jurisdiction = Jurisdiction(course.jurisdiction)
    if isinstance(body, LabIn):
        facts = f.Facts(labs=(f.LabResult(**body.model_dump()),))
        try:
            validate_facts(facts, body.collected_on, jurisdiction)
        except InputError as exc:
            raise InputError(
                [InputIssue(i.path.removeprefix("labs[0]."), i.reason) for i in exc.issues]
            ) from None
    if kind == "dispensing" and course.start_date is not None and when < course.start_date:
        raise _bad("dispensed_on", f"{when} is before the course's start {course.start_date}")


def _event_route(kind: str, path: str, model: type[Wire], summary: str) -> None:
    async def append(
        request: Request,
        services: ServicesDep,
        caller: CourseWriter,
        course_id: CourseId,
        body: Annotated[model, Body()],  # type: ignore[valid-type]  # one route per event model
    ) -> Response:
        request.state.input_path = _body_path
        record: Wire = body
        when = event_date(kind, record)
        _not_after_today(services, when, event_date_field(kind, record))

        def work(session: Session) -> Response:
            repo = CourseRepository(session)
            # Appends to one course queue here; another tenant's course is a 404.
            course = _load(session, caller.tenant, course_id, lock=True)
            _check_record(kind, record, when, course)
            event = CourseEvent(
                course_id=course_id,
                tenant=course.tenant,
                kind=kind,
                event_date=when,
                data=record.model_dump(mode="json"),
                created_at=datetime.now(UTC),
                created_by=caller.key_id,
            )
            repo.add_event(event)
            if kind == "dispensing" and course.status == CourseStatus.PLANNED.value:
                repo.update(
                    course.tenant,
                    course_id,
                    course.version,
                    {
                        "status": CourseStatus.ACTIVE.value,
                        "start_date": course.start_date or when,
                        "updated_at": datetime.now(UTC),
                    },
                )
            headers = {"Location": f"/v1/courses/{course_id}/events/{event.id}"}
            return json_response(EventOut.from_row(event), 201, headers)

        return await db_call(services, run_write, services, request, caller, body, work)

    append.__name__ = f"append_{kind.replace('-', '_')}"
    router.add_api_route(
        f"/courses/{{course_id}}/{path}",
        append,
        methods=["POST"],
        status_code=201,
        summary=summary,
        response_model=EventOut,
        responses=WRITE_ERRORS,
    )


for _kind, _route_path, _route_summary in (
    ("visit", "visits", "Record a visit (weight, mood screen, symptoms)"),
    ("dispensing", "dispensings", "Record a dispensing"),
    ("lab", "labs", "Record a lab result"),
    ("pregnancy-test", "pregnancy-tests", "Record a pregnancy test"),
    ("contraception", "contraception", "Record a contraception method or its confirmation"),
    ("counselling", "counselling", "Record counselling given"),
    ("documentation", "documentation", "Record iPLEDGE steps and signed forms"),
    ("pregnancy-potential", "pregnancy-potential", "Record the pregnancy-potential category"),
):
    _event_route(_kind, _route_path, EVENT_MODELS[_kind], _route_summary)


@router.get(
    "/courses/{course_id}/events",
    summary="A course's events",
    response_model=EventList,
    responses=READ_ERRORS,
)
async def list_events(services: ServicesDep, caller: CourseReader, course_id: CourseId) -> Response:
    """Every event, by date, then in the order recorded."""

    def read() -> list[CourseEvent]:
        with transaction(services, write=False) as session:
            _load(session, caller.tenant, course_id)
            return CourseRepository(session).events(caller.tenant, course_id)

    events = await db_call(services, read)
    return json_response(EventList(events=[EventOut.from_row(e) for e in events]))


def _stored(
    services: Services, tenant: str, course_id: str
) -> tuple[CourseHistory, list[CourseEvent]]:
    """The tenant's course's history and its stored events, read in one transaction."""
    with transaction(services, write=False) as session:
        course = _load(session, tenant, course_id)
        events = CourseRepository(session).events(tenant, course_id)
        return history_of(course, events), events


def _evaluate_course(
    services: Services,
    history: CourseHistory,
    on: date,
    current: f.Facts | None = None,
    *,
    supply_from_dispensings: bool = False,
) -> Evaluation:
    """The one evaluation of a course on ``on``: its history merged with ``current`` facts.

    The course views use it with no current facts, as an assessment with an empty profile does,
    and also judge the stored dispensings against the supply limit.
    """
    return evaluate(
        history_facts(history, on, current),
        on,
        history.jurisdiction,
        services.evaluation,
        catalog=services.catalog,
        supply_from_dispensings=supply_from_dispensings,
    )


def _course_checklist(
    services: Services, course_id: str, history: CourseHistory, on: date
) -> tuple[Evaluation, CourseChecklistOut]:
    ev = _evaluate_course(services, history, on, supply_from_dispensings=True)
    return ev, course_checklist_view(ev, course_id)


@router.get(
    "/courses/{course_id}/checklist",
    summary="The course's checklist from its stored history (no decision)",
    response_model=CourseChecklistOut,
    responses=READ_ERRORS,
)
async def course_checklist(
    request: Request,
    services: ServicesDep,
    caller: CourseReader,
    course_id: CourseId,
    as_of: AsOf = None,
) -> Response:
    """What the stored history alone tells on `as_of` (audited; no decision: an assessment gives it).

    One evaluation, the one `POST /v1/courses/{course_id}/assessments` makes with an empty
    profile, also judging the stored dispensings against `prescription.supply-limit`: every rule
    has the status an assessment gives it. `findings` lists every finding that applies and every
    gating `unknown`, critical first (pregnancy from the stored tests and pregnancy potential,
    `stop.*` from the symptoms of the latest visit that recorded symptoms, mood-screen
    precautions, `lab.*`, `dosing.*` on the cumulative dose, the supply limit); `alert` is the most
    severe applying one (`rule_id`, `severity`, a one-line `summary`), or null. Then the checklist,
    cumulative dose, prescription window, pregnancy tests due, lab and supply findings, and under
    `not_assessed` the rules that need facts a course does not store.

    While a `stop.*` rule applies, the prescription window and the pregnancy tests that lead to
    the next prescription are `suspended`, with `suspended_by` and a `reason` naming the stop
    rules (the end-of-therapy and post-therapy tests stay as the rules give them).
    """

    async def compute() -> tuple[Evaluation, BaseModel]:
        history, _ = await db_call(services, _stored, services, caller.tenant, course_id)
        return _course_checklist(services, course_id, history, as_of or services.today())

    return await answer(
        services,
        request,
        caller,
        None,
        "/v1/courses/{course_id}/checklist",
        compute,
        decision=False,
        course_id=course_id,
    )


@router.post(
    "/courses/{course_id}/assessments",
    summary="Assess current facts together with the course's history",
    response_model=AssessmentOut,
    responses=WRITE_ERRORS,
)
async def course_assessment(
    request: Request,
    services: ServicesDep,
    caller: CourseReader,
    course_id: CourseId,
    body: CourseAssessmentRequest,
) -> Response:
    """The decision on the merged facts (stored records win for the course's own records; audited)."""
    request.state.input_path = profile_path

    async def compute() -> tuple[Evaluation, BaseModel]:
        history, _ = await db_call(services, _stored, services, caller.tenant, course_id)
        on = body.as_of or services.today()
        plan = body.plan
        if plan.planned_mg_per_day is not None and plan.product is None and not history.product:
            raise _bad("plan.product", "a planned dose needs a product: the plan's or the course's")
        current = to_facts(
            body.profile,
            plan,
            visit_type=body.visit_type,
            visit_date=body.visit_date,
            previous_visit_date=body.previous_visit_date,
        )
        ev = _evaluate_course(services, history, on, current)
        return ev, assessment_out(ev)

    return await answer(
        services,
        request,
        caller,
        body,
        "/v1/courses/{course_id}/assessments",
        compute,
        course_id=course_id,
    )


@router.get(
    "/courses/{course_id}/timeline",
    summary="The course as an ordered list of what happened and what is scheduled",
    response_model=Timeline,
    responses=READ_ERRORS,
)
async def course_timeline(
    request: Request,
    services: ServicesDep,
    caller: CourseReader,
    course_id: CourseId,
    as_of: AsOf = None,
) -> Response:
    """Every stored event in date order, then what is scheduled (audited).

    The course checklist's evaluation on `as_of`. Events up to `as_of` are marked with the rules
    the findings are about (`marks`, and the most severe as `rule_id`, `severity`, `status`): a
    positive or indeterminate pregnancy test (`contraindication.pregnancy`, and `stop.pregnancy`
    after the first dose), a positive mood screen (`precaution.psychiatric-history`,
    `precaution.suicidal-ideation-now` for PHQ-9/PHQ-A item 9 > 0), a lab result a `lab.*`
    finding of severity warning or critical is about, a visit reporting a stop symptom (`stop.*`).
    Items due or overdue are `scheduled`; the date the cumulative target is reached is a
    `projection`. While a `stop.*` rule applies, the projections (the suspended prescription
    window and pregnancy tests, and the cumulative-target date) are replaced by one `suspended`
    entry carrying the stop rules.
    """

    async def compute() -> tuple[Evaluation, BaseModel]:
        history, events = await db_call(services, _stored, services, caller.tenant, course_id)
        on = as_of or services.today()
        ev, checklist = _course_checklist(services, course_id, history, on)
        timeline = course_timeline_view(
            course_id, ev, history, events, checklist, services.catalog, services.evaluation
        )
        return ev, timeline

    return await answer(
        services,
        request,
        caller,
        None,
        "/v1/courses/{course_id}/timeline",
        compute,
        decision=False,
        course_id=course_id,
    )
