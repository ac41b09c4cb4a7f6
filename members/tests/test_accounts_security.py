"""ASVS level 1 basics: rate limits (429) on sign-in and the admin login, a new
session on login, logout and disabling that end server sessions, no personal
data in URLs."""

import re
from types import SimpleNamespace

import pytest
from allauth.usersessions.models import UserSession
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.urls import get_resolver

from bookings.models import Booking
from members.services import user_deactivate
from members.tests.factories import RegionFactory, UserFactory
from members.tests.family_support import (  # noqa: F401 - fixture
    PASSWORD,
    committed,
    login,
    signup_by_phone,
    sms_outbox_fixture,
)

pytestmark = pytest.mark.django_db
User = get_user_model()
RIGHT = "correct-horse-battery"


def test_repeated_wrong_passwords_are_refused_with_429(client):
    # given an account signed in to by phone number
    UserFactory(phone="13700001111", phone_verified=True)

    # when somebody tries five wrong passwords (the per-account limit is 5 per 5 minutes)
    for _attempt in range(5):
        response = login(client, "13700001111", "wrong-password-1")
        assert response.status_code == 200
        assert "不正确" in response.content.decode() or "not correct" in response.content.decode()

    # then the sixth try is refused with 429, even with the right password
    response = login(client, "13700001111", RIGHT)
    assert response.status_code == 429
    assert "操作太频繁" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failed_phone_logins_are_counted_per_number_not_for_all_phones(client):
    # allauth keys the failed-login limit by email or username; phone logins
    # would all share one key. Ours is keyed by the number.
    UserFactory(phone="13700001111", phone_verified=True)
    UserFactory(phone="13700002222", phone_verified=True)
    for _attempt in range(5):
        login(client, "13700001111", "wrong-password-1")
    response = login(client, "13700002222", RIGHT)
    assert response.status_code == 302


def test_wrong_passwords_from_one_address_are_refused_with_429(client):
    # ten failures a minute from one IP, whichever accounts they aim at
    for n in range(10):
        login(client, f"1370000{n:04d}", "wrong-password-1")
    assert login(client, "13700009999", "wrong-password-1").status_code == 429


def test_admin_login_goes_through_allauth_and_its_rate_limits(client):
    # given a district administrator
    UserFactory(email="admin@example.cn", is_staff=True, is_superuser=True, phone=None)

    # the admin's own login page sends people to the portal's sign-in
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")

    # repeated wrong passwords are refused with 429 there too
    for _attempt in range(5):
        login(client, "admin@example.cn", "wrong-password-1")
    assert login(client, "admin@example.cn", RIGHT).status_code == 429

    # and once the limit has passed, the right password reaches the admin
    client.logout()
    from django.core.cache import cache

    cache.clear()
    assert login(client, "admin@example.cn", RIGHT).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_parent_cannot_reach_the_admin(client):
    user = UserFactory()
    client.force_login(user)
    assert client.get("/admin/login/").status_code == 403
    assert client.get("/admin/").status_code == 302


def test_login_starts_a_new_session(client):
    # given a visitor with an anonymous session
    UserFactory(phone="13700001111", phone_verified=True)
    anonymous = client.session
    anonymous["seen_home"] = True
    anonymous.save()
    before = anonymous.session_key

    # when they sign in
    assert login(client, "13700001111", RIGHT).status_code == 302

    # then the session key has changed and the old session is gone from the server
    after = client.cookies["sessionid"].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert Session.objects.filter(session_key=after).exists()


def test_logout_ends_the_session_on_the_server(client):
    UserFactory(phone="13700001111", phone_verified=True)
    login(client, "13700001111", RIGHT)
    key = client.cookies["sessionid"].value
    assert Session.objects.filter(session_key=key).exists()

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    # a replayed cookie is no longer signed in
    client.cookies["sessionid"] = key
    assert client.get("/family/").status_code == 302


def test_logout_needs_post(client):
    UserFactory(phone="13700001111", phone_verified=True)
    login(client, "13700001111", RIGHT)
    key = client.cookies["sessionid"].value
    client.get("/accounts/logout/")
    assert Session.objects.filter(session_key=key).exists()


def _signed_in_twice(client_factory, phone):
    clients = []
    for _n in range(2):
        c = client_factory()
        assert login(c, phone, RIGHT).status_code == 302
        clients.append(c)
    return clients


def test_disabling_an_account_ends_all_its_sessions(client, django_user_model):
    from django.test import Client

    # given a parent signed in on two phones
    user = UserFactory(phone="13700001111", phone_verified=True)
    clients = _signed_in_twice(Client, "13700001111")
    keys = [c.cookies["sessionid"].value for c in clients]
    assert UserSession.objects.filter(user=user).count() == 2

    # when an administrator disables the account
    ended = user_deactivate(user=user, reason="test")

    # then both server sessions are gone and neither phone is signed in
    assert ended == 2
    assert not Session.objects.filter(session_key__in=keys).exists()
    for c in clients:
        assert c.get("/family/").status_code == 302
    user.refresh_from_db()
    assert user.is_active is False
    # and signing in again is refused
    response = login(client, "13700001111", RIGHT)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/inactive/"


def test_unticking_active_in_the_admin_also_ends_sessions(client):
    from django.test import Client

    user = UserFactory(phone="13700001111", phone_verified=True)
    clients = _signed_in_twice(Client, "13700001111")
    keys = [c.cookies["sessionid"].value for c in clients]

    # the admin's change form saves the user with is_active=False
    user.is_active = False
    user.save()

    assert not Session.objects.filter(session_key__in=keys).exists()
    assert not UserSession.objects.filter(user=user).exists()


def test_no_personal_data_in_urls(client, sms_outbox):
    # no path anywhere (every app, every include, admin and allauth too) takes a
    # phone number, email or name
    routes = list(all_routes())
    assert len(routes) > 100  # the walk reached inside the includes
    for route in routes:
        for word in PERSONAL_WORDS:
            assert word not in route.parameters, (route.path, route.parameters)
    # the portal's own paths take only ids and secret tokens
    for route in routes:
        if route.is_ours:
            assert all(
                converter == "int" or name in ("token", "code")
                for name, converter in route.parameters.items()
            ), (route.path, route.parameters)

    # and no step of signing up by phone puts the number in an address
    phone = "13812345678"
    response = signup_by_phone(client, sms_outbox, phone)
    assert phone not in response["Location"]
    page = client.get(response["Location"])
    assert phone not in page.request["PATH_INFO"] + page.request.get("QUERY_STRING", "")


# --- every view's access rule, found by walking the whole resolver ------------------

PERSONAL_WORDS = ("phone", "email", "name", "mobile", "username", "nickname", "id_card")
OUR_APPS = ("members", "notifications", "parent_school", "bookings", "courses", "events")
OUR_APPS += ("handbook", "recognition", "reports", "portal")
OUR_APPS += ("surveys",)
OUR_APPS += ("evaluation",)
OUR_APPS += ("groups", "community")
OUR_APPS += ("certificates",)
# /readyz and /metrics (alliance/metrics.py, issue 19): the project package's own views.
OUR_APPS += ("alliance",)

# Who may open each of the portal's own views. A view added anywhere (at any depth
# of include) that is not listed here fails test_every_view_has_an_access_rule.
PUBLIC, TOKEN, SIGNED_IN, STAFF, COORDINATOR = "public", "token", "signed_in", "staff", "coord"
ACCESS = {
    "healthz": PUBLIC,
    # Load balancers' probe: the same few words for everyone, nothing of anyone.
    "readyz": PUBLIC,
    # The monitoring network (the test client's 127.0.0.1 is in METRICS_ALLOWED_NETS)
    # or the bearer token is the permission; names of views and queues, no one's data.
    "metrics": TOKEN,
    "portal:home": PUBLIC,
    "portal:language": PUBLIC,
    "members:privacy": PUBLIC,
    "members:children_rules": PUBLIC,
    "parent_school:list": PUBLIC,
    "parent_school:detail": PUBLIC,
    "courses:catalogue": PUBLIC,
    "courses:detail": PUBLIC,
    "courses:lesson": PUBLIC,
    "courses:lessons": PUBLIC,
    "courses:lesson_video": PUBLIC,
    "courses:lesson_poster": PUBLIC,
    "events:list": PUBLIC,
    "events:detail": PUBLIC,
    "events:ics": PUBLIC,
    # the secret in the address is the permission
    "events:calendar_feed": TOKEN,
    # signed in; anything of a family is looked up inside the user's own family
    "members:family": SIGNED_IN,
    "members:guardian_edit": SIGNED_IN,
    "members:child_add": SIGNED_IN,
    "members:child_edit": SIGNED_IN,
    "members:child_delete": SIGNED_IN,
    "members:invite": SIGNED_IN,
    "members:invitation_withdraw": SIGNED_IN,
    "members:invitation_accept": SIGNED_IN,
    "members:my_data": SIGNED_IN,
    "members:my_data_json": SIGNED_IN,
    "members:my_data_html": SIGNED_IN,
    "members:account_delete": SIGNED_IN,
    "members:api_tokens": SIGNED_IN,
    "members:api_token_revoke": SIGNED_IN,
    "courses:book": SIGNED_IN,
    "courses:cancel": SIGNED_IN,
    "portal:my_learning": SIGNED_IN,
    "portal:mine": SIGNED_IN,
    "courses:checkin": SIGNED_IN,
    "courses:lesson_progress": SIGNED_IN,
    "events:register": SIGNED_IN,
    "events:unregister": SIGNED_IN,
    "events:self_checkin": SIGNED_IN,
    "events:calendar": SIGNED_IN,
    "events:calendar_revoke": SIGNED_IN,
    "notifications:inbox": SIGNED_IN,
    "notifications:open": SIGNED_IN,
    "notifications:read_all": SIGNED_IN,
    "notifications:preferences": SIGNED_IN,
    "handbook:home": SIGNED_IN,
    "handbook:claim": SIGNED_IN,
    "handbook:claim_detail": SIGNED_IN,
    "handbook:claim_withdraw": SIGNED_IN,
    "handbook:claim_respond": SIGNED_IN,
    # the family's or, for its verifiers, the claim's photo (handbook.selectors scope it)
    "handbook:claim_photo": SIGNED_IN,
    "handbook:print": SIGNED_IN,
    "recognition:progress": SIGNED_IN,
    # a family's questionnaires; surveys.selectors.answer_sheet refuses a family
    # that may not answer (a friendly page, never another family's draft)
    "surveys:mine": SIGNED_IN,
    "surveys:start": SIGNED_IN,
    "surveys:question": SIGNED_IN,
    "surveys:review": SIGNED_IN,
    "surveys:done": SIGNED_IN,
    # coordinators and instructors
    "courses:staff_sessions": STAFF,
    "courses:roster": STAFF,
    "courses:roster_reveal": STAFF,
    "courses:session_cancel": STAFF,
    "courses:checkin_code": STAFF,
    "events:manage_list": STAFF,
    "events:manage_detail": STAFF,
    "events:manage_checkin": STAFF,
    "events:manage_reveal": STAFF,
    "events:manage_qr": STAFF,
    "events:manage_ticket": STAFF,
    "handbook:review": STAFF,
    "handbook:review_bulk_approve": STAFF,
    "handbook:review_detail": STAFF,
    "recognition:overview": STAFF,
    "recognition:list": STAFF,
    "recognition:print": STAFF,
    # coordinators only
    "members:unit_list": COORDINATOR,
    "members:unit_families": COORDINATOR,
    "events:manage_create": COORDINATOR,
    "events:manage_edit": COORDINATOR,
    "events:manage_cancel": COORDINATOR,
    "events:manage_deliveries": COORDINATOR,
    "handbook:items": COORDINATOR,
    "handbook:items_customise": COORDINATOR,
    "handbook:item_new": COORDINATOR,
    "handbook:item_edit": COORDINATOR,
    "recognition:rule": COORDINATOR,
    "recognition:compute": COORDINATOR,
    "recognition:publish": COORDINATOR,
    "recognition:override": COORDINATOR,
    "recognition:commendations": COORDINATOR,
    "recognition:commendation_remove": COORDINATOR,
    "recognition:export": COORDINATOR,
    # questionnaires: surveys.selectors scope every survey and template (404 outside)
    "surveys:manage_index": COORDINATOR,
    "surveys:manage_survey_new": COORDINATOR,
    "surveys:manage_deploy": COORDINATOR,
    "surveys:manage_comparison": COORDINATOR,
    "surveys:manage_comparison_print": COORDINATOR,
    "surveys:manage_comparison_export": COORDINATOR,
    "surveys:manage_survey": COORDINATOR,
    "surveys:manage_survey_publish": COORDINATOR,
    "surveys:manage_survey_close": COORDINATOR,
    "surveys:manage_survey_print": COORDINATOR,
    "surveys:manage_survey_export": COORDINATOR,
    "surveys:manage_template_new": COORDINATOR,
    "surveys:manage_template": COORDINATOR,
    "surveys:manage_template_update": COORDINATOR,
    "surveys:manage_section_save": COORDINATOR,
    "surveys:manage_question_new": COORDINATOR,
    "surveys:manage_question_edit": COORDINATOR,
    "surveys:manage_question_delete": COORDINATOR,
    "surveys:manage_question_move": COORDINATOR,
    "reports:overview": COORDINATOR,
    "reports:unit": COORDINATOR,
    "reports:school": COORDINATOR,
    "reports:recompute": COORDINATOR,
    "reports:export": COORDINATOR,
    "reports:job": COORDINATOR,
    "reports:job_download": COORDINATOR,
    # brand programmes: public counts and logos, no person (reports/views.py)
    "reports:brands": PUBLIC,
    "reports:brand": PUBLIC,
    "reports:brand_logo": PUBLIC,
    # the evaluation loop: evaluation.selectors scope units, feedback and actions (404 outside)
    "evaluation:unit": COORDINATOR,
    "evaluation:feedback_write": COORDINATOR,
    "evaluation:feedback_acknowledge": COORDINATOR,
    "evaluation:action_add": COORDINATOR,
    "evaluation:action_update": COORDINATOR,
    "evaluation:targets": COORDINATOR,
    "evaluation:targets_default": COORDINATOR,
    # the boards: community.selectors decide who reads, posts and moderates (404 outside)
    "community:home": SIGNED_IN,
    "community:search": SIGNED_IN,
    "community:profile": SIGNED_IN,
    "community:board": SIGNED_IN,
    "community:new_thread": SIGNED_IN,
    "community:group_board": SIGNED_IN,
    "community:thread": SIGNED_IN,
    "community:reply": SIGNED_IN,
    "community:accept": SIGNED_IN,
    "community:report": SIGNED_IN,
    "community:image": SIGNED_IN,
    # moderators' actions: a group's facilitator need not be staff, so these are
    # scoped by the board (can_moderate), not refused by role
    "community:board_settings": SIGNED_IN,
    "community:pin": SIGNED_IN,
    "community:close": SIGNED_IN,
    "community:decide": SIGNED_IN,
    # the queue: families have none (403)
    "community:moderation": STAFF,
    # buddy groups: groups.selectors scope every group, session, booking and membership
    "groups:mine": SIGNED_IN,
    "groups:detail": SIGNED_IN,
    "groups:join": SIGNED_IN,
    "groups:leave": SIGNED_IN,
    "groups:session": SIGNED_IN,
    "groups:session_book": SIGNED_IN,
    "groups:session_cancel": SIGNED_IN,
    # a group's managers: its facilitator (maybe a volunteer, not staff) or the
    # school's coordinators; groups.selectors.managed_groups (404 outside)
    "groups:manage": SIGNED_IN,
    "groups:manage_edit": SIGNED_IN,
    "groups:manage_add": SIGNED_IN,
    "groups:manage_session_new": SIGNED_IN,
    "groups:manage_dissolve": SIGNED_IN,
    "groups:request_decide": SIGNED_IN,
    "groups:member_remove": SIGNED_IN,
    "groups:attendance": SIGNED_IN,
    # the lists of groups to manage and the new-group form: families are refused (403)
    "groups:manage_list": STAFF,
    "groups:manage_new": STAFF,
    # certificates: what a verifier fetches is public (masked name, no phone, no
    # child); a holder's own pages are scoped by certificates.selectors (404 outside)
    "certificates:did": PUBLIC,
    "certificates:status_list": PUBLIC,
    "certificates:verify_home": PUBLIC,
    "certificates:verify": PUBLIC,
    "certificates:verify_credential": PUBLIC,
    "certificates:mine": SIGNED_IN,
    "certificates:pdf": SIGNED_IN,
    "certificates:credential": SIGNED_IN,
    "certificates:preference": SIGNED_IN,
    "certificates:transcript": SIGNED_IN,
    "certificates:transcript_csv": SIGNED_IN,
    "certificates:transcript_json": SIGNED_IN,
    "certificates:manage": COORDINATOR,
    "certificates:batch_start": COORDINATOR,
    "certificates:batch": COORDINATOR,
    "certificates:revoke": COORDINATOR,
    "certificates:reissue": COORDINATOR,
}


class Route:
    def __init__(self, path: str, name: str, callback, regexes: list[str]):
        self.path = path
        self.name = name
        self.callback = callback
        self.parameters: dict[str, str] = {}
        for regex in regexes:
            for param in re.findall(r"\(\?P<(\w+)>", regex):
                self.parameters[param] = "regex"
        for converter, param in re.findall(r"<(?:(\w+):)?(\w+)>", path):
            self.parameters[param] = converter or "str"
        module = getattr(callback, "__module__", "") or ""
        # Django admin's URLs (some with a portal-made view, like the autocomplete that
        # labels people) sign in through the admin's own login: they are checked by
        # test_admin_pages_send_anonymous_visitors_to_sign_in and tests/security/.
        self.is_ours = module.split(".")[0] in OUR_APPS and not name.startswith("admin:")

    def __repr__(self) -> str:
        return f"<Route {self.name or '?'} {self.path}>"


def all_routes(patterns=None, prefix: str = "", namespace: str = "", regexes=()):
    """Every view of the project, walking URLResolver.url_patterns to any depth."""
    from django.urls import URLPattern, URLResolver

    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        text = str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from all_routes(pattern.url_patterns, prefix + text, inner, (*regexes, text))
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}{pattern.name}" if pattern.name else ""
            yield Route(prefix + text, name, pattern.callback, [*regexes, text])


def test_every_view_has_an_access_rule():
    ours = {r.name for r in all_routes() if r.is_ours}
    assert "" not in ours, "every portal view has a URL name"
    assert ours == set(ACCESS), {
        "views without a rule (add them to ACCESS)": sorted(ours - set(ACCESS)),
        "rules without a view": sorted(set(ACCESS) - ours),
    }


@pytest.fixture
def world(settings, tmp_path):
    """Family A with a child, an invitation, a notice, a course and an event booking,
    a calendar feed; a coordinator's export job; and the ids every route needs."""
    import datetime

    from django.utils import timezone

    from bookings.services import booking_create
    from courses.services import checkin_token_make
    from courses.tests.factories import CourseFactory, OnlineLessonFactory, make_session
    from events.services import calendar_feed_get_or_create, event_checkin_code
    from events.tests.factories import make_event
    from handbook.models import Claim
    from handbook.tests.factories import ClaimFactory, HandbookItemFactory
    from members.models import FamilyInvitation, RoleAssignment
    from members.tests.factories import (
        ApiTokenFactory,
        ChildFactory,
        GuardianFactory,
        RoleAssignmentFactory,
    )
    from notifications.services import notification_create
    from recognition.tests.factories import (
        CommendationFactory,
        LearningFamilyEntryFactory,
        LearningFamilyListFactory,
    )
    from reports.models import ReportJob

    a = GuardianFactory(user=UserFactory(phone="13911112222", display_name="甲家妈妈"))
    child = ChildFactory(family=a.family, nickname="秘密小明")
    invitation = FamilyInvitation.objects.create(
        family=a.family,
        invited_by=a.user,
        phone="13733334444",
        relation="father",
        expires_at=timezone.now() + datetime.timedelta(days=3),
    )
    notice = notification_create(user=a.user, title="甲家的私人通知")
    course = CourseFactory()
    session = make_session(course)
    lesson = OnlineLessonFactory(course=course)
    settings.MEDIA_ROOT = str(tmp_path / "media")  # the uploaded lesson's files
    video_lesson = OnlineLessonFactory(course=course, uploaded=True)
    # a brand with a logo (its public page and the logo itself)
    import io as _io

    from PIL import Image

    from parent_school.services import brand_logo_clean, brand_logo_set
    from parent_school.tests.factories import BrandProgrammeFactory

    brand = BrandProgrammeFactory()
    picture = _io.BytesIO()
    Image.new("RGB", (64, 64), (200, 80, 60)).save(picture, "PNG")
    picture.seek(0)
    from django.core.files.uploadedfile import SimpleUploadedFile

    brand_logo_set(
        brand=brand,
        content=brand_logo_clean(SimpleUploadedFile("logo.png", picture.read(), "image/png")),
    )
    course_booking = booking_create(
        offering_id=session.offering_id, family=a.family, booked_by=a.user, guardian_ids=[a.pk]
    )
    unit = session.offering.unit
    event = make_event(organiser_unit=unit)
    booking_create(
        offering_id=event.offering_id, family=a.family, booked_by=a.user, guardian_ids=[a.pk]
    )
    feed = calendar_feed_get_or_create(family=a.family)
    coordinator = RoleAssignmentFactory(role=RoleAssignment.Role.UNIT_COORDINATOR, unit=unit).user
    job = ReportJob.objects.create(
        kind=ReportJob.Kind.EXPORT_CSV, term=course.term, requested_by=coordinator
    )
    b = GuardianFactory()  # another family, signed in as an ordinary parent
    api_token, _raw = ApiTokenFactory.create(user=a.user, name="甲家的平板")
    claim = ClaimFactory(
        family=a.family, child=child, unit=unit, term=course.term, note="甲家的手册说明"
    )
    item = HandbookItemFactory()
    learning_list = LearningFamilyListFactory(term=course.term)
    entry = LearningFamilyEntryFactory(family_list=learning_list, family=a.family, unit=unit)
    commendation = CommendationFactory(
        guardian=a, unit=unit, term=course.term, alliance=learning_list.alliance
    )
    from evaluation.tests.factories import FeedbackFactory, ImprovementActionFactory
    from surveys.tests.factories import SurveyFactory, with_questions

    evaluation_feedback = FeedbackFactory(unit=unit, term=course.term)
    evaluation_action = ImprovementActionFactory(unit=unit, term=course.term)

    from certificates.models import Kind as CertificateKind
    from certificates.tests.factories import CertificateBatchFactory, CertificateFactory

    # family A's transcript: its printed name and child must not reach anyone else
    certificate = CertificateFactory(
        guardian=a,
        kind=CertificateKind.TRANSCRIPT,
        holder_name="甲家妈妈",
        child_nickname="秘密小明",
        data={"rows": [{"course": "甲家的课程", "credits": "2"}], "total": "2"},
    )
    certificate_batch = CertificateBatchFactory(alliance=certificate.alliance)

    survey = SurveyFactory(template=with_questions().template, title="甲家的课后问卷")
    board_rows = _board_rows(a, child, unit)
    kwargs = {
        "surveys:start": {"survey_id": survey.pk},
        "surveys:question": {"survey_id": survey.pk, "n": 1},
        "surveys:review": {"survey_id": survey.pk},
        "surveys:done": {"survey_id": survey.pk},
        "surveys:manage_survey": {"survey_id": survey.pk},
        "surveys:manage_survey_publish": {"survey_id": survey.pk},
        "surveys:manage_survey_close": {"survey_id": survey.pk},
        "surveys:manage_survey_print": {"survey_id": survey.pk},
        "surveys:manage_survey_export": {"survey_id": survey.pk},
        "surveys:manage_template": {"template_id": survey.template_id},
        "surveys:manage_template_update": {"template_id": survey.template_id},
        "surveys:manage_section_save": {"template_id": survey.template_id},
        "surveys:manage_question_new": {"template_id": survey.template_id},
        "surveys:manage_question_edit": {
            "template_id": survey.template_id,
            "question_id": survey.template.versions.get().questions.order_by("pk")[0].pk,
        },
        "surveys:manage_question_delete": {"template_id": survey.template_id},
        "surveys:manage_question_move": {"template_id": survey.template_id},
        "members:child_edit": {"pk": child.pk},
        "members:child_delete": {"pk": child.pk},
        "members:invitation_withdraw": {"pk": invitation.pk},
        "members:invitation_accept": {"token": invitation.token},
        "members:unit_families": {"unit_id": unit.pk},
        "parent_school:detail": {"pk": course.parent_school_id},
        "courses:detail": {"pk": course.pk},
        "courses:book": {"pk": session.pk},
        "courses:roster": {"pk": session.pk},
        "courses:roster_reveal": {"pk": session.pk},
        "courses:session_cancel": {"pk": session.pk},
        "courses:checkin_code": {"pk": session.pk},
        "courses:lesson": {"pk": lesson.pk},
        "courses:lesson_progress": {"pk": lesson.pk},
        "courses:lesson_video": {"pk": video_lesson.pk},
        "courses:lesson_poster": {"pk": video_lesson.pk},
        "courses:cancel": {"pk": course_booking.pk},
        "courses:checkin": {"token": checkin_token_make(session=session)},
        "events:self_checkin": {"pk": event.pk, "code": event_checkin_code(event=event)},
        "events:calendar_feed": {"token": feed.token},
        "notifications:open": {"pk": notice.pk},
        "members:api_token_revoke": {"pk": api_token.pk},
        "reports:unit": {"unit_id": unit.pk},
        "reports:school": {"school_id": course.parent_school_id},
        "reports:job": {"job_id": job.pk},
        "reports:job_download": {"job_id": job.pk},
        "reports:brand": {"brand_id": brand.pk},
        "reports:brand_logo": {"brand_id": brand.pk},
        "evaluation:unit": {"unit_id": unit.pk},
        "evaluation:feedback_write": {"unit_id": unit.pk},
        "evaluation:action_add": {"unit_id": unit.pk},
        "evaluation:feedback_acknowledge": {"feedback_id": evaluation_feedback.pk},
        "evaluation:action_update": {"action_id": evaluation_action.pk},
        "handbook:claim_detail": {"pk": claim.pk},
        "handbook:claim_withdraw": {"pk": claim.pk},
        "handbook:claim_respond": {"pk": claim.pk},
        "handbook:claim_photo": {"pk": claim.pk},
        "handbook:review_detail": {"pk": claim.pk},
        "handbook:item_edit": {"pk": item.pk},
        "recognition:rule": {"alliance_id": learning_list.alliance_id, "term_id": course.term_id},
        "recognition:compute": {
            "alliance_id": learning_list.alliance_id,
            "term_id": course.term_id,
        },
        "recognition:list": {"list_id": learning_list.pk},
        "recognition:publish": {"list_id": learning_list.pk},
        "recognition:print": {"list_id": learning_list.pk},
        "recognition:override": {"entry_id": entry.pk},
        "recognition:commendation_remove": {"commendation_id": commendation.pk},
        "certificates:status_list": {"list_number": certificate.status_list_number},
        "certificates:verify": {"code": certificate.code},
        "certificates:verify_credential": {"code": certificate.code},
        "certificates:batch": {"batch_id": certificate_batch.pk},
    }
    for name in ("pdf", "credential", "transcript_csv", "transcript_json", "revoke", "reissue"):
        kwargs[f"certificates:{name}"] = {"certificate_id": certificate.pk}
    for route in our_routes():
        if route.name.split(":")[0] in ("community", "groups"):
            kwargs.setdefault(route.name, {p: board_rows[p] for p in route.parameters})
    for route in our_routes():
        if route.name.startswith("events:") and set(route.parameters) == {"pk"}:
            kwargs.setdefault(route.name, {"pk": event.pk})
    secrets = ["秘密小明", "甲家妈妈", "13911112222", "13733334444", "甲家的私人通知", feed.token]
    secrets += ["甲家的平板", "甲家的手册说明"]
    secrets += ["甲家的帖子内容", "甲家的小组"]
    secrets += ["甲家的课程"]

    def fingerprint():
        a.family.refresh_from_db()
        return (
            list(a.family.children.values_list("pk", "nickname")),
            list(FamilyInvitation.objects.filter(pk=invitation.pk).values_list("expires_at")),
            sorted(
                Booking.objects.filter(family=a.family).values_list("pk", "status", "attendance")
            ),
            list(type(notice).objects.filter(pk=notice.pk).values_list("read_at")),
            list(type(feed).objects.filter(family=a.family).values_list("token", "revoked_at")),
            list(type(api_token).objects.filter(user=a.user).values_list("pk", "revoked_at")),
            list(Claim.objects.filter(family=a.family).values_list("pk", "status", "note")),
            board_rows["fingerprint"](),
        )

    return SimpleNamespace(
        a=a, b=b, kwargs=kwargs, secrets=secrets, fingerprint=fingerprint, routes=our_routes()
    )


def _board_rows(a, child, unit) -> dict:
    """Family A on a board and in a group: its thread, post and picture, its 学伴
    membership with its child, the group's session booked; ids by URL parameter."""
    from bookings.services import booking_create
    from community.models import Post, Thread
    from community.tests.factories import (
        BoardFactory,
        PostFactory,
        PostImageFactory,
        ThreadFactory,
    )
    from groups.models import Group, GroupMembership
    from groups.tests.factories import GroupFactory, GroupMembershipFactory, GroupSessionFactory
    from parent_school.tests.factories import ParentSchoolFactory

    school = ParentSchoolFactory(host_unit=unit, name="甲家的家长学校")
    board = BoardFactory(parent_school=school, unit=unit, title="甲家学校的交流区")
    thread = ThreadFactory(board=board, title="甲家的提问", author_family=a.family)
    post = PostFactory(
        thread=thread,
        is_opening=True,
        body="甲家的帖子内容",
        author_family=a.family,
        author_user=a.user,
        author_name="甲家昵称",
    )
    image = PostImageFactory(post=post)
    group = GroupFactory(
        parent_school=school, name="甲家的小组", kind=Group.Kind.STUDY, member_count=1
    )
    membership = GroupMembershipFactory(group=group, family=a.family, child=child)
    session = GroupSessionFactory(group=group, offering__unit=unit, offering__capacity=10)
    booking = booking_create(
        offering_id=session.offering_id, family=a.family, booked_by=a.user, guardian_ids=[a.pk]
    )

    def fingerprint():
        return (
            list(Thread.objects.filter(board=board).values_list("pk", "status", "is_closed")),
            list(Post.objects.filter(board=board).values_list("pk", "status", "report_count")),
            list(GroupMembership.objects.filter(group=group).values_list("pk", "status")),
            list(Group.objects.filter(pk=group.pk).values_list("status", "name")),
        )

    return {
        "board_id": board.pk,
        "thread_id": thread.pk,
        "post_id": post.pk,
        "image_id": image.pk,
        "group_id": group.pk,
        "session_id": session.pk,
        "booking_id": booking.pk,
        "membership_id": membership.pk,
        "fingerprint": fingerprint,
    }


def our_routes() -> list[Route]:
    return [r for r in all_routes() if r.is_ours]


def _url(world, route: Route) -> str:
    from django.urls import reverse

    kwargs = world.kwargs.get(route.name, {})
    assert set(kwargs) == set(route.parameters), f"{route.name}: give the fixture its ids"
    return reverse(route.name, kwargs=kwargs)


def _request(client, url: str):
    """GET, or POST (empty) when the view answers GET with 405."""
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url)
    return response


def _to_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_anonymous_visitors_reach_only_public_views(client, world):
    before = world.fingerprint()
    for route in world.routes:
        response = _request(client, _url(world, route))
        rule = ACCESS[route.name]
        if rule in (PUBLIC, TOKEN):
            assert response.status_code < 400 and not _to_login(response), route
        else:
            assert _to_login(response), (route, response.status_code)
    # and a made-up secret opens nothing
    assert client.get("/calendar/not-a-token.ics").status_code == 404
    assert world.fingerprint() == before


def test_admin_pages_send_anonymous_visitors_to_sign_in(client):
    from django.urls import NoReverseMatch, reverse

    checked = 0
    for route in all_routes():
        if not route.name.startswith("admin:") or route.name == "admin:login":
            continue
        if route.name in ("admin:logout", "admin:jsi18n", "admin:view_on_site"):
            continue  # no data: log out, the JavaScript catalogue, a redirect to the public page
        kwargs = {p: ("1" if p != "app_label" else "members") for p in route.parameters}
        try:
            url = reverse(route.name, kwargs=kwargs)
        except NoReverseMatch:
            continue  # an app_label that is not "members"; members' own are enough
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"], route
        checked += 1
    assert checked > 20


def test_a_parent_of_another_family_sees_and_changes_nothing_of_family_a(client, world):
    # given a parent of family B, signed in
    client.force_login(world.b.user)
    before = world.fingerprint()

    for route in world.routes:
        rule = ACCESS[route.name]
        response = _request(client, _url(world, route))
        if rule in (STAFF, COORDINATOR):
            # staff pages are refused outright
            assert response.status_code == 403, (route, response.status_code)
            continue
        assert response.status_code != 500
        if rule == TOKEN or route.name == "members:invitation_accept":
            continue  # holding the secret link is the permission (a forwarded invitation
            # shows who invited, and is refused on accepting: test_family_invitations.py)
        content = (
            b"".join(response.streaming_content) if response.streaming else response.content
        )  # a lesson video is streamed
        body = content.decode(errors="replace")
        for secret in world.secrets:
            assert secret not in body, (route, secret)
        holder_id = "certificate_id" in route.parameters and rule == SIGNED_IN
        if (
            holder_id
            or "pk" in route.parameters
            and route.name.startswith(("members:", "notifications:", "courses:cancel", "handbook:"))
        ):
            # objects of family A, looked up inside B's family: not found
            assert response.status_code == 404, (route, response.status_code)
        if route.parameters and route.name.startswith(("community:", "groups:")):
            # family A's board, thread, post, picture, group, session, booking or
            # membership: not B's to open or act on (tests/security/test_board_privacy_walk.py)
            assert response.status_code in (403, 404), (route, response.status_code)

    # and nothing of family A changed
    assert world.fingerprint() == before


def _districts(world):
    """Everything of the world in district A; B, another district, with its own
    administrator; A's administrator too. Returns (A's admin, B's admin)."""
    from members.models import Region, RoleAssignment
    from members.registry import role_assign

    district_a = RegionFactory(name="甲区", kind=Region.Kind.DISTRICT)
    Region.objects.filter(parent__isnull=True).exclude(pk=district_a.pk).update(parent=district_a)
    district_b = RegionFactory(name="乙区", kind=Region.Kind.DISTRICT)
    admins = []
    for name, district in (("甲区管理员", district_a), ("乙区管理员", district_b)):
        user = UserFactory(display_name=name)
        role_assign(actor=None, user=user, role=RoleAssignment.Role.DISTRICT_ADMIN, region=district)
        admins.append(user)
    return admins


def test_another_districts_administrator_sees_and_changes_nothing_of_district_a(client, world):
    # given the administrator of district B, signed in, and everything of the world in A
    _admin_a, admin_b = _districts(world)
    client.force_login(admin_b)
    before = world.fingerprint()

    for route in world.routes:
        rule = ACCESS[route.name]
        response = _request(client, _url(world, route))
        assert response.status_code != 500, route
        if rule == TOKEN or route.name == "members:invitation_accept":
            continue  # the secret link is the permission (see the parent walk above)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        body = content.decode(errors="replace")
        for secret in world.secrets:
            assert secret not in body, (route, secret)
        if rule in (STAFF, COORDINATOR) and route.parameters:
            # a page about one of A's units, sessions, surveys, lists, jobs…: refused
            assert response.status_code in (302, 403, 404), (route, response.status_code)
            if response.status_code == 302:
                assert not response["Location"].startswith(("/reports/", "/evaluation/")), route

    # and nothing of district A changed
    assert world.fingerprint() == before


def test_the_districts_own_administrator_reaches_its_units_pages(client, world):
    # given the administrator of district A (the world's district)
    admin_a, _admin_b = _districts(world)
    client.force_login(admin_a)

    # then the pages of A's unit open for them
    for name in ("reports:unit", "evaluation:unit", "members:unit_families"):
        route = next(r for r in world.routes if r.name == name)
        response = client.get(_url(world, route))
        assert response.status_code == 200, (name, response.status_code)


def test_remember_me_keeps_the_session_otherwise_it_ends_with_the_browser(client):
    UserFactory(phone="13700001111", phone_verified=True)
    client.post("/accounts/login/", {"login": "13700001111", "password": RIGHT})
    assert client.session.get_expire_at_browser_close() is True
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"login": "13700001111", "password": RIGHT, "remember": "on"})
    assert client.session.get_expire_at_browser_close() is False


def test_a_second_code_for_the_same_number_within_30_seconds_is_429_not_500(client, sms_outbox):
    from django.test import Client

    data = {
        "phone": "13812345678",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "agree_privacy": "on",
    }
    with committed():
        assert client.post("/accounts/signup/", data).status_code == 302
    with committed():
        response = Client().post("/accounts/signup/", data)
    assert response.status_code == 429
    assert len(sms_outbox) == 1
