"""factory_boy factories for the wechat app. Other apps' tests import these."""

import factory

from members.tests.factories import UserFactory
from wechat.models import SubscriptionGrant, SubscriptionTemplate, WeChatIdentity


class WeChatIdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WeChatIdentity

    user = factory.SubFactory(UserFactory)
    app_id = "wx-test-app"
    openid = factory.Sequence(lambda n: f"o_person{n}")
    unionid = factory.Sequence(lambda n: f"u_person{n}")


class SubscriptionTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SubscriptionTemplate
        django_get_or_create = ("kind",)

    kind = SubscriptionTemplate.Kind.PROMOTION
    template_id = factory.Sequence(lambda n: f"tmpl-{n}")
    page = "pages/learning/index"
    field_map = factory.LazyFunction(
        lambda: {"thing1": "title", "time2": "starts_at", "thing3": "venue", "thing4": "note"}
    )


class SubscriptionGrantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SubscriptionGrant

    user = factory.SubFactory(UserFactory)
    template_id = "tmpl-0"
    answer = SubscriptionGrant.Answer.ACCEPT
