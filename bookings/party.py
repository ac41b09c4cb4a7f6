"""Who a booking is for, as the family reads it: on the booking forms of courses
and events, and in 我的学习.

Both booking forms pre-select in one way: the signed-in guardian is ticked, other
guardians are not, and children are ticked only when the offering is meant for
children or whole families (its audience). People are named the same way
everywhere: the display name, else the masked phone, else the relation; never the
generated username of a phone-only account. No database access here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from members.privacy import mask_phone

#: Audiences (Course.Audience, Event.Audience values) for which a family usually
#: brings its children, so the booking form ticks them for the family to untick.
CHILDREN_BY_DEFAULT_AUDIENCES = frozenset({"parent_child", "students", "families"})


@dataclass(frozen=True)
class PartyMember:
    pk: int
    label: str  # the person's name as the family reads it
    detail: str  # relation (guardians) or school stage (children)
    is_child: bool
    is_me: bool
    checked: bool


@dataclass(frozen=True)
class Party:
    guardians: list[PartyMember]
    children: list[PartyMember]
    children_expected: bool

    @property
    def checked(self) -> list[PartyMember]:
        return [m for m in (*self.guardians, *self.children) if m.checked]

    @property
    def checked_children(self) -> int:
        return sum(1 for m in self.children if m.checked)


def guardian_label(guardian) -> str:
    """「王妈妈」, else 「138****1234」, else 「妈妈」."""
    user = getattr(guardian, "user", None)
    name = getattr(user, "display_name", "") if user is not None else ""
    if name:
        return name
    phone = guardian.phone or (getattr(user, "phone", "") if user is not None else "")
    return mask_phone(phone) or guardian.get_relation_display()


def attendee_label(attendee, *, me_guardian_id: int | None = None) -> str:
    """One person of a booking: 「我」, a guardian's name, or 「小明（孩子）」."""
    if attendee.child_id and attendee.child is not None:
        return _("%(name)s（孩子）") % {"name": attendee.child.nickname}
    if attendee.guardian_id and attendee.guardian is not None:
        if attendee.guardian_id == me_guardian_id:
            return _("我")
        return guardian_label(attendee.guardian)
    # A member since removed from the family: still one of the places booked.
    return _("已移出家庭的成员")


def children_expected(audience: str) -> bool:
    return audience in CHILDREN_BY_DEFAULT_AUDIENCES


def party_for_form(*, guardians, children, me_guardian_id: int | None, audience: str) -> Party:
    """The members a booking form offers, with the default ticks described above."""
    with_children = children_expected(audience)
    return Party(
        guardians=[
            PartyMember(
                pk=g.pk,
                label=guardian_label(g),
                detail=g.get_relation_display(),
                is_child=False,
                is_me=g.pk == me_guardian_id,
                checked=g.pk == me_guardian_id,
            )
            # The signed-in guardian first, then the others as the family lists them.
            for g in sorted(guardians, key=lambda g: g.pk != me_guardian_id)
        ],
        children=[
            PartyMember(
                pk=c.pk,
                label=c.nickname,
                detail=c.get_stage_display(),
                is_child=True,
                is_me=False,
                checked=with_children,
            )
            for c in children
        ],
        children_expected=with_children,
    )
