#!/usr/bin/env python3
"""A mini-program (小程序) client in a few functions, to try the JSON API as a new parent would.

It does what the mini-program does, in order, and prints each step in Chinese and
English:

1. ``wx.login`` gives a code; ``POST /api/v1/wechat/login`` exchanges it. A WeChat
   user the portal already knows gets a token at once; a new one a binding ticket;
2. ``POST /api/v1/wechat/phone/code`` texts a code to the phone, and
   ``POST /api/v1/wechat/phone/bind`` binds the WeChat user to the account of that
   phone (made if there is none) and gives a token;
3. ``GET /api/v1/wechat/subscriptions`` names the promotion's template, and
   ``POST /api/v1/wechat/subscriptions`` reports what ``wx.requestSubscribeMessage``
   answered for it (one acceptance allows one message);
4. the catalogue (``/api/v1/catalogue/courses?q=…``) is searched for a course with
   a session the family may book; a new parent sets up the family (``POST /api/v1/family``);
5. the session is booked (``POST /api/v1/learning/bookings``) with an
   ``Idempotency-Key``, and the same request is sent again as a mobile network does
   when an answer is lost: the portal must answer the same and book once; 我的学习
   (``GET /api/v1/learning/``) shows it.

Only the standard library: run it with any Python 3.11. Against ``make run``
(the console WeChat backend accepts codes starting ``demo-``; the console SMS
backend prints the code in ``make run``'s terminal, and the script asks for it)::

    python scripts/miniprogram_client.py --wx-code demo-xiaoyu --phone 13912345678 --search 亲子

Run it again with the same code (the console backend gives the same openid): now bound,
she is signed in at once. docs/API.md (小程序试用脚本) has the whole walk-through.

It exits 1 at the first answer it did not expect. tests/integration/
test_miniprogram_journey.py drives the same functions against a live server.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

API = "/api/v1"
SMS_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


class UnexpectedAnswer(RuntimeError):
    """The portal answered something a mini-program could not go on with."""


@dataclass
class Answer:
    status: int
    body: object
    headers: dict = field(default_factory=dict)

    def get(self, name: str, default=None):
        return self.body.get(name, default) if isinstance(self.body, dict) else default


def say(zh: str, en: str) -> None:
    """One step, in Chinese and English, as short lines."""
    print(f"· {zh}\n  {en}", flush=True)


class MiniProgram:
    """The mini-program's side of the API: each method is one thing it does."""

    def __init__(self, base_url: str, *, timeout: float = 15.0, report: Callable = say):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.report = report
        self.token: str | None = None

    # --- HTTP ------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        body: dict | None = None,
        query: dict | None = None,
        headers: dict | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> Answer:
        url = self.base_url + API + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        request.add_header("Accept-Language", "zh-hans")
        if data is not None:
            request.add_header("Content-Type", "application/json; charset=utf-8")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = Answer(response.status, _json(response.read()), dict(response.headers))
        except urllib.error.HTTPError as error:
            answer = Answer(error.code, _json(error.read()), dict(error.headers))
        except OSError as error:
            raise UnexpectedAnswer(f"{method} {path}: 连不上 / cannot connect: {error}") from error
        if answer.status not in expect:
            # The API's one error shape: a stable code, a message for people, field errors.
            said = answer.get("message") or answer.body
            code = f" {answer.get('code')}" if answer.get("code") else ""
            fields = f" {answer.get('fields')}" if answer.get("fields") else ""
            raise UnexpectedAnswer(
                f"{method} {path} → {answer.status}{code}: {said}{fields} (expected {expect})"
            )
        return answer

    # --- the journey's steps ---------------------------------------------------

    def wechat_login(self, wx_code: str) -> Answer:
        """What the mini-program does with ``wx.login``'s code: a token, or a ticket to bind."""
        answer = self.call("POST", "/wechat/login", body={"code": wx_code})
        if answer.get("token"):
            self.token = answer.get("token")
            self.report("微信登录：已绑定的账号，直接登录", "WeChat login: account already bound")
        elif answer.get("binding_ticket"):
            self.report("微信登录：新用户，需要绑定手机号", "WeChat login: new user, bind a phone")
        else:
            raise UnexpectedAnswer(f"/wechat/login gave neither token nor ticket: {answer.body}")
        return answer

    def phone_code_request(self, ticket: str, phone: str) -> Answer:
        answer = self.call("POST", "/wechat/phone/code", body={"ticket": ticket, "phone": phone})
        self.report(
            f"已请求短信验证码：{_masked(phone)}", f"SMS code requested for {_masked(phone)}"
        )
        return answer

    def phone_bind(self, ticket: str, phone: str, sms_code: str) -> str:
        answer = self.call(
            "POST",
            "/wechat/phone/bind",
            body={"ticket": ticket, "phone": phone, "sms_code": sms_code},
        )
        token = answer.get("token")
        if not token:
            raise UnexpectedAnswer(f"/wechat/phone/bind gave no token: {answer.body}")
        self.token = token
        self.report("手机号已绑定，已登录", "Phone bound, signed in")
        return token

    def sign_in(self, wx_code: str, phone: str, sms_code_for: Callable[[str], str]) -> str:
        """wx.login → login → (binding ticket → SMS code → bind) → token."""
        answer = self.wechat_login(wx_code)
        if self.token:
            return self.token
        ticket = answer.get("binding_ticket")
        self.phone_code_request(ticket, phone)
        code = sms_code_for(phone)
        self.report("收到短信验证码", "SMS code received")
        return self.phone_bind(ticket, phone, code)

    def subscription_templates(self) -> dict[str, str]:
        """{kind: template id} of the templates an administrator set (what the
        mini-program passes to ``wx.requestSubscribeMessage``), and what is left."""
        answer = self.call("GET", "/wechat/subscriptions")
        return {t["kind"]: t["template_id"] for t in answer.get("templates") or []}

    def subscriptions_report(self, results: dict[str, str]) -> dict[str, int]:
        """What ``wx.requestSubscribeMessage`` answered, per template id ("accept",
        "reject" …); returns the acceptances left per kind."""
        answer = self.call("POST", "/wechat/subscriptions", body={"results": results})
        if answer.get("ignored"):
            raise UnexpectedAnswer(f"templates not known to the portal: {answer.get('ignored')}")
        left = answer.get("grants_left") or {}
        self.report(
            f"已上报订阅消息授权：接受 {answer.get('accepted')} 个；候补转正还可通知 "
            f"{left.get('promotion', 0)} 次",
            f"Subscription results reported: {answer.get('accepted')} template(s) accepted; "
            f"promotion notices left: {left.get('promotion', 0)}",
        )
        return left

    def session_find(self, search: str) -> dict:
        """The first session, in the catalogue's order, of a course found by ``search``
        that the family may book now (a full one puts it on the waiting list)."""
        answer = self.call("GET", "/catalogue/courses", query={"q": search})
        for card in answer.get("items") or []:
            course = self.call("GET", f"/catalogue/courses/{card['id']}").body
            for session in course.get("sessions") or []:
                if session["decision"]["can_book"]:
                    free = session["free_places"]
                    self.report(
                        f"找到「{course['title']}」的一个场次：空位 {free}",
                        f"Found a session of “{course['title']}”: {free} place(s) free",
                    )
                    return session
        raise UnexpectedAnswer(f"no session to book in the catalogue for {search!r}")

    def family_self(self, *, relation: str, name: str = "") -> dict:
        """The caller as a guardian of their family; a new parent sets the family up
        first (what the portal's 完善家庭信息 page does)."""
        answer = self.call("GET", "/family", expect=(200, 404))
        if answer.status == 404:
            body = {"relation": relation, "display_name": name}
            answer = self.call("POST", "/family", body=body, expect=(201,))
            self.report("已建立家庭信息", "Family set up")
        for guardian in answer.get("guardians") or []:
            if guardian.get("is_me"):
                return guardian
        raise UnexpectedAnswer(f"the family has no guardian for me: {answer.body}")

    def book(self, offering_id: int, *, guardian_ids: list[int], retry: bool = True) -> dict:
        """Book with an Idempotency-Key; when ``retry``, send it again as if the answer
        had been lost on the way, and require the same booking back."""
        key = f"miniprogram-{uuid.uuid4()}"
        body = {"offering_id": offering_id, "guardian_ids": guardian_ids}
        headers = {"Idempotency-Key": key}
        first = self.call("POST", "/learning/bookings", body=body, headers=headers, expect=(201,))
        booking = first.body
        if booking["status"] == "confirmed":
            self.report("报名成功", "Booked")
        elif booking["status"] == "waiting":
            position = booking.get("waiting_position")
            self.report(
                f"名额已满，已进入候补：第 {position} 位",
                f"Full: on the waiting list, number {position}",
            )
        else:
            raise UnexpectedAnswer(f"a new booking is {booking['status']}: {booking}")
        if retry:
            again = self.call(
                "POST", "/learning/bookings", body=body, headers=headers, expect=(201,)
            )
            if again.body != booking or _header(again, "Idempotent-Replayed") != "true":
                raise UnexpectedAnswer(f"a retried booking answered differently: {again.body}")
            self.report(
                "网络重试：同一个报名，没有重复报名", "Network retry: same booking, no second one"
            )
        return booking

    def learning(self) -> dict:
        return self.call("GET", "/learning/").body


# --- where the SMS code comes from ---------------------------------------------------


def sms_code_from_inbox(inbox_url: str, *, timeout: float = 30.0) -> Callable[[str], str]:
    """Reads codes from an SMS inbox that answers ``GET <url>?phone=…`` with
    ``{"texts": [...]}`` (the test's fake gateway): the newest code not used yet,
    waiting for it to arrive."""
    used: set[str] = set()

    def newest_code(phone: str) -> str | None:
        query = urllib.parse.urlencode({"phone": phone})
        with urllib.request.urlopen(f"{inbox_url}?{query}", timeout=10) as response:
            texts = json.loads(response.read())["texts"]
        for text in reversed(texts):
            match = SMS_CODE.search(text)
            if match:
                return None if match.group(1) in used else match.group(1)
        return None

    def code_for(phone: str) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = newest_code(phone)
            if code:
                used.add(code)
                return code
            time.sleep(0.2)
        raise UnexpectedAnswer(f"no SMS code reached {_masked(phone)} within {timeout:.0f}s")

    return code_for


def sms_code_typed(phone: str) -> str:
    """In a manual demo: the parent reads the code (the console SMS backend prints it)."""
    return input(f"  短信验证码 / SMS code sent to {_masked(phone)}: ").strip()


# --- the whole journey from the command line ----------------------------------------


def journey(
    client: MiniProgram,
    *,
    wx_code: str,
    phone: str,
    sms_code_for: Callable[[str], str],
    search: str,
    template_id: str | None,
    subscription: str = "accept",
    relation: str = "mother",
    name: str = "",
) -> dict:
    client.sign_in(wx_code, phone, sms_code_for)
    if subscription != "skip":
        # wx.requestSubscribeMessage({tmplIds: [the promotion's]}) answered `subscription`
        template_id = template_id or client.subscription_templates().get("promotion")
        if template_id:
            client.subscriptions_report({template_id: subscription})
        else:
            client.report(
                "管理员还没有设置“候补转正”的订阅消息模板：不请求订阅",
                "No promotion template set by an administrator: nothing to subscribe to",
            )
    session = client.session_find(search)
    me = client.family_self(relation=relation, name=name)
    booking = client.book(session["offering_id"], guardian_ids=[me["id"]])
    mine = client.learning()
    waiting = mine.get("waiting") or []
    upcoming = mine.get("upcoming") or []
    if not any(item.get("booking_id") == booking["id"] for item in waiting + upcoming):
        raise UnexpectedAnswer(f"我的学习 does not show the booking: {mine}")
    client.report("「我的学习」里有这次报名", "“My learning” shows the booking")
    return booking


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--wx-code", required=True, help="wx.login 的 code（控制台后端：demo-…）")
    parser.add_argument("--phone", required=True, help="要绑定的手机号")
    parser.add_argument("--search", default="", help="在课程目录中搜索的关键词")
    parser.add_argument("--name", default="", help="新家庭里您的称呼，例如“小雨妈妈”")
    parser.add_argument(
        "--relation",
        default="mother",
        choices=["mother", "father", "grandparent", "other"],
        help="您与孩子的关系",
    )
    parser.add_argument(
        "--template-id", help="候补转正的订阅消息模板 id（不填则从 /wechat/subscriptions 读取）"
    )
    parser.add_argument(
        "--subscription",
        choices=["accept", "reject", "skip"],
        default="accept",
        help="wx.requestSubscribeMessage 的结果：接受、拒绝，或不上报",
    )
    parser.add_argument(
        "--sms-inbox-url", help="读取短信验证码的收件箱地址（测试用）；不填则在终端输入"
    )
    args = parser.parse_args(argv)

    client = MiniProgram(args.base_url)
    sms_code_for = sms_code_from_inbox(args.sms_inbox_url) if args.sms_inbox_url else sms_code_typed
    try:
        booking = journey(
            client,
            wx_code=args.wx_code,
            phone=args.phone,
            sms_code_for=sms_code_for,
            search=args.search,
            template_id=args.template_id,
            subscription=args.subscription,
            relation=args.relation,
            name=args.name,
        )
    except UnexpectedAnswer as error:
        print(f"✗ 意外的回答 / unexpected answer: {error}", file=sys.stderr)
        return 1
    label = {"confirmed": ("已确认", "confirmed"), "waiting": ("候补中", "waiting")}
    zh, en = label.get(booking["status"], (booking["status"], booking["status"]))
    say(f"完成：报名编号 {booking['id']}（{zh}）", f"Done: booking {booking['id']} ({en})")
    return 0


def _json(raw: bytes):
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return {"raw": raw[:500].decode(errors="replace")}


def _header(answer: Answer, name: str) -> str | None:
    for key, value in answer.headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _masked(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else phone


if __name__ == "__main__":
    sys.exit(main())
