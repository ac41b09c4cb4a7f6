"""``{% booking_party_fields %}``: the 「参加人」 part of the course and event booking forms.

One partial for both forms, so they pre-select family members the same way
(bookings/party.py) and both say plainly whether a child is included.
"""

from django import template
from django.utils.translation import gettext as _

from members.selectors import family_children, family_guardians

from ..party import attendee_label, guardian_label, party_for_form

register = template.Library()


def _summary_texts() -> dict[str, str]:
    """What the line under the checkboxes says; {n}, {names} and {c} are filled in
    here for the first render and by static/js/party-summary.js on every change."""
    return {
        "none": _("还没有选择参加人。"),
        "with_children": _("本次报名 {n} 人：{names}（含孩子 {c} 人）"),
        "without_children": _("本次报名 {n} 人：{names}（不带孩子）"),
    }


def _summary(party, texts: dict[str, str]) -> str:
    chosen = party.checked
    if not chosen:
        return texts["none"]
    text = texts["with_children"] if party.checked_children else texts["without_children"]
    names = _("、").join(_("我") if m.is_me else m.label for m in chosen)
    return (
        text.replace("{n}", str(len(chosen)))
        .replace("{names}", names)
        .replace("{c}", str(party.checked_children))
    )


@register.inclusion_tag("bookings/_party_fields.html", takes_context=True)
def booking_party_fields(
    context,
    *,
    prefix: str,
    audience: str = "",
    family=None,
    guardians=None,
    children=None,
    guardian_field: str = "guardians",
    child_field: str = "children",
):
    """The checkboxes of the family's members, named ``guardian_field`` / ``child_field``.

    Pass ``guardians`` and ``children`` when the view has loaded them, else the
    ``family`` (two queries).
    """
    request = context.get("request")
    user = getattr(request, "user", None)
    me = getattr(user, "guardian", None) if getattr(user, "is_authenticated", False) else None
    if guardians is None:
        guardians = list(family_guardians(family=family)) if family is not None else []
    if children is None:
        children = list(family_children(family=family)) if family is not None else []
    # The summary script is added once per page, however many forms it has.
    first_form = request is not None and not getattr(request, "_booking_party_script", False)
    if request is not None:
        request._booking_party_script = True
    party = party_for_form(
        guardians=guardians,
        children=children,
        me_guardian_id=getattr(me, "pk", None),
        audience=audience,
    )
    texts = _summary_texts()
    return {
        "party": party,
        "texts": texts,
        "summary": _summary(party, texts),
        "prefix": prefix,
        "guardian_field": guardian_field,
        "child_field": child_field,
        "add_script": first_form,
    }


@register.simple_tag(takes_context=True)
def booking_people(context, booking) -> str:
    """「我、小明（孩子）」: who a booking is for (attendees prefetched with their people)."""
    request = context.get("request")
    me = getattr(getattr(request, "user", None), "guardian", None)
    labels = [
        attendee_label(a, me_guardian_id=getattr(me, "pk", None)) for a in booking.attendees.all()
    ]
    return _("、").join(labels)


@register.filter
def party_name(guardian) -> str:
    """A guardian as the family reads the name (never the generated username)."""
    return guardian_label(guardian) if guardian is not None else ""
