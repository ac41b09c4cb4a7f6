"""The evaluation pages with the test client: the issue's "done when" (the
district writes feedback, the unit acknowledges it and records two improvement
actions; next term's panel shows them), the 定标 table, and scope refusals."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from evaluation.models import Feedback, ImprovementAction, Responsibility, UnitTarget
from evaluation.tests.factories import FeedbackFactory, ImprovementActionFactory
from events.models import Delivery
from members.tests.factories import GuardianFactory
from parent_school.tests.factories import TermFactory

pytestmark = pytest.mark.django_db


def _unit_url(world, term=None):
    return reverse("evaluation:unit", args=[world.school.pk]) + f"?term={(term or world.term).code}"


def test_feedback_acknowledged_two_actions_and_next_terms_panel_shows_them(client, world):
    today = timezone.localdate()
    # given: the district administrator writes feedback on the unit's page
    client.force_login(world.district)
    page = client.get(_unit_url(world))
    assert page.status_code == 200 and 'id="feedback-form-title"' in page.content.decode()
    response = client.post(
        reverse("evaluation:feedback_write", args=[world.school.pk]),
        {
            "term": world.term.code,
            "strengths": "课程丰富，家长满意。",
            "problems": "问卷回收率只有 18%。",
        },
    )
    feedback = Feedback.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"#feedback-{feedback.pk}")
    # the unit's coordinator is told through the outbox
    assert Delivery.objects.filter(
        user=world.unit_coordinator, notice__key=f"evaluation.feedback:{feedback.pk}"
    ).exists()

    # when: the unit's coordinator acknowledges it and records two actions
    client.force_login(world.unit_coordinator)
    page = client.get(_unit_url(world)).content.decode()
    assert "问卷回收率只有 18%。" in page and "待单位确认" in page and "确认已阅" in page
    assert 'id="feedback-form-title"' not in page  # the unit does not assess itself
    response = client.post(reverse("evaluation:feedback_acknowledge", args=[feedback.pk]))
    assert response.status_code == 302
    for what, days in [("每次课后当场扫码填问卷", 10), ("家长群提醒填写学期问卷", 30)]:
        response = client.post(
            reverse("evaluation:action_add", args=[world.school.pk]),
            {
                "term": world.term.code,
                "what": what,
                "owner": "王老师",
                "due_on": (today + datetime.timedelta(days=days)).isoformat(),
                "feedback": feedback.pk,
            },
        )
        assert response.status_code == 302, response.content.decode()
    first = ImprovementAction.objects.get(what="每次课后当场扫码填问卷")
    response = client.post(
        reverse("evaluation:action_update", args=[first.pk]),
        {f"a{first.pk}-status": "done", f"a{first.pk}-evidence": "已在 6 次课后扫码，回收率 41%。"},
    )
    assert response.status_code == 302

    page = client.get(_unit_url(world)).content.decode()
    assert "已确认" in page and "已有 2 项改进措施" in page
    assert page.index("新增改进措施") < page.index("单位确认反馈") < page.index("填写考核反馈")

    # then: next term's panel shows last term's actions, with their status
    next_term = TermFactory(
        code="eval-next",
        school_year="2026–2027",
        starts_on=world.term.ends_on + datetime.timedelta(days=20),
        ends_on=world.term.ends_on + datetime.timedelta(days=160),
    )
    page = client.get(_unit_url(world, next_term)).content.decode()
    assert f"上学期（{world.term}）的改进措施" in page
    assert "每次课后当场扫码填问卷" in page and "家长群提醒填写学期问卷" in page
    assert "已在 6 次课后扫码，回收率 41%。" in page
    # and the district sees the same on the unit's page
    client.force_login(world.district)
    assert "家长群提醒填写学期问卷" in client.get(_unit_url(world, next_term)).content.decode()


def test_a_refused_form_shows_again_with_the_message_on_its_field(client, world):
    client.force_login(world.district)
    response = client.post(
        reverse("evaluation:feedback_write", args=[world.school.pk]),
        {"term": world.term.code, "strengths": " ", "problems": ""},
    )
    assert response.status_code == 200
    assert "请至少填写亮点或问题与不足中的一项。" in response.content.decode()
    assert not Feedback.objects.exists()

    client.force_login(world.unit_coordinator)
    response = client.post(
        reverse("evaluation:action_add", args=[world.school.pk]),
        {"term": world.term.code, "what": "补课", "owner": "王老师", "due_on": "2000-01-01"},
    )
    assert response.status_code == 200 and "完成期限不能早于今天" in response.content.decode()
    action = ImprovementActionFactory(unit=world.school, term=world.term)
    response = client.post(
        reverse("evaluation:action_update", args=[action.pk]),
        {f"a{action.pk}-status": "done", f"a{action.pk}-evidence": ""},
    )
    body = response.content.decode()
    assert response.status_code == 200 and "标记为已完成时，请填写完成情况与佐证。" in body
    action.refresh_from_db()
    assert action.status == "planned"


def test_overdue_actions_are_flagged_on_the_page(client, world):
    ImprovementActionFactory(
        unit=world.school,
        term=world.term,
        what="逾期的措施",
        due_on=timezone.localdate() - datetime.timedelta(days=2),
    )
    client.force_login(world.unit_coordinator)
    page = client.get(_unit_url(world)).content.decode()
    assert "逾期的措施" in page and "已逾期" in page


def test_foreign_units_feedback_and_actions_are_404(client, world):
    feedback = FeedbackFactory(unit=world.school, term=world.term, written_by=world.district)
    action = ImprovementActionFactory(unit=world.school, term=world.term)
    client.force_login(world.other_coordinator)
    assert client.get(_unit_url(world)).status_code == 404
    posts = [
        (reverse("evaluation:feedback_write", args=[world.school.pk]), {"strengths": "x"}),
        (reverse("evaluation:feedback_acknowledge", args=[feedback.pk]), {}),
        (
            reverse("evaluation:action_add", args=[world.school.pk]),
            {"what": "x", "owner": "x", "due_on": timezone.localdate().isoformat()},
        ),
        (reverse("evaluation:action_update", args=[action.pk]), {f"a{action.pk}-status": "done"}),
    ]
    for url, data in posts:
        assert client.post(url, {"term": world.term.code, **data}).status_code == 404, url
    feedback.refresh_from_db()
    assert feedback.acknowledged_at is None and Feedback.objects.count() == 1
    assert ImprovementAction.objects.count() == 1
    # an unknown term is 404 too, a parent is refused outright
    client.force_login(world.unit_coordinator)
    url = reverse("evaluation:unit", args=[world.school.pk]) + "?term=nope"
    assert client.get(url).status_code == 404
    client.force_login(GuardianFactory().user)
    assert client.get(_unit_url(world)).status_code == 403


def test_the_unit_page_reads_in_constant_queries(client, world, django_assert_max_num_queries):
    client.force_login(world.unit_coordinator)
    client.get(_unit_url(world))  # warm up (sessions, content types)
    for _n in range(6):
        feedback = FeedbackFactory(unit=world.school, term=world.term)
        ImprovementActionFactory(unit=world.school, term=world.term, feedback=feedback)
        ImprovementActionFactory(unit=world.school, term=world.last_term)
    with django_assert_max_num_queries(22):
        assert client.get(_unit_url(world)).status_code == 200


# --- 定标 -------------------------------------------------------------------------------


def test_the_targets_page_fills_defaults_and_saves_a_page_all_or_nothing(client, world):
    client.force_login(world.alliance_coordinator)
    url = reverse("evaluation:targets") + f"?term={world.term.code}"
    page = client.get(url).content.decode()
    assert "溪口中学" in page and "武岭小学" not in page and "按默认目标填充" in page

    response = client.post(reverse("evaluation:targets_default"), {"term": world.term.code})
    assert response.status_code == 302
    active = Responsibility.objects.filter(is_active=True)
    assert UnitTarget.objects.filter(unit=world.school).count() == active.count()
    assert not UnitTarget.objects.filter(unit=world.other_school).exists()

    families = active.get(code="families")
    satisfaction = active.get(code="satisfaction")
    # one bad value: nothing saved, the message beside the cell
    response = client.post(
        url,
        {
            f"t-{world.school.pk}-{families.pk}": "70",
            f"t-{world.school.pk}-{satisfaction.pk}": "6",
        },
    )
    body = response.content.decode()
    assert (
        response.status_code == 200
        and "须在 0 到 5 之间" in body
        and "本次没有保存任何目标" in body
    )
    assert UnitTarget.objects.get(unit=world.school, responsibility=families).value == 50
    response = client.post(
        url,
        {
            f"t-{world.school.pk}-{families.pk}": "70",
            f"t-{world.school.pk}-{satisfaction.pk}": "4.5",
        },
    )
    assert response.status_code == 302
    assert UnitTarget.objects.get(unit=world.school, responsibility=families).value == 70
    assert UnitTarget.objects.get(unit=world.school, responsibility=satisfaction).value == 4.5

    # a foreign unit's cell is refused with 404 and nothing saved
    response = client.post(url, {f"t-{world.other_school.pk}-{families.pk}": "99"})
    assert response.status_code == 404
    assert not UnitTarget.objects.filter(unit=world.other_school).exists()


def test_the_targets_page_is_for_the_district_and_alliance_coordinators(client, world):
    url = reverse("evaluation:targets") + f"?term={world.term.code}"
    client.force_login(world.unit_coordinator)
    assert client.get(url).status_code == 403
    client.force_login(world.district)
    page = client.get(url).content.decode()
    assert "溪口中学" in page and "武岭小学" in page
    client.force_login(world.alliance_coordinator)
    other = world.other_school.memberships.get().alliance_id
    assert client.get(url + f"&alliance={other}").status_code == 404
