"""A small world of brand programmes for the brand tests, counted by hand.

Term 2025-2026-2 (1 Mar – 31 Jul 2026), "now" 15 June 2026. Two brands:

- 星联盟 (at 中华路小学, region 上清寺街道 itself):
  course S (this term) with sessions S1 (held: F1 party 2 present, F2 party 1
  absent), S2 (held: F1 party 2 present, F3 party 3 present), S3 (cancelled:
  F2 present — not counted), S4 (after now: F2 booked); course of another term
  (held, F1 present — not counted);
  event E1 (held: F2 party 2 present, F3 party 1 waiting-then-cancelled),
  E2 (draft, held time: F1 present — not counted),
  E3 (after the term: not counted);
  group G with session G1 (held: F3 party 1 present);
  → sessions 4 (S1, S2, E1, G1), person-times 2 + 2 + 3 + 2 + 1 = 10,
    families {F1, F3, F2} = 3.
- 育苗护幼 (at a branch whose region is a community of 两路口街道): event Y1
  (held, F1 party 1 present) → 1, 1, 1.
- 空品牌 (no offering): no row. 旧品牌 (inactive): not on the matrix.
- A consultation of the station at 中华路小学 held in the term, with a present
  booking: no brand, and neither a course session nor an event anywhere.
"""

from __future__ import annotations

from types import SimpleNamespace

from bookings.models import Booking, Offering
from bookings.tests.factories import OfferingFactory
from groups.tests.factories import GroupFactory, GroupSessionFactory
from guidance.models import Consultation
from guidance.tests.factories import (
    ConsultationFactory,
    MentorFactory,
    SlotFactory,
    StationFactory,
)
from members.models import MemberUnit, Region
from members.tests.factories import GuardianFactory, MemberUnitFactory, RegionFactory
from parent_school.tests.factories import BrandProgrammeFactory

from .factories import (
    CourseFactory,
    ParentSchoolFactory,
    TermFactory,
    booking_make,
    event_make,
    local,
    session_make,
)

PRESENT = Booking.Attendance.PRESENT
ABSENT = Booking.Attendance.ABSENT


def build_brand_world() -> SimpleNamespace:
    w = SimpleNamespace()
    w.now = local(2026, 6, 15, 12)
    w.term = TermFactory(code="2025-2026-2", is_current=True)
    w.other_term = TermFactory(
        code="2025-2026-1", starts_on=local(2025, 9, 1).date(), ends_on=local(2026, 1, 31).date()
    )
    district = RegionFactory(name="渝中区", kind=Region.Kind.DISTRICT)
    w.street_sqs = RegionFactory(name="上清寺街道", kind=Region.Kind.STREET, parent=district)
    w.street_llk = RegionFactory(name="两路口街道", kind=Region.Kind.STREET, parent=district)
    community = RegionFactory(name="两路口社区", kind=Region.Kind.COMMUNITY, parent=w.street_llk)
    w.school_unit = MemberUnitFactory(
        name="中华路小学", kind=MemberUnit.Kind.PRIMARY_SCHOOL, region=w.street_sqs
    )
    w.branch_unit = MemberUnitFactory(
        name="两路口街道分院", kind=MemberUnit.Kind.BRANCH, region=community
    )
    w.star = BrandProgrammeFactory(
        name="星联盟", owner_unit=w.school_unit, description="中华路小学的家校社协同特色品牌。"
    )
    w.seedling = BrandProgrammeFactory(name="育苗护幼", owner_unit=w.branch_unit)
    w.empty = BrandProgrammeFactory(name="空品牌", owner_unit=w.branch_unit)
    w.old = BrandProgrammeFactory(name="旧品牌", owner_unit=w.school_unit, is_active=False)

    w.school = ParentSchoolFactory(name="中华路小学家长学校", host_unit=w.school_unit)
    w.course = CourseFactory(
        parent_school=w.school, term=w.term, title="星联盟亲子课", brand=w.star, is_published=True
    )
    old_course = CourseFactory(parent_school=w.school, term=w.other_term, brand=w.star)
    w.s1 = session_make(course=w.course, starts_at=local(2026, 3, 10))
    w.s2 = session_make(course=w.course, starts_at=local(2026, 4, 10))
    w.s3 = session_make(
        course=w.course, starts_at=local(2026, 4, 20), status=Offering.Status.CANCELLED
    )
    w.s4 = session_make(course=w.course, starts_at=local(2026, 6, 20))
    old_session = session_make(course=old_course, starts_at=local(2025, 10, 1))

    w.e1 = event_make(unit=w.school_unit, starts_at=local(2026, 5, 5), title="星联盟开放日")
    w.e2 = event_make(unit=w.school_unit, starts_at=local(2026, 5, 6), status="draft")
    w.e3 = event_make(unit=w.school_unit, starts_at=local(2026, 8, 10), title="暑期活动")
    w.y1 = event_make(unit=w.branch_unit, starts_at=local(2026, 4, 1), title="育苗护幼讲座")
    for event, brand in ((w.e1, w.star), (w.e2, w.star), (w.e3, w.star), (w.y1, w.seedling)):
        event.brand = brand
        event.save(update_fields=["brand"])

    w.group = GroupFactory(name="星联盟家伴组", parent_school=w.school, brand=w.star)
    w.g1 = GroupSessionFactory(
        group=w.group,
        offering=OfferingFactory(
            kind="group_session",
            unit=w.school_unit,
            starts_at=local(2026, 5, 20),
            ends_at=local(2026, 5, 20, 12),
        ),
    )

    w.g_1, w.g_2, w.g_3 = GuardianFactory(), GuardianFactory(), GuardianFactory()
    f1, f2, f3 = w.g_1, w.g_2, w.g_3

    def book(offering, guardian, party, **kwargs):
        booking = booking_make(
            offering=offering, family=guardian.family, guardian=guardian, **kwargs
        )
        Booking.objects.filter(pk=booking.pk).update(party_size=party)
        return booking

    book(w.s1.offering, f1, 2, attendance=PRESENT)
    book(w.s1.offering, f2, 1, attendance=ABSENT)
    book(w.s2.offering, f1, 2, attendance=PRESENT)
    book(w.s2.offering, f3, 3, attendance=PRESENT)
    book(w.s3.offering, f2, 1, attendance=PRESENT)
    book(w.s4.offering, f2, 1)
    book(old_session.offering, f1, 1, attendance=PRESENT)
    book(w.e1.offering, f2, 2, attendance=PRESENT)
    book(w.e1.offering, f3, 1, status=Booking.Status.CANCELLED, attendance=PRESENT)
    book(w.e2.offering, f1, 1, attendance=PRESENT)
    book(w.e3.offering, f1, 1)
    book(w.g1.offering, f3, 1, attendance=PRESENT)
    book(w.y1.offering, f1, 1, attendance=PRESENT)

    # A consultation held in the term at a station of 中华路小学: counted in the
    # unit's consultations held, never as a session, an event or a brand's.
    w.station = StationFactory(unit=w.school_unit)
    w.mentor = MentorFactory(station=w.station)
    slot = SlotFactory(
        mentor=w.mentor,
        offering=OfferingFactory(
            kind="consultation",
            unit=w.school_unit,
            capacity=1,
            starts_at=local(2026, 5, 12),
            ends_at=local(2026, 5, 12, 11),
        ),
    )
    w.consultation = ConsultationFactory(
        slot=slot,
        family=f1.family,
        term=w.term,
        status=Consultation.Status.HELD,
        held_at=local(2026, 5, 12, 11),
    )
    Booking.objects.filter(pk=w.consultation.booking_id).update(attendance=PRESENT)
    return w
