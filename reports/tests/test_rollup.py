"""The roll-up against figures worked out by hand from tests/conftest.py's dataset."""

from decimal import Decimal

from django.core.management import call_command

from bookings.models import Offering
from courses.models import LessonProgress
from reports.models import ParticipationSnapshot
from reports.services import participation_rollup
from reports.tasks import rollup_current_term
from volunteers.models import ServiceHour

FIELDS = [
    "sessions_planned",
    "sessions_held",
    "events_held",
    "enrolments",
    "enrolments_held",
    "attendances",
    "person_times",
    "families",
    "children",
    "attendance_rate",
    "credits_posted",
    "event_participants",
    "volunteer_hours",
    "lessons_completed",
    "consultations_held",
    "target_sessions",
    "target_met",
]


def row(**kw):
    base = dict.fromkeys(FIELDS, 0)
    base.update(
        attendance_rate=None,
        credits_posted=Decimal("0.0"),
        volunteer_hours=Decimal("0.0"),
        target_sessions=None,
        target_met=None,
    )
    base.update(kw)
    return base


def snapshot_table(term):
    return {
        (s.unit_id, s.parent_school_id, s.period): {f: getattr(s, f) for f in FIELDS}
        for s in ParticipationSnapshot.objects.filter(term=term)
    }


def expected(d):
    """Worked out by hand; see the comments in conftest.py."""
    return {
        # A, March: A1 held (2 h, volunteer + staff). F1 party 2 present (k1), F2 party 3 absent
        # (k2, k3): only F1 and k1 took part, so families and children count them alone.
        (d.u1.pk, d.ps_a.pk, "2026-03"): row(
            sessions_planned=1,
            sessions_held=1,
            enrolments=2,
            enrolments_held=2,
            attendances=1,
            person_times=2,
            families=1,
            children=1,
            attendance_rate=Decimal("50.0"),
            credits_posted=Decimal("1.0"),
            volunteer_hours=Decimal("2.0"),
        ),
        # A, April: A2 held (1.5 h), A3 cancelled. F1 party 2 present, F3 party 1 present, F2 waiting.
        (d.u1.pk, d.ps_a.pk, "2026-04"): row(
            sessions_planned=1,
            sessions_held=1,
            enrolments=2,
            enrolments_held=2,
            attendances=2,
            person_times=3,
            families=2,
            children=1,
            attendance_rate=Decimal("100.0"),
            credits_posted=Decimal("2.5"),
            volunteer_hours=Decimal("1.5"),
            lessons_completed=1,
        ),
        # A, June: A4 after "now": planned, not held; F2 booked (an enrolment) but has not
        # taken part yet, so no family is covered.
        (d.u1.pk, d.ps_a.pk, "2026-06"): row(sessions_planned=1, enrolments=1),
        (d.u1.pk, d.ps_a.pk, "term"): row(
            sessions_planned=3,
            sessions_held=2,
            enrolments=5,
            enrolments_held=4,
            attendances=3,
            person_times=5,
            families=2,
            children=1,
            attendance_rate=Decimal("75.0"),
            credits_posted=Decimal("3.5"),
            volunteer_hours=Decimal("3.5"),
            lessons_completed=1,
            target_sessions=2,
            target_met=True,
        ),
        # B, March: B1 held, no instructor. F3 party 1 present.
        (d.u1.pk, d.ps_b.pk, "2026-03"): row(
            sessions_planned=1,
            sessions_held=1,
            enrolments=1,
            enrolments_held=1,
            attendances=1,
            person_times=1,
            families=1,
            attendance_rate=Decimal("100.0"),
            credits_posted=Decimal("1.0"),
        ),
        (d.u1.pk, d.ps_b.pk, "term"): row(
            sessions_planned=1,
            sessions_held=1,
            enrolments=1,
            enrolments_held=1,
            attendances=1,
            person_times=1,
            families=1,
            attendance_rate=Decimal("100.0"),
            credits_posted=Decimal("1.0"),
            target_sessions=10,
            target_met=False,
        ),
        # Events of u1: E1 held in April (F2 party 2 present with k2, F3 party 1 not marked);
        # E3 is a draft. Event participants are the present ones, like person-times.
        (d.u1.pk, None, "2026-04"): row(
            events_held=1, person_times=2, families=1, children=1, event_participants=2
        ),
        (d.u1.pk, None, "term"): row(
            events_held=1, person_times=2, families=1, children=1, event_participants=2
        ),
        # C, May: C1 held (1 h, volunteer). F1 guardian, not marked (no family covered);
        # F3 finished a lesson on May 2.
        (d.u2.pk, d.ps_c.pk, "2026-05"): row(
            sessions_planned=1,
            sessions_held=1,
            enrolments=1,
            enrolments_held=1,
            attendance_rate=Decimal("0.0"),
            volunteer_hours=Decimal("1.0"),
            lessons_completed=1,
        ),
        (d.u2.pk, d.ps_c.pk, "term"): row(
            sessions_planned=1,
            sessions_held=1,
            enrolments=1,
            enrolments_held=1,
            attendance_rate=Decimal("0.0"),
            volunteer_hours=Decimal("1.0"),
            lessons_completed=1,
            target_sessions=1,
            target_met=True,
        ),
        # D: active, nothing held, default target of 10. E is inactive: no row.
        (d.u2.pk, d.ps_d.pk, "term"): row(target_sessions=10, target_met=False),
    }


def test_rollup_matches_figures_worked_out_by_hand(dataset):
    # when
    participation_rollup(term=dataset.term, now=dataset.now)

    # then
    assert snapshot_table(dataset.term) == expected(dataset)


def test_rollup_twice_gives_the_same_rows(dataset):
    # given
    participation_rollup(term=dataset.term, now=dataset.now)
    first = {s.pk: snapshot_table(dataset.term) for s in ParticipationSnapshot.objects.all()[:1]}
    ids_first = sorted(ParticipationSnapshot.objects.values_list("pk", flat=True))

    # when
    participation_rollup(term=dataset.term, now=dataset.now)

    # then: same ids (updated in place by the upsert), same figures
    assert sorted(ParticipationSnapshot.objects.values_list("pk", flat=True)) == ids_first
    assert {pk: snapshot_table(dataset.term) for pk in first} == first


def test_rollup_updates_changed_figures_and_drops_rows_that_no_longer_exist(dataset):
    # given
    participation_rollup(term=dataset.term, now=dataset.now)

    # when: C1 is cancelled after the fact and F3's lesson is reset
    Offering.objects.filter(pk=dataset.c1.offering_id).update(status=Offering.Status.CANCELLED)
    # (and the volunteer's record of it goes too: her hours are what the record says)
    ServiceHour.objects.filter(offering_id=dataset.c1.offering_id).delete()
    LessonProgress.objects.filter(family=dataset.f3).update(completed_at=None, percent=0)
    participation_rollup(term=dataset.term, now=dataset.now)

    # then: May of C had nothing else, so its row is gone; the term row stays, at zero
    table = snapshot_table(dataset.term)
    assert (dataset.u2.pk, dataset.ps_c.pk, "2026-05") not in table
    assert table[(dataset.u2.pk, dataset.ps_c.pk, "term")] == row(
        target_sessions=1, target_met=False
    )
    assert len(table) == len(expected(dataset)) - 1


def test_other_terms_are_left_alone(dataset):
    # given
    participation_rollup(term=dataset.other_term, now=dataset.now)
    before = snapshot_table(dataset.other_term)

    # when
    participation_rollup(term=dataset.term, now=dataset.now)

    # then
    assert snapshot_table(dataset.other_term) == before
    old = before[(dataset.u1.pk, dataset.ps_a.pk, "term")]
    assert old["sessions_held"] == 1 and old["person_times"] == 1 and old["target_met"] is False


def test_command_and_nightly_task_use_the_same_roll_up(dataset):
    # when
    call_command("rollup_participation", "--term", dataset.term.code)
    by_command = ParticipationSnapshot.objects.filter(term=dataset.term).count()
    rollup_current_term.delay()

    # then: "now" is the real clock here, so every session of the term has been held
    assert by_command == len(expected(dataset))
    a_term = ParticipationSnapshot.objects.get(
        term=dataset.term, parent_school=dataset.ps_a, period="term"
    )
    assert a_term.sessions_held == 3 and a_term.target_met is True


def test_nightly_beat_entry_targets_the_current_term_task(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["reports-rollup-current-term"]
    assert entry["task"] == rollup_current_term.name
