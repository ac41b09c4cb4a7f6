from celery import shared_task
from django.core.cache import cache


@shared_task(acks_late=True)
def heartbeat(token: str) -> str:
    """Write a token to the cache; proves a worker is consuming from the broker."""
    cache.set(f"heartbeat:{token}", "alive", timeout=300)
    return token
