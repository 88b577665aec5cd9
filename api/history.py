"""Stored courses and events as the domain's :class:`CourseHistory`."""

from __future__ import annotations

from api.schemas.courses import DocumentationIn, PregnancyPotentialEventIn, VisitIn
from api.schemas.profile import ContraceptionIn, CounsellingIn, DispensingIn, LabIn, PregnancyTestIn
from db.tables import Course, CourseEvent
from domain import facts as f
from domain.course import CourseHistory, CourseStatus, PotentialRecord, RemsRecord, Visit
from domain.vocab import FormKind, Jurisdiction, Product

FORMS = {k.value for k in FormKind}


def history_of(course: Course, events: list[CourseEvent]) -> CourseHistory:
    """The domain history of a stored course."""
    visits: list[Visit] = []
    dispensings: list[f.Dispensing] = []
    labs: list[f.LabResult] = []
    tests: list[f.PregnancyTest] = []
    contraception: list[f.ContraceptionRecord] = []
    counselling: list[f.CounsellingRecord] = []
    forms: list[f.AcknowledgementForm] = []
    rems: list[RemsRecord] = []
    potentials: list[PotentialRecord] = []
    for e in events:
        data = e.data
        if e.kind == "visit":
            v = VisitIn.model_validate(data)
            screen = None
            if v.mood_screen is not None:
                screen = f.MoodScreen(
                    instrument=v.mood_screen.instrument,
                    total=v.mood_screen.total,
                    item_9=v.mood_screen.item_9,
                    screened_on=v.visit_date,
                )
            visits.append(
                Visit(
                    visit_date=v.visit_date,
                    weight_kg=None if v.weight is None else v.weight.kg(),
                    mood_screen=screen,
                    symptoms=None if v.reported_symptoms is None else tuple(v.reported_symptoms),
                    sexual_function_assessed=v.sexual_function_assessed,
                )
            )
        elif e.kind == "dispensing":
            dispensings.append(f.Dispensing(**DispensingIn.model_validate(data).model_dump()))
        elif e.kind == "lab":
            labs.append(f.LabResult(**LabIn.model_validate(data).model_dump()))
        elif e.kind == "pregnancy-test":
            tests.append(f.PregnancyTest(**PregnancyTestIn.model_validate(data).model_dump()))
        elif e.kind == "contraception":
            contraception.append(
                f.ContraceptionRecord(**ContraceptionIn.model_validate(data).model_dump())
            )
        elif e.kind == "counselling":
            c = CounsellingIn.model_validate(data)
            counselling.append(f.CounsellingRecord(topic=c.topic, given_on=c.given_on))
        elif e.kind == "documentation":
            d = DocumentationIn.model_validate(data)
            if d.kind in FORMS:
                forms.append(f.AcknowledgementForm(form=FormKind(d.kind), signed_on=d.recorded_on))
            else:
                step = "enrolment" if d.kind == "rems-enrolment" else "monthly-confirmation"
                rems.append(RemsRecord(recorded_on=d.recorded_on, step=step))
        elif e.kind == "pregnancy-potential":
            p = PregnancyPotentialEventIn.model_validate(data)
            potentials.append(
                PotentialRecord(recorded_on=p.recorded_on, category=p.category, reason=p.reason)
            )
    return CourseHistory(
        jurisdiction=Jurisdiction(course.jurisdiction),
        status=CourseStatus(course.status),
        product=None if course.product is None else Product(course.product),
        start_date=course.start_date,
        end_date=course.end_date,
        weight_at_start_kg=course.weight_at_start_kg,
        target_cumulative_mg_per_kg=course.target_cumulative_mg_per_kg,
        visits=tuple(visits),
        dispensings=tuple(dispensings),
        labs=tuple(labs),
        pregnancy_tests=tuple(tests),
        contraception=tuple(contraception),
        counselling=tuple(counselling),
        forms=tuple(forms),
        rems=tuple(rems),
        potentials=tuple(potentials),
    )
