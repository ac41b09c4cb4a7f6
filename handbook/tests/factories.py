"""factory_boy factories for the handbook app. Other apps' tests import these.

Rows made here skip the services (no tallies, no audit): tests of the rules
call ``handbook.services``; these set up the world around them.
Append new factories at the end; keep the existing ones' behaviour stable.
"""

import datetime

import factory

from handbook.models import ClaimTally, HandbookItem, ItemKind
from members.tests.factories import FamilyFactory, MemberUnitFactory
from parent_school.tests.factories import TermFactory


class HandbookItemFactory(factory.django.DjangoModelFactory):
    """An item of the district's default set (``alliance=None``) unless given one."""

    class Meta:
        model = HandbookItem

    alliance = None
    kind = ItemKind.HOME
    name = factory.Sequence(lambda n: f"测试项目{n}")
    description = "测试用的手册项目"
    points = 2
    evidence = HandbookItem.Evidence.NONE
    limit_per_day = 1
    position = factory.Sequence(lambda n: n)


class ClaimFactory(factory.django.DjangoModelFactory):
    """A pending parent claim; its unit is a school, its date the term's first day."""

    class Meta:
        model = "handbook.Claim"

    family = factory.SubFactory(FamilyFactory)
    item = factory.SubFactory(HandbookItemFactory)
    term = factory.SubFactory(TermFactory)
    unit = factory.SubFactory(MemberUnitFactory)
    occurred_on = factory.LazyAttribute(lambda o: o.term.starts_on)
    note = "和孩子一起完成"
    source = "parent"
    status = "pending"


class ClaimTallyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClaimTally

    family = factory.SubFactory(FamilyFactory)
    item = factory.SubFactory(HandbookItemFactory)
    period = ClaimTally.Period.DAY
    starts_on = datetime.date(2025, 9, 1)
    used = 1
