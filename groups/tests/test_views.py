import datetime as dt

from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking, Offering
from groups import services
from groups.models import Group, GroupMembership
from members.privacy import mask_phone


def _session(world, *, group=None):
    starts = timezone.now() + dt.timedelta(days=2)
    return services.group_session_create(
        user=world.instructor,
        group_id=(group or world.group).pk,
        title="亲子共读会",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        capacity=8,
        venue="溪口社区图书角",
    )


def test_mine_lists_my_groups_and_joinable_ones(client, world):
    other = Group.objects.create(
        kind=Group.Kind.FAMILY,
        name="周日运动家伴组",
        parent_school=world.parent_school,
        facilitator=world.instructor,
        facilitator_role=Group.FacilitatorRole.VOLUNTEER,
        max_size=6,
        joining=Group.Joining.REQUEST,
    )
    Group.objects.create(
        kind=Group.Kind.FAMILY,
        name="外校小组",
        parent_school=world.other_parent_school,
        facilitator=world.other_coordinator,
        facilitator_role=Group.FacilitatorRole.INSTRUCTOR,
        max_size=6,
    )
    client.force_login(world.mum.user)
    page = client.get(reverse("groups:mine")).content.decode()
    assert world.group.name in page and other.name in page
    assert "外校小组" not in page


def test_group_page_shows_a_count_never_other_families(client, world):
    services.group_join(user=world.dad.user, group_id=world.group.pk)
    _session(world)
    client.force_login(world.mum.user)
    response = client.get(reverse("groups:detail", args=[world.group.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "2/6" in page
    assert world.dad.user.display_name not in page
    assert world.dad.phone not in page and mask_phone(world.dad.phone) not in page
    assert world.dad_child.nickname not in page
    assert "亲子共读会" in page
    assert reverse("community:group_board", args=[world.group.pk]) in page
    assert "<script>" not in page


def test_group_page_is_404_for_another_school(client, world):
    client.force_login(world.outsider.user)
    assert client.get(reverse("groups:detail", args=[world.group.pk])).status_code == 404
    assert client.post(reverse("groups:join", args=[world.group.pk])).status_code == 404
    client.force_login(world.other_coordinator)
    assert client.get(reverse("groups:manage", args=[world.group.pk])).status_code == 404


def test_join_and_leave_through_the_pages(client, world):
    client.force_login(world.dad.user)
    page = client.get(reverse("groups:detail", args=[world.group.pk])).content.decode()
    assert "加入小组" in page
    assert reverse("community:group_board", args=[world.group.pk]) not in page
    client.post(reverse("groups:join", args=[world.group.pk]))
    assert GroupMembership.objects.filter(
        group=world.group, family=world.dad.family, status="active"
    ).exists()
    client.post(reverse("groups:leave", args=[world.group.pk]))
    assert GroupMembership.objects.get(group=world.group, family=world.dad.family).status == "left"


def test_manage_page_shows_masked_phones_to_the_facilitator(client, world):
    client.force_login(world.instructor)
    page = client.get(reverse("groups:manage", args=[world.group.pk])).content.decode()
    assert mask_phone(world.mum.phone) in page
    assert world.mum.phone not in page
    assert world.mum.user.display_name in page
    client.force_login(world.mum.user)
    assert client.get(reverse("groups:manage", args=[world.group.pk])).status_code == 404
    assert client.get(reverse("groups:manage_list")).status_code == 403


def test_create_a_group_through_the_page(client, world):
    client.force_login(world.coordinator)
    assert client.get(reverse("groups:manage_new")).status_code == 200
    data = {
        "parent_school_id": world.parent_school.pk,
        "kind": "family",
        "name": "新家伴组",
        "description": "",
        "facilitator_id": world.instructor.pk,
        "facilitator_role": "mentor",
        "joining": "open",
        "min_size": 2,
        "max_size": 6,
    }
    response = client.post(reverse("groups:manage_new"), data)
    group = Group.objects.get(name="新家伴组")
    assert response.status_code == 302 and response["Location"].endswith(
        f"/groups/{group.pk}/manage/"
    )
    bad = client.post(reverse("groups:manage_new"), {**data, "name": "另一组", "min_size": 9})
    assert bad.status_code == 200
    assert "最少成员数不能大于最多成员数" in bad.content.decode()


def test_add_by_phone_with_a_field_error(client, world):
    client.force_login(world.instructor)
    response = client.post(
        reverse("groups:manage_add", args=[world.group.pk]), {"add-phone": world.outsider.phone}
    )
    assert response.status_code == 400
    assert "没有找到这个手机号" in response.content.decode()
    response = client.post(
        reverse("groups:manage_add", args=[world.group.pk]), {"add-phone": world.dad.phone}
    )
    assert response.status_code == 302


def test_session_booking_cancel_and_my_learning(client, world):
    session = _session(world)
    client.force_login(world.mum.user)
    page = client.get(reverse("groups:session", args=[session.pk])).content.decode()
    assert "提交预约" in page
    client.post(reverse("groups:session_book", args=[session.pk]), {"guardians": [world.mum.pk]})
    booking = Booking.objects.get(family=world.mum.family, offering=session.offering)
    assert booking.status == "confirmed"
    learning = client.get(reverse("portal:my_learning")).content.decode()
    assert f"小组活动 · {world.group.name}" in learning
    assert "溪口社区图书角" in learning
    cancel_url = reverse("groups:session_cancel", args=[booking.pk])
    assert cancel_url in learning
    assert client.get(cancel_url).status_code == 200
    client.post(cancel_url)
    booking.refresh_from_db()
    assert booking.status == "cancelled"
    # not a member: the session does not exist for them
    client.force_login(world.dad.user)
    assert client.get(reverse("groups:session", args=[session.pk])).status_code == 404
    assert client.post(reverse("groups:session_book", args=[session.pk])).status_code == 404
    assert client.get(cancel_url).status_code == 404


def test_attendance_and_requests_through_the_pages(client, world):
    world.group.joining = Group.Joining.REQUEST
    world.group.save()
    request = services.group_join(user=world.dad.user, group_id=world.group.pk)
    client.force_login(world.instructor)
    page = client.get(reverse("groups:manage", args=[world.group.pk])).content.decode()
    assert mask_phone(world.dad.phone) in page
    client.post(reverse("groups:request_decide", args=[request.pk]), {"decision": "approve"})
    request.refresh_from_db()
    assert request.status == "active"
    client.force_login(world.other_coordinator)
    assert client.post(reverse("groups:request_decide", args=[request.pk])).status_code == 404
    assert client.post(reverse("groups:member_remove", args=[request.pk])).status_code == 404


def test_dissolve_through_the_page(client, world):
    client.force_login(world.coordinator)
    response = client.post(
        reverse("groups:manage_dissolve", args=[world.group.pk]), {"dissolve-reason": "学期结束"}
    )
    assert response.status_code == 302
    world.group.refresh_from_db()
    assert world.group.status == Group.Status.DISSOLVED


def test_session_and_settings_forms_through_the_manage_page(client, world):
    client.force_login(world.instructor)
    starts = timezone.localtime(timezone.now() + dt.timedelta(days=3)).replace(
        second=0, microsecond=0
    )
    data = {
        "session-title": "户外亲子徒步",
        "session-starts_at": starts.strftime("%Y-%m-%dT%H:%M"),
        "session-ends_at": (starts + dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        "session-capacity": "10",
        "session-venue": "溪口镇武岭公园",
        "session-online_url": "",
        "session-note": "",
    }
    response = client.post(reverse("groups:manage_session_new", args=[world.group.pk]), data)
    assert response.status_code == 302
    created = world.group.sessions.get()
    assert created.offering.starts_at == starts
    bad = client.post(
        reverse("groups:manage_session_new", args=[world.group.pk]),
        {**data, "session-online_url": "ftp://x"},
    )
    assert bad.status_code == 400 and "线上链接须以" in bad.content.decode()
    edit = {
        "edit-name": "周末亲子阅读家伴组",
        "edit-description": "",
        "edit-joining": "request",
        "edit-min_size": "1",
        "edit-max_size": "0",
    }
    response = client.post(reverse("groups:manage_edit", args=[world.group.pk]), edit)
    assert response.status_code == 400
    response = client.post(
        reverse("groups:manage_edit", args=[world.group.pk]), {**edit, "edit-max_size": "4"}
    )
    assert response.status_code == 302
    world.group.refresh_from_db()
    assert (world.group.joining, world.group.max_size) == ("request", 4)


def test_the_group_page_shows_registered_panels(client, world, monkeypatch):
    from groups import panels

    seen = []

    def fake_panel(*, group, family, user):
        seen.append((group.pk, getattr(family, "pk", None), user.pk))
        return [panels.PanelItem(title="本周小任务", url="/groups/", note="未完成")]

    monkeypatch.setitem(panels._PANELS, "tasks", fake_panel)
    monkeypatch.setitem(panels._PANELS, "empty", lambda **kwargs: [])
    client.force_login(world.mum.user)
    page = client.get(reverse("groups:detail", args=[world.group.pk])).content.decode()
    assert "本周小任务" in page and "未完成" in page
    assert ">empty<" not in page
    assert seen == [(world.group.pk, world.mum.family.pk, world.mum.user.pk)]


def test_leaving_cancels_the_family_s_places_in_the_group_s_sessions(client, world):
    session = _session(world)
    past = services.group_session_create(
        user=world.instructor,
        group_id=world.group.pk,
        title="上周的亲子共读会",
        starts_at=timezone.now() + dt.timedelta(hours=1),
        ends_at=timezone.now() + dt.timedelta(hours=2),
        capacity=8,
    )
    client.force_login(world.mum.user)
    for booked in (session, past):
        client.post(reverse("groups:session_book", args=[booked.pk]), {"guardians": [world.mum.pk]})
    # The second session has begun by the time she leaves: it is history, kept.
    Offering.objects.filter(pk=past.offering_id).update(
        starts_at=timezone.now() - dt.timedelta(minutes=5)
    )
    assert (
        f"小组活动 · {world.group.name}"
        in client.get(reverse("portal:my_learning")).content.decode()
    )
    client.post(reverse("groups:leave", args=[world.group.pk]))
    upcoming = Booking.objects.get(family=world.mum.family, offering=session.offering)
    assert upcoming.status == "cancelled"
    session.offering.refresh_from_db()
    assert session.offering.places_taken == 0
    begun = Booking.objects.get(family=world.mum.family, offering=past.offering)
    assert begun.status == "confirmed"
    learning = client.get(reverse("portal:my_learning")).content.decode()
    assert reverse("groups:session_cancel", args=[upcoming.pk]) not in learning
