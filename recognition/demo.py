"""Demo learning-family rules and draft lists for ``manage.py load_demo``.

Runs after handbook.demo (the term's claims). For each demo alliance
(members.demo.DEMO_ALLIANCES) its coordinator (the district administrator for
Yuzhong, which has no demo coordinator) sets a rule for the current term in
plain, reachable numbers and computes the draft list once
(``learning_families_compute``, on PostgreSQL and on the SQLite file of
``make run`` alike); the list is left unpublished, so the
coordinator can review, adjust and publish it. Idempotent: an existing rule is
left as it is (the coordinator may have changed it), and a list computed once is
not recomputed (the 重新计算 button does that), so a second load changes nothing.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from members.demo import DEMO_ALLIANCES
from members.models import Alliance
from parent_school.selectors import term_current

from . import services
from .models import LearningFamilyList, LearningFamilyRule

# alliance name → (who sets it, the rule's numbers)
DEMO_RULES = {
    "溪口协同育人联盟": (
        "demo_xikou_coordinator",
        {
            "min_credits": Decimal("2"),
            "min_points": 10,
            "min_home_items": 4,
            "min_school_items": 1,
            "min_behaviour_items": 0,
            "min_sessions": 2,
            "no_open_rejection": True,
        },
    ),
    "渝中区“教联体”": (
        "demo_district_admin",
        {
            "min_credits": Decimal("1"),
            "min_points": 6,
            "min_home_items": 2,
            "min_school_items": 0,
            "min_behaviour_items": 0,
            "min_sessions": 1,
            "no_open_rejection": True,
        },
    ),
}


@transaction.atomic
def load(stdout=None) -> dict[str, int]:
    term = term_current()
    if term is None:
        return {"学习型家庭评选标准": 0}
    users = {
        u.username: u
        for u in get_user_model().objects.filter(
            username__in=[who for who, _numbers in DEMO_RULES.values()]
        )
    }
    for alliance in Alliance.objects.filter(name__in=DEMO_ALLIANCES).order_by("pk"):
        who, numbers = DEMO_RULES[alliance.name]
        user = users.get(who)
        if not LearningFamilyRule.objects.filter(alliance=alliance, term=term).exists():
            services.rule_save(user=user, alliance_id=alliance.pk, term_id=term.pk, **numbers)
        computed = LearningFamilyList.objects.filter(
            alliance=alliance, term=term, computed_at__isnull=False
        ).exists()
        if not computed:
            services.learning_families_compute(alliance_id=alliance.pk, term_id=term.pk, user=user)
    lists = LearningFamilyList.objects.filter(term=term)
    if stdout is not None:
        stdout.write("学习型家庭演示数据已载入（评选标准和待发布的名单草稿）。")
    return {
        "学习型家庭评选标准": LearningFamilyRule.objects.filter(term=term).count(),
        "学习型家庭名单": lists.count(),
        "名单中的家庭": sum(lst.entries.filter(included=True).count() for lst in lists),
    }
