"""Families for the groups' tests: each with a verified guardian and a child at a school."""

from __future__ import annotations

import itertools

from members.tests.factories import ChildFactory, GuardianFactory, UserFactory

_numbers = itertools.count(1)


def family_at(school, *, name: str = "家长", child_name: str | None = None):
    """A guardian (with .user, .family) whose child attends ``school``."""
    n = next(_numbers)
    phone = f"1590{n:07d}"
    user = UserFactory(
        username=f"g{n}{name}", display_name=f"{name}{n}", phone=phone, phone_verified=True
    )
    guardian = GuardianFactory(user=user, phone=phone)
    ChildFactory(family=guardian.family, nickname=child_name or f"孩子{n}", school=school)
    return guardian
