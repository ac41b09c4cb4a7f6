"""API: WeChat mini-program sign-in and subscription messages (docs/WECHAT.md).

The mini-program signs in with its ``wx.login`` code. A WeChat user already
bound to an account gets an API token at once; a new one gets a binding ticket
and proves a phone number, by a texted code or by WeChat's phone button, which
binds the openid to the account with that number (or makes a parent account).
After ``wx.requestSubscribeMessage`` the mini-program reports the answers, and
each acceptance allows one subscription message. Everything goes through
``wechat.services``; the session_key never leaves the server.
"""

from __future__ import annotations

from ninja import Router, Schema

from members.privacy import mask_phone, person_name
from wechat import services
from wechat.errors import WeChatError, WeChatRuleError
from wechat.selectors import grants_left_by_kind, subscription_templates_active

from .auth import require_scope, signed_in
from .core import register_rule_errors
from .ratelimit import client_ip
from .schemas import ErrorOut

router = Router(tags=["wechat"])

register_rule_errors(WeChatError, WeChatRuleError)

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut, 503: ErrorOut}


class LoginIn(Schema):
    code: str  # from wx.login


class WeChatUserOut(Schema):
    id: int
    name: str
    phone: str  # masked: 138****1234
    new_account: bool = False


class LoginOut(Schema):
    """Either ``token`` and ``user`` (signed in), or ``binding_ticket`` (bind a phone next)."""

    token: str | None = None
    user: WeChatUserOut | None = None
    binding_ticket: str | None = None


class PhoneCodeIn(Schema):
    ticket: str
    phone: str


class PhoneCodeOut(Schema):
    sent: bool
    expires_in: int  # seconds the texted code stays valid


class BindIn(Schema):
    """The ticket and one proof: ``phone`` + ``sms_code``, or the phone button's ``phone_code``."""

    ticket: str
    phone: str | None = None
    sms_code: str | None = None
    phone_code: str | None = None
    # The parent agreed to the privacy policy in the mini-program (recorded as at sign-up).
    agree_privacy: bool = False


class SubscriptionsIn(Schema):
    results: dict[str, str]  # template id → accept | reject | ban | filter


class SubscriptionsOut(Schema):
    accepted: int
    refused: int
    ignored: list[str]
    grants_left: dict[str, int]


class TemplateOut(Schema):
    kind: str
    template_id: str


class TemplatesOut(Schema):
    templates: list[TemplateOut]
    grants_left: dict[str, int]


def _signed_in(request, user, *, new_account: bool = False) -> LoginOut:
    raw = services.wechat_token_issue(user=user, ip_address=client_ip(request))
    return LoginOut(
        token=raw,
        user=WeChatUserOut(
            id=user.pk,
            name=person_name(user),
            phone=mask_phone(user.phone or ""),
            new_account=new_account,
        ),
    )


@router.post("/login", response={200: LoginOut, **ERRORS}, summary="用 wx.login 的 code 登录")
def login(request, payload: LoginIn):
    outcome = services.wechat_sign_in(js_code=payload.code, ip_address=client_ip(request))
    if outcome.user is None:
        return LoginOut(binding_ticket=outcome.ticket)
    return _signed_in(request, outcome.user)


@router.post("/phone/code", response={200: PhoneCodeOut, **ERRORS}, summary="发送绑定手机的验证码")
def phone_code(request, payload: PhoneCodeIn):
    seconds = services.wechat_phone_code_send(
        ticket=payload.ticket, phone=payload.phone, ip_address=client_ip(request)
    )
    return PhoneCodeOut(sent=True, expires_in=seconds)


@router.post("/phone/bind", response={200: LoginOut, **ERRORS}, summary="验证手机号并绑定微信")
def phone_bind(request, payload: BindIn):
    if payload.phone_code:
        bound = services.wechat_bind_by_phone_button(
            ticket=payload.ticket,
            phone_code=payload.phone_code,
            agree_privacy=payload.agree_privacy,
            ip_address=client_ip(request),
        )
    elif payload.phone and payload.sms_code:
        bound = services.wechat_bind_by_sms(
            ticket=payload.ticket,
            phone=payload.phone,
            code=payload.sms_code,
            agree_privacy=payload.agree_privacy,
            ip_address=client_ip(request),
        )
    else:
        raise WeChatRuleError("proof_required", field="sms_code")
    return _signed_in(request, bound.user, new_account=bound.created)


@router.get(
    "/subscriptions",
    auth=signed_in,
    response={200: TemplatesOut, **ERRORS},
    summary="可订阅的消息模板与剩余次数",
)
def subscription_templates(request):
    require_scope(request, "read")
    templates = subscription_templates_active()
    return TemplatesOut(
        templates=[TemplateOut(kind=t.kind, template_id=t.template_id) for t in templates],
        grants_left=grants_left_by_kind(request.user),
    )


@router.post(
    "/subscriptions",
    auth=signed_in,
    response={200: SubscriptionsOut, **ERRORS},
    summary="上报 wx.requestSubscribeMessage 的结果",
)
def subscriptions_record(request, payload: SubscriptionsIn):
    require_scope(request, "write")
    recorded = services.subscription_results_record(user=request.user, results=payload.results)
    return SubscriptionsOut(
        accepted=recorded.accepted,
        refused=recorded.refused,
        ignored=recorded.ignored,
        grants_left=grants_left_by_kind(request.user),
    )
