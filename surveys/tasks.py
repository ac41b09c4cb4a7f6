"""Celery tasks of the questionnaires: thin wrappers that take ids and call services.
The beat's sweep only enqueues; workers do the work, each step idempotent."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def surveys_due_sweep() -> dict:
    """Every 10 minutes (beat): enqueue the session surveys of course series with
    an ended session, due invitations and reminders, and the final release of
    closed anonymous surveys with waiting answers."""
    due = services.surveys_due()
    for series_id in due["series"]:
        session_surveys.delay(series_id)
    for survey_id in due["invitations"]:
        survey_invitations.delay(survey_id)
    for survey_id in due["reminders"]:
        survey_reminders.delay(survey_id)
    for survey_id in due["final_releases"]:
        survey_release.delay(survey_id, True)
    return {key: len(ids) for key, ids in due.items()}


@shared_task(acks_late=True)
def session_surveys(series_id: int) -> int:
    """Make the ended sessions' surveys of a series, then invite those already due."""
    made = services.session_surveys_ensure(series_id=series_id)
    if made:
        for survey_id in services.series_invitations_due(series_id=series_id):
            survey_invitations.delay(survey_id)
    return made


@shared_task(acks_late=True)
def survey_invitations(survey_id: int) -> int:
    return services.invitations_send(survey_id=survey_id)


@shared_task(acks_late=True)
def survey_reminders(survey_id: int) -> int:
    return services.reminders_send(survey_id=survey_id)


@shared_task(acks_late=True)
def survey_release(survey_id: int, final: bool = False) -> int:
    """Release waiting anonymous answers in batches (after a submit; final at closing)."""
    return services.anonymous_release(survey_id=survey_id, final=final)
