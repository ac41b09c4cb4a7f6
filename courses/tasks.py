from celery import shared_task

from . import services


@shared_task(acks_late=True)
def course_next_session_sweep() -> int:
    """Move the catalogue order on for courses whose next session has started."""
    return services.course_next_session_refresh(stale_only=True)
