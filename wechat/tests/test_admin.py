"""WeChat in admin: district administrators set one template per kind (its field
mapping checked); identities and grants are read-only; unbinding is audited."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members import registry
from members.models import AuditLog, RoleAssignment
from members.tests.factories import UserFactory
from wechat.models import SubscriptionGrant, SubscriptionTemplate, WeChatIdentity

from .factories import SubscriptionTemplateFactory, WeChatIdentityFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/wechat/subscriptiontemplate/add/"


@pytest.fixture
def district_admin(client):
    user = UserFactory(username="district", display_name="区教育局")
    registry.role_assign(actor=None, user=user, role=RoleAssignment.Role.CITY_ADMIN)
    client.force_login(user)
    return user


def _template_form(**fields):
    return {
        "kind": "reminder",
        "template_id": "T-remind",
        "page": "pages/learning/index",
        "field_map": '{"thing1": "title", "time2": "starts_at", "thing3": "venue"}',
        "is_active": "on",
        **fields,
    }


def test_an_administrator_sets_a_template_for_a_kind(client, district_admin):
    response = client.post(ADD, _template_form())
    assert response.status_code == 302, response.content.decode()[:3000]
    template = SubscriptionTemplate.objects.get()
    assert template.kind == "reminder" and template.field_map["time2"] == "starts_at"


def test_a_mapping_with_unknown_keys_or_values_is_refused_in_chinese(client, district_admin):
    response = client.post(ADD, _template_form(field_map='{"title": "thing1", "thing2": "age"}'))
    assert response.status_code == 200
    page = response.content.decode()
    assert "不是微信模板的关键词" in page and "不是可用的内容名称" in page
    assert not SubscriptionTemplate.objects.exists()


def test_one_template_per_kind(client, district_admin):
    SubscriptionTemplateFactory(kind="reminder", template_id="T-old")
    response = client.post(ADD, _template_form())
    assert response.status_code == 200
    assert SubscriptionTemplate.objects.count() == 1


def test_identities_and_grants_are_shown_read_only_and_unbinding_is_audited(client, district_admin):
    identity = WeChatIdentityFactory()
    SubscriptionGrant.objects.create(user=identity.user, template_id="T", answer="accept")
    assert client.get("/admin/wechat/wechatidentity/").status_code == 200
    assert client.get("/admin/wechat/subscriptiongrant/").status_code == 200
    page = client.get(f"/admin/wechat/wechatidentity/{identity.pk}/change/").content.decode()
    assert "session_key" not in page
    response = client.post(
        "/admin/wechat/wechatidentity/",
        {"action": "unbind", "_selected_action": [identity.pk]},
    )
    assert response.status_code == 302
    assert not WeChatIdentity.objects.exists()
    assert AuditLog.objects.filter(action="wechat.identity.unbind", actor=district_admin).exists()


def test_coordinators_do_not_see_wechat_in_admin(client):
    user = UserFactory(is_staff=True)
    client.force_login(user)
    assert client.get("/admin/wechat/subscriptiontemplate/").status_code in (302, 403)


@pytest.mark.parametrize("model", ["wechatidentity", "subscriptiongrant"])
def test_a_changelist_costs_the_same_queries_for_2_or_20_rows(
    client, district_admin, django_assert_num_queries, model
):
    def add(count):
        for _row in range(count):
            identity = WeChatIdentityFactory()
            SubscriptionGrant.objects.create(user=identity.user, template_id="T", answer="accept")

    add(2)
    url = f"/admin/wechat/{model}/"
    client.get(url)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    add(18)
    with django_assert_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200
