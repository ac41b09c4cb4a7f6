"""A district administrator (not a superuser) manages everything of the portal in
admin: events and the delivery log included; existing databases get the new
permissions at the next migrate."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.urls import reverse

from events.tests.factories import make_event
from members import registry
from members.models import RoleAssignment
from members.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Role = RoleAssignment.Role
DISTRICT_GROUP = registry.ROLE_GROUPS[Role.CITY_ADMIN][0]

PAGES = [
    "admin:events_event_changelist",
    "admin:events_event_add",
    "admin:events_delivery_changelist",
    "admin:events_reminderrule_changelist",
    "admin:bookings_offering_changelist",
    "admin:courses_course_changelist",
    "admin:courses_coursesession_changelist",
    "admin:notifications_notification_changelist",
    "admin:reports_reportjob_changelist",
    "admin:members_memberunit_changelist",
]


@pytest.fixture
def district_admin():
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    user = UserFactory(username="district")
    registry.role_assign(actor=root, user=user, role=Role.CITY_ADMIN)
    assert not user.is_superuser
    return user


@pytest.mark.parametrize("page", PAGES)
def test_a_district_admin_opens_every_portal_admin_page(client, district_admin, page):
    client.force_login(district_admin)
    assert client.get(reverse(page)).status_code == 200


def test_events_are_on_the_district_admins_admin_index(client, district_admin):
    # given a district administrator and an event
    make_event(title="区级推进会")
    client.force_login(district_admin)
    # when they open the admin index
    response = client.get(reverse("admin:index"))
    # then 活动 and the delivery log are listed
    labels = {app["app_label"] for app in response.context["app_list"]}
    assert {"events", "bookings", "courses", "notifications", "reports"} <= labels
    events = next(a for a in response.context["app_list"] if a["app_label"] == "events")
    assert {m["object_name"] for m in events["models"]} >= {"Event", "Delivery"}
    # and the event itself opens
    event_url = reverse("admin:events_event_change", args=[make_event().pk])
    assert client.get(event_url).status_code == 200


def test_third_party_admin_pages_stay_the_superusers(client, district_admin):
    client.force_login(district_admin)
    assert client.get(reverse("admin:auth_group_changelist")).status_code == 403
    assert client.get(reverse("admin:account_emailaddress_changelist")).status_code == 403


def test_an_existing_database_gets_the_permissions_at_migrate(client, district_admin):
    # given a database from before: the district group had only the registry's permissions
    group = Group.objects.get(name=DISTRICT_GROUP)
    group.permissions.remove(*Permission.objects.exclude(content_type__app_label="members"))
    group.user_set.remove(district_admin)
    group.user_set.add(district_admin)
    client.force_login(district_admin)
    assert client.get(reverse("admin:events_event_changelist")).status_code == 403

    # when the deployment runs migrate (nothing to apply; post_migrate runs)
    call_command("migrate", verbosity=0, interactive=False)

    # then the group holds every portal permission again, and events open
    assert set(group.permissions.all()) == set(
        Permission.objects.filter(content_type__app_label__in=registry.PORTAL_APPS)
    )
    assert client.get(reverse("admin:events_event_changelist")).status_code == 200
    assert client.get(reverse("admin:events_delivery_changelist")).status_code == 200


def test_migrate_puts_every_role_holder_in_the_roles_group(district_admin):
    # given a district admin who somehow left the group
    group = Group.objects.get(name=DISTRICT_GROUP)
    group.user_set.remove(district_admin)
    # when migrate runs
    call_command("migrate", verbosity=0, interactive=False)
    # then they are back in it, and keep their hand-added permissions
    assert group.user_set.filter(pk=district_admin.pk).exists()


def test_permissions_added_by_hand_to_a_group_survive_the_sync():
    # given a coordinator group with one extra permission a superuser added
    group = registry.role_group_get(role=Role.UNIT_COORDINATOR)
    extra = Permission.objects.get(codename="view_event")
    group.permissions.add(extra)
    # when the groups are synced
    registry.role_groups_sync()
    # then the extra permission stays, and the role's own are there
    assert group.permissions.filter(pk=extra.pk).exists()
    assert group.permissions.filter(codename="change_memberunit").exists()


def test_coordinators_still_get_only_their_roles_permissions():
    # the change is the district admin's; coordinators' pages follow their role
    codenames = set(
        registry.role_permissions(role=Role.UNIT_COORDINATOR).values_list("codename", flat=True)
    )
    assert "view_event" not in codenames and "view_delivery" not in codenames
    assert "change_memberunit" in codenames
