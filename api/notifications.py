"""API: the caller's notification inbox and how they want to be told (docs/API.md).

The inbox is paged by keyset cursor, newest first (api/pagination.py). Marking
read is ``notifications.services.notification_mark_read``; another person's
notification is a 404. The preferences are validated by the preferences page's
own ``PreferenceForm`` (a channel that cannot reach the person is stored off, as
on the page) and saved by ``notification_preference_update``. WeChat
subscription messages (``by_wechat``) are offered, as on the page, only to
someone who signed in through the mini-program; for anyone else the value sent
is ignored and the saved one kept.
"""

import datetime

from django.http import Http404
from ninja import Field, Query, Router, Schema

from notifications import selectors, services
from notifications.forms import WECHAT_SHOWN, PreferenceForm
from notifications.models import Notification

from .auth import require_scope, signed_in
from .family import form_error
from .pagination import keyset_page
from .schemas import ErrorOut

router = Router(tags=["notifications"], auth=signed_in)

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
QUIET_FIELDS = ("quiet_start", "quiet_end")
CHANNELS = ("in_site", "by_email", "by_sms")


class NotificationOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    url: str
    created_at: datetime.datetime
    read_at: datetime.datetime | None


class NotificationPage(Schema):
    items: list[NotificationOut]
    next_cursor: str | None = None
    limit: int


class ListQuery(Schema):
    cursor: str | None = None
    limit: int = Field(20, ge=1, le=100)
    unread: bool = False


class UnreadOut(Schema):
    unread: int


class MarkedOut(Schema):
    marked: int
    unread: int


class ChannelOut(Schema):
    """What a channel brings this person, and whether it can reach them at all."""

    field: str
    available: bool
    description: str
    action_label: str = ""
    action_url: str = ""


class PreferencesIn(Schema):
    """Every channel on or off, and the SMS quiet hours as HH:MM (Beijing time).
    ``by_wechat`` counts only for someone WeChat can reach (the channel is then
    listed in ``channels``); left out, the saved choice stays."""

    in_site: bool
    by_email: bool
    by_sms: bool
    quiet_start: str
    quiet_end: str
    by_wechat: bool | None = None


class PreferencesOut(Schema):
    """What applies now; ``saved`` is false while the defaults (from the contacts) apply."""

    in_site: bool
    by_email: bool
    by_sms: bool
    by_wechat: bool
    quiet_start: str
    quiet_end: str
    saved: bool
    channels: list[ChannelOut]


def _notification_out(row: Notification) -> NotificationOut:
    return NotificationOut(
        id=row.pk,
        kind=row.kind,
        title=row.title,
        body=row.body,
        url=row.url,
        created_at=row.created_at,
        read_at=row.read_at,
    )


# --- the inbox ------------------------------------------------------------------------


@router.get("", response={200: NotificationPage, **ERRORS}, summary="通知列表（新的在前）")
def notification_list(request, query: Query[ListQuery]):
    require_scope(request, "read")
    rows = selectors.notification_list_for_user(user=request.user)
    if query.unread:
        rows = rows.filter(read_at__isnull=True)
    page, next_cursor = keyset_page(
        rows,
        order=("-created_at", "-pk"),
        cursor=query.cursor,
        limit=query.limit,
        scope=f"notifications:{int(query.unread)}",
    )
    return NotificationPage(
        items=[_notification_out(n) for n in page], next_cursor=next_cursor, limit=query.limit
    )


@router.get("/unread-count", response={200: UnreadOut, **ERRORS}, summary="未读通知数")
def unread_count(request):
    require_scope(request, "read")
    return UnreadOut(unread=selectors.notification_unread_count(user=request.user))


@router.post("/{notification_id}/read", response={200: MarkedOut, **ERRORS}, summary="标为已读")
def mark_read(request, notification_id: int):
    require_scope(request, "write")
    if not Notification.objects.filter(pk=notification_id, user=request.user).exists():
        raise Http404  # someone else's notification: not found, like the page
    marked = services.notification_mark_read(user=request.user, notification_id=notification_id)
    return MarkedOut(marked=marked, unread=selectors.notification_unread_count(user=request.user))


@router.post("/read-all", response={200: MarkedOut, **ERRORS}, summary="全部标为已读")
def mark_all_read(request):
    require_scope(request, "write")
    marked = services.notification_mark_read(user=request.user)
    return MarkedOut(marked=marked, unread=selectors.notification_unread_count(user=request.user))


# --- preferences ----------------------------------------------------------------------


def _clock(value: datetime.time) -> str:
    return value.strftime("%H:%M")


def _preferences_out(user):
    preference = selectors.notification_preference_for(user=user)
    lines = selectors.notification_channel_lines(user=user, preference=preference)
    return PreferencesOut(
        **{name: bool(getattr(preference, name)) for name in (*CHANNELS, "by_wechat")},
        quiet_start=_clock(preference.quiet_start),
        quiet_end=_clock(preference.quiet_end),
        saved=selectors.notification_preference_is_saved(user=user),
        channels=[
            ChannelOut(
                field=line.field,
                available=line.available,
                description=str(line.description),
                action_label=str(line.action_label),
                action_url=line.action_url,
            )
            for line in lines
        ],
    )


@router.get("/preferences", response={200: PreferencesOut, **ERRORS}, summary="通知设置")
def preferences_detail(request):
    require_scope(request, "read")
    return _preferences_out(request.user)


@router.put("/preferences", response={200: PreferencesOut, **ERRORS}, summary="保存通知设置")
def preferences_update(request, payload: PreferencesIn):
    require_scope(request, "write")
    user = request.user
    preference = selectors.notification_preference_for(user=user)
    lines = selectors.notification_channel_lines(user=user, preference=preference)
    # The page's form, fed as a browser would: a ticked box sends "on", an unticked none.
    data = {name: "on" for name in CHANNELS if getattr(payload, name)}
    data.update({name: getattr(payload, name) for name in QUIET_FIELDS})
    if payload.by_wechat is not None:
        # As the page's WeChat box does: "shown", and ticked or not.
        data[WECHAT_SHOWN] = "1"
        if payload.by_wechat:
            data["by_wechat"] = "on"
    form = PreferenceForm(data, instance=preference, lines=lines)
    if not form.is_valid():
        raise form_error(form)
    services.notification_preference_update(user=user, **form.cleaned_data)
    return _preferences_out(_fresh(user))


@router.delete(
    "/preferences", response={200: PreferencesOut, **ERRORS}, summary="恢复推荐的通知设置"
)
def preferences_reset(request):
    require_scope(request, "write")
    services.notification_preference_reset(user=request.user)
    return _preferences_out(_fresh(request.user))


def _fresh(user):
    # The one-to-one preference (or an unsaved default) is cached on the user; read it again.
    user._state.fields_cache.pop("notification_preference", None)
    return user
