"""Two districts (issue 19): the subscription templates are city-wide reference
data (one mini-program for every district), and identities and grants belong to
accounts with no district link: all of WeChat in admin stays the city's. A
district administrator sees none of it and cannot unbind anyone."""

from __future__ import annotations

import pytest
from django.urls import reverse

from members.models import AuditLog, RoleAssignment
from members.tests.districts import staff_user
from members.tests.factories import RegionFactory
from wechat.models import SubscriptionTemplate, WeChatIdentity

from .factories import SubscriptionGrantFactory, SubscriptionTemplateFactory, WeChatIdentityFactory

pytestmark = pytest.mark.django_db
Role = RoleAssignment.Role


@pytest.fixture
def admins():
    district = RegionFactory(name="渝中区", kind="district")
    district_admin = staff_user("渝中区教委陈老师", Role.DISTRICT_ADMIN, region=district)
    city_admin = staff_user("市教委周老师", Role.CITY_ADMIN)
    return district_admin, city_admin


def _form(**fields):
    return {
        "kind": "reminder",
        "template_id": "T-district",
        "page": "pages/learning/index",
        "field_map": '{"thing1": "title", "time2": "starts_at", "thing3": "venue"}',
        "is_active": "on",
        **fields,
    }


def test_a_district_admin_neither_sees_nor_changes_wechat_in_admin(client, admins):
    district_admin, _city = admins
    template = SubscriptionTemplateFactory(template_id="T-city")
    identity = WeChatIdentityFactory()
    SubscriptionGrantFactory(user=identity.user)
    client.force_login(district_admin)
    for url in (
        reverse("admin:wechat_subscriptiontemplate_changelist"),
        reverse("admin:wechat_subscriptiontemplate_add"),
        reverse("admin:wechat_subscriptiontemplate_change", args=[template.pk]),
        reverse("admin:wechat_wechatidentity_changelist"),
        reverse("admin:wechat_subscriptiongrant_changelist"),
    ):
        assert client.get(url).status_code == 403, url
    assert "/admin/wechat/" not in client.get(reverse("admin:index")).content.decode()
    # posting anyway changes nothing
    client.post(reverse("admin:wechat_subscriptiontemplate_add"), _form())
    client.post(
        reverse("admin:wechat_wechatidentity_changelist"),
        {"action": "unbind", "_selected_action": [identity.pk]},
    )
    assert list(SubscriptionTemplate.objects.values_list("template_id", flat=True)) == ["T-city"]
    assert WeChatIdentity.objects.filter(pk=identity.pk).exists()
    assert not AuditLog.objects.filter(action="wechat.identity.unbind").exists()


def test_the_city_admin_sets_templates_and_unbinds(client, admins):
    _district, city_admin = admins
    identity = WeChatIdentityFactory()
    client.force_login(city_admin)
    response = client.post(reverse("admin:wechat_subscriptiontemplate_add"), _form())
    assert response.status_code == 302
    assert SubscriptionTemplate.objects.get().template_id == "T-district"
    response = client.post(
        reverse("admin:wechat_wechatidentity_changelist"),
        {"action": "unbind", "_selected_action": [identity.pk]},
    )
    assert response.status_code == 302
    assert not WeChatIdentity.objects.exists()
    assert AuditLog.objects.filter(action="wechat.identity.unbind", actor=city_admin).exists()
