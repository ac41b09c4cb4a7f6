"""The inbox and the guardian's channel preferences."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .forms import PreferenceForm
from .models import Notification
from .selectors import (
    notification_channel_lines,
    notification_list_for_user,
    notification_preference_for,
    notification_preference_is_saved,
)
from .services import (
    notification_mark_read,
    notification_preference_reset,
    notification_preference_update,
)


@login_required
def inbox(request):
    page = Paginator(notification_list_for_user(user=request.user), 20).get_page(
        request.GET.get("page")
    )
    return render(request, "notifications/inbox.html", {"page": page})


@login_required
@require_POST
def open_notification(request, pk: int):
    notification = get_object_or_404(Notification, pk=pk, user=request.user)
    notification_mark_read(user=request.user, notification_id=notification.pk)
    target = notification.url
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("notifications:inbox")


@login_required
@require_POST
def read_all(request):
    count = notification_mark_read(user=request.user)
    messages.success(request, _("已将 %(count)s 条通知标为已读。") % {"count": count})
    return redirect("notifications:inbox")


@login_required
def preferences(request):
    user = request.user
    if request.method == "POST" and "reset" in request.POST:
        notification_preference_reset(user=user)
        messages.success(request, _("已恢复为推荐设置：按您登记的联系方式通知您。"))
        return redirect("notifications:preferences")
    preference = notification_preference_for(user=user)
    lines = notification_channel_lines(user=user, preference=preference)
    form = PreferenceForm(request.POST or None, instance=preference, lines=lines)
    if request.method == "POST" and form.is_valid():
        notification_preference_update(user=user, **form.cleaned_data)
        messages.success(request, _("通知设置已保存。"))
        return redirect("notifications:preferences")
    return render(
        request,
        "notifications/preferences.html",
        {"form": form, "is_saved": notification_preference_is_saved(user=user)},
    )
