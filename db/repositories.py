"""Repositories: all queries live here. They may ``flush()`` but never ``commit()``: the
transaction belongs to the request (style.md §6).

Every query of tenant data takes the tenant first and filters on it: a row of another tenant is
never found, listed or changed (the API answers it as missing).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from db.tables import (
    AuditRecord,
    CdsCard,
    CdsCardSuggestion,
    CdsFeedback,
    Course,
    CourseEvent,
    IdempotencyKey,
)

IN_FLIGHT = "in-flight"
COMPLETED = "completed"


class CourseRepository:
    """Courses and their events, of one tenant per call."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, course: Course) -> Course:
        """Insert a course."""
        self.session.add(course)
        self.session.flush()
        return course

    def get(self, tenant: str, course_id: str, *, lock: bool = False) -> Course | None:
        """The tenant's course, or ``None`` (also when it is another tenant's); ``lock`` holds its
        row until the transaction ends (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite has one
        writer at a time anyway)."""
        query = select(Course).where(col(Course.id) == course_id, col(Course.tenant) == tenant)
        if lock:
            query = query.with_for_update()
        return self.session.scalars(query).one_or_none()

    def by_patient(self, tenant: str, patient_ref: str) -> list[Course]:
        """The tenant's courses of a patient, oldest first."""
        query = (
            select(Course)
            .where(col(Course.tenant) == tenant, col(Course.patient_ref) == patient_ref)
            .order_by(col(Course.created_at))
        )
        return list(self.session.scalars(query))

    def update(
        self, tenant: str, course_id: str, expected_version: int, changes: dict[str, Any]
    ) -> bool:
        """Apply ``changes`` if the tenant's course is still at ``expected_version`` (then
        version + 1)."""
        result = self.session.execute(
            update(Course)
            .where(
                col(Course.id) == course_id,
                col(Course.tenant) == tenant,
                col(Course.version) == expected_version,
            )
            .values(**changes, version=expected_version + 1)
        )
        self.session.expire_all()
        return bool(getattr(result, "rowcount", 0))

    def start_if_planned(self, tenant: str, course_id: str, start: date, now: datetime) -> None:
        """The first dispensing of a planned course sets its start date (atomic)."""
        self.session.execute(
            update(Course)
            .where(
                col(Course.id) == course_id,
                col(Course.tenant) == tenant,
                col(Course.start_date).is_(None),
            )
            .values(start_date=start, updated_at=now)
        )

    def add_event(self, event: CourseEvent) -> CourseEvent:
        """Append an event."""
        self.session.add(event)
        self.session.flush()
        return event

    def events(self, tenant: str, course_id: str) -> list[CourseEvent]:
        """The tenant's course's events by date, then in the order recorded."""
        query = (
            select(CourseEvent)
            .where(col(CourseEvent.course_id) == course_id, col(CourseEvent.tenant) == tenant)
            .order_by(col(CourseEvent.event_date), col(CourseEvent.id))
        )
        return list(self.session.scalars(query))


class AuditRepository:
    """The audit trail."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_many(self, rows: list[dict[str, Any]]) -> None:
        """Insert audit records (one statement; a column a row leaves out is NULL)."""
        if rows:
            keys = {k for r in rows for k in r}
            self.session.execute(insert(AuditRecord), [dict.fromkeys(keys) | r for r in rows])

    def add_cards(self, rows: list[dict[str, Any]]) -> None:
        """Insert issued CDS Hooks cards (``cds_card`` rows), and the rule IDs behind each of their
        suggestions (a row's ``suggestions``: suggestion uuid → rule IDs)."""
        if not rows:
            return
        cards = [{k: v for k, v in r.items() if k != "suggestions"} for r in rows]
        behind = [
            {"uuid": suggestion, "rule_id": rule_id, "card_uuid": r["uuid"], "tenant": r["tenant"]}
            for r in rows
            for suggestion, rule_ids in (r.get("suggestions") or {}).items()
            for rule_id in dict.fromkeys(rule_ids)
        ]
        self.session.execute(insert(CdsCard), cards)
        if behind:
            self.session.execute(insert(CdsCardSuggestion), behind)

    def find(
        self,
        tenant: str,
        *,
        course_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """The tenant's audit records, oldest first, filtered."""
        query = (
            select(AuditRecord)
            .where(col(AuditRecord.tenant) == tenant)
            .order_by(col(AuditRecord.id))
            .limit(limit)
        )
        if course_id is not None:
            query = query.where(col(AuditRecord.course_id) == course_id)
        if since is not None:
            query = query.where(col(AuditRecord.recorded_at) >= since)
        if until is not None:
            query = query.where(col(AuditRecord.recorded_at) < until)
        if after_id is not None:
            query = query.where(col(AuditRecord.id) > after_id)
        return list(self.session.scalars(query))


class IdempotencyRepository:
    """``Idempotency-Key`` claims and the answers they got, per (tenant, caller, key)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @staticmethod
    def _is(tenant: str, caller: str, key: str) -> tuple[Any, ...]:
        return (
            col(IdempotencyKey.tenant) == tenant,
            col(IdempotencyKey.caller) == caller,
            col(IdempotencyKey.key) == key,
        )

    def claim(
        self, tenant: str, caller: str, key: str, fingerprint: str, now: datetime
    ) -> IdempotencyKey | None:
        """Claim ``key`` for this request; the existing claim when there is one.

        Run in its own short transaction, so a concurrent request sees the claim at once.
        """
        try:
            with self.session.begin_nested():
                self.session.add(
                    IdempotencyKey(
                        tenant=tenant,
                        caller=caller,
                        key=key,
                        fingerprint=fingerprint,
                        state=IN_FLIGHT,
                        created_at=now,
                    )
                )
            return None
        except IntegrityError:
            query = select(IdempotencyKey).where(*self._is(tenant, caller, key))
            return self.session.scalars(query).one()

    def take_over(
        self, row_id: int, fingerprint: str, now: datetime, stale_before: datetime
    ) -> bool:
        """Re-claim an in-flight claim older than ``stale_before`` (its request died)."""
        result = self.session.execute(
            update(IdempotencyKey)
            .where(
                col(IdempotencyKey.id) == row_id,
                col(IdempotencyKey.state) == IN_FLIGHT,
                col(IdempotencyKey.created_at) < stale_before,
            )
            .values(created_at=now, fingerprint=fingerprint)
        )
        return bool(getattr(result, "rowcount", 0))

    def complete(
        self,
        tenant: str,
        caller: str,
        key: str,
        *,
        status_code: int,
        body: bytes,
        location: str | None,
        etag: str | None,
    ) -> None:
        """Store the answer (in the same transaction as the write it answers)."""
        self.session.execute(
            update(IdempotencyKey)
            .where(*self._is(tenant, caller, key))
            .values(
                state=COMPLETED,
                status_code=status_code,
                response_body=body,
                location=location,
                etag=etag,
            )
        )

    def release(self, tenant: str, caller: str, key: str) -> None:
        """Drop an in-flight claim whose request failed, so a retry may proceed."""
        self.session.execute(
            delete(IdempotencyKey).where(
                *self._is(tenant, caller, key), col(IdempotencyKey.state) == IN_FLIGHT
            )
        )

    def purge(self, older_than: datetime) -> None:
        """Forget keys older than ``older_than`` (keys are kept at least 24 hours)."""
        self.session.execute(
            delete(IdempotencyKey).where(col(IdempotencyKey.created_at) < older_than)
        )


KEEP_KEYS = timedelta(hours=48)


class FeedbackRepository:
    """CDS Hooks feedback, joined to the rules of the cards it is about."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def card(self, tenant: str, card_uuid: str) -> CdsCard | None:
        """The card ``card_uuid`` if it was issued to ``tenant``."""
        query = select(CdsCard).where(col(CdsCard.uuid) == card_uuid, col(CdsCard.tenant) == tenant)
        return self.session.scalars(query).one_or_none()

    @staticmethod
    def _issued(
        tenant: str,
        since: datetime | None,
        until: datetime | None,
        iss: str | None,
        hook: str | None,
    ) -> list[Any]:
        """The conditions on ``cds_card`` of the tenant's cards issued in ``[since, until)`` to
        the client ``iss`` at ``hook`` (``None``: any)."""
        conditions = [col(CdsCard.tenant) == tenant]
        if since is not None:
            conditions.append(col(CdsCard.issued_at) >= since)
        if until is not None:
            conditions.append(col(CdsCard.issued_at) < until)
        if iss is not None:
            conditions.append(col(CdsCard.caller) == iss)
        if hook is not None:
            conditions.append(col(CdsCard.hook) == hook)
        return conditions

    def issued_cards(
        self,
        tenant: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        iss: str | None = None,
        hook: str | None = None,
    ) -> list[tuple[str, list[dict[str, Any]]]]:
        """The tenant's cards issued in ``[since, until)`` (to ``iss``, at ``hook``): each card's
        uuid and rules."""
        query = select(col(CdsCard.uuid), col(CdsCard.rules)).where(
            *self._issued(tenant, since, until, iss, hook)
        )
        return [(uuid, rules) for uuid, rules in self.session.execute(query)]

    def suggestion_rules(
        self,
        tenant: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        iss: str | None = None,
        hook: str | None = None,
    ) -> list[tuple[str, str, str]]:
        """(card uuid, suggestion uuid, rule ID) of the suggestions of the same cards."""
        query = (
            select(
                col(CdsCardSuggestion.card_uuid),
                col(CdsCardSuggestion.uuid),
                col(CdsCardSuggestion.rule_id),
            )
            .join(CdsCard, col(CdsCard.uuid) == col(CdsCardSuggestion.card_uuid))
            .where(
                col(CdsCardSuggestion.tenant) == tenant,
                *self._issued(tenant, since, until, iss, hook),
            )
        )
        return [(card, suggestion, rule) for card, suggestion, rule in self.session.execute(query)]

    def feedback_on_issued(
        self,
        tenant: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        iss: str | None = None,
        hook: str | None = None,
    ) -> list[CdsFeedback]:
        """The tenant's feedback on the same cards (whenever it was received), in arrival order."""
        query = (
            select(CdsFeedback)
            .join(
                CdsCard,
                (col(CdsCard.uuid) == col(CdsFeedback.card_uuid))
                & (col(CdsCard.tenant) == col(CdsFeedback.tenant)),
            )
            .where(
                col(CdsFeedback.tenant) == tenant,
                col(CdsFeedback.matched).is_(True),
                *self._issued(tenant, since, until, iss, hook),
            )
            .order_by(col(CdsFeedback.id))
        )
        return list(self.session.scalars(query))

    def unmatched(
        self,
        tenant: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        iss: str | None = None,
    ) -> int:
        """How many of the tenant's feedback items received in ``[since, until)`` (from ``iss``)
        name a card not issued to the tenant."""
        query = (
            select(func.count())
            .select_from(CdsFeedback)
            .where(col(CdsFeedback.tenant) == tenant, col(CdsFeedback.matched).is_(False))
        )
        if since is not None:
            query = query.where(col(CdsFeedback.received_at) >= since)
        if until is not None:
            query = query.where(col(CdsFeedback.received_at) < until)
        if iss is not None:
            query = query.where(col(CdsFeedback.caller) == iss)
        return int(self.session.execute(query).scalar_one())
