"""Signal receivers of the members app (connected in MembersConfig.ready)."""

from __future__ import annotations

from django.db.models.signals import pre_save
from django.dispatch import receiver

from .models import User


@receiver(pre_save, sender=User, dispatch_uid="members.user_disabled_ends_sessions")
def end_sessions_when_disabled(sender, instance: User, raw=False, **kwargs) -> None:
    """Unticking "active" anywhere (admin, shell, import) ends the user's sessions.

    Only a save of an inactive user costs the extra look-up of the old value.
    """
    if raw or instance.pk is None or instance.is_active:
        return
    was_active = User.objects.filter(pk=instance.pk, is_active=True).exists()
    if not was_active:
        return
    from .services import user_sessions_end

    # Straight away rather than on commit: if the save were rolled back, the
    # worst outcome is that the user signs in again.
    user_sessions_end(user=instance)
