"""Notes in three levels (Done-when #2, the per-role part): the shared summary,
the mentor-private note and the restricted note; who reads and writes which;
sealing at rest; an audit row for every sealed read; the family told that a
summary changed, never what it says. The leak search over every outbound path is
tests/security/test_guidance_notes_never_leave.py."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from events.models import Notice
from guidance import services
from guidance.errors import GuidanceError
from guidance.models import Note
from members.models import AuditLog

pytestmark = pytest.mark.django_db

NEED = "孩子最近晚上睡不着，白天也不太愿意说话"
SUMMARY = "本次咨询讨论了作息安排，建议每天固定时间陪孩子散步。"
PRIVATE = "母亲提到家中长辈经常争吵，孩子夹在中间"
RESTRICTED = "孩子曾说过不想活了的话，需要持续关注并联系学校心理老师"


def booked_consultation(w, *, mentor=None, guardian=None):
    """A consultation booked through the services (the mentor's slot, the child's need)."""
    mentor = mentor or w.psych
    guardian = guardian or w.mum
    starts = (timezone.localtime() + dt.timedelta(days=3)).replace(
        hour=15, minute=0, second=0, microsecond=0
    )
    slot = services.slot_create(
        user=mentor.user,
        mentor_id=mentor.pk,
        starts_at=starts,
        minutes=50,
        kind="one_to_one",
        capacity=1,
        mode="in_person",
        venue="海天舒工作站 2 号咨询室",
    )
    return services.consultation_book(
        user=guardian.user,
        slot_id=slot.pk,
        area=mentor.areas[0],
        for_whom="child",
        need=NEED,
        child_id=guardian.family.children.first().pk,
    )


def three_notes(w, consultation):
    write = services.note_write
    summary = write(
        user=w.psych.user, consultation_id=consultation.pk, level="summary", body=SUMMARY
    )
    private = write(
        user=w.psych.user, consultation_id=consultation.pk, level="private", body=PRIVATE
    )
    restricted = write(
        user=w.psych.user, consultation_id=consultation.pk, level="restricted", body=RESTRICTED
    )
    return summary, private, restricted


def _texts(panel) -> list[str]:
    return [row["text"] for row in panel["notes"]]


def test_each_role_reads_what_its_level_allows(station_world):
    # given the case's mentor writes the three levels
    w = station_world
    consultation = booked_consultation(w)
    three_notes(w, consultation)

    def panel(user):
        return services.notes_panel(user=user, consultation=consultation)

    # then the parent sees the summary only, the chief all three, the writer all three
    assert _texts(panel(w.mum.user)) == [SUMMARY]
    assert _texts(panel(w.chief.user)) == [SUMMARY, PRIVATE, RESTRICTED]
    assert _texts(panel(w.psych.user)) == [SUMMARY, PRIVATE, RESTRICTED]
    # another mentor of the station, the coordinator, another family: nothing
    for outsider in (w.family_mentor.user, w.coordinator, w.dad.user, w.other_mentor.user):
        assert _texts(panel(outsider)) == []
        assert panel(outsider)["note_form"] is None
    assert panel(w.mum.user)["note_form"] is None
    assert panel(w.chief.user)["note_form"] is not None


def test_the_parent_page_shows_only_the_summary(station_world, client):
    w = station_world
    consultation = booked_consultation(w)
    three_notes(w, consultation)
    client.force_login(w.mum.user)
    page = client.get(reverse("guidance:consultation", args=[consultation.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert SUMMARY in text
    assert PRIVATE not in text and RESTRICTED not in text and NEED not in text


def test_the_chief_mentor_page_shows_all_three(station_world, client):
    w = station_world
    consultation = booked_consultation(w)
    three_notes(w, consultation)
    client.force_login(w.chief.user)
    text = client.get(reverse("guidance:consultation", args=[consultation.pk])).content.decode()
    assert SUMMARY in text and PRIVATE in text and RESTRICTED in text


def test_outsiders_cannot_open_the_consultation_page(station_world, client):
    w = station_world
    consultation = booked_consultation(w)
    three_notes(w, consultation)
    for outsider in (w.family_mentor.user, w.coordinator, w.dad.user):
        client.force_login(outsider)
        page = client.get(reverse("guidance:consultation", args=[consultation.pk]))
        assert page.status_code == 404
        text = page.content.decode()
        assert PRIVATE not in text and RESTRICTED not in text and SUMMARY not in text


def test_note_read_refuses_who_may_not_read(station_world):
    w = station_world
    consultation = booked_consultation(w)
    summary, private, restricted = three_notes(w, consultation)
    assert services.note_read(user=w.chief.user, note=restricted) == RESTRICTED
    assert services.note_read(user=w.mum.user, note=summary) == SUMMARY
    for user, note in (
        (w.mum.user, private),
        (w.mum.user, restricted),
        (w.family_mentor.user, private),
        (w.coordinator, summary),
        (w.district_admin, restricted),
    ):
        with pytest.raises(GuidanceError) as refused:
            services.note_read(user=user, note=note)
        assert refused.value.code == "note_missing"


def test_a_referred_mentor_reads_private_but_not_restricted(station_world):
    w = station_world
    consultation = booked_consultation(w)
    _summary, private, restricted = three_notes(w, consultation)
    services.referral_create(
        user=w.psych.user,
        consultation_id=consultation.pk,
        to_area="family_education",
        to_mentor_id=w.family_mentor.pk,
    )
    assert services.note_read(user=w.family_mentor.user, note=private) == PRIVATE
    with pytest.raises(GuidanceError):
        services.note_read(user=w.family_mentor.user, note=restricted)


def test_every_sealed_read_leaves_an_audit_row(station_world):
    w = station_world
    consultation = booked_consultation(w)
    _summary, private, restricted = three_notes(w, consultation)
    reads = AuditLog.objects.filter(action="guidance.note.read")
    assert not reads.exists()  # writing reads nothing

    services.notes_panel(user=w.chief.user, consultation=consultation)
    assert set(reads.filter(actor=w.chief.user).values_list("target_id", flat=True)) == {
        str(private.pk),
        str(restricted.pk),
    }
    services.note_read(user=w.psych.user, note=private)
    assert reads.filter(actor=w.psych.user, target_id=str(private.pk)).count() == 1
    # the family's summary is in clear: reading it is not a sealed read
    services.notes_panel(user=w.mum.user, consultation=consultation)
    assert not reads.filter(actor=w.mum.user).exists()
    # the need too
    assert services.need_read(user=w.psych.user, consultation=consultation) == NEED
    assert services.need_read(user=w.coordinator, consultation=consultation) is None
    assert services.need_read(user=w.mum.user, consultation=consultation) is None
    need_reads = AuditLog.objects.filter(action="guidance.need.read")
    assert list(need_reads.values_list("actor_id", flat=True)) == [w.psych.user.pk]
    # and no audit row carries a text
    for row in AuditLog.objects.all():
        assert not any(t in str(row.data) + row.target_repr for t in (PRIVATE, RESTRICTED, NEED))


def test_the_database_columns_hold_no_clear_text(station_world):
    w = station_world
    consultation = booked_consultation(w)
    _summary, private, restricted = three_notes(w, consultation)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT body, body_sealed FROM guidance_note WHERE id IN (%s, %s)",
            [private.pk, restricted.pk],
        )
        rows = cursor.fetchall()
        cursor.execute(
            "SELECT need_sealed FROM guidance_consultation WHERE id = %s", [consultation.pk]
        )
        (need_sealed,) = cursor.fetchone()
    assert len(rows) == 2
    for body, sealed in rows:
        assert body == ""
        assert sealed and PRIVATE not in sealed and RESTRICTED not in sealed
    assert NEED not in need_sealed
    # the whole dump of the table: not a character of the texts
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(n)::text FROM guidance_note n")
        dump = " ".join(r[0] for r in cursor.fetchall())
    assert PRIVATE not in dump and RESTRICTED not in dump and SUMMARY in dump


def test_one_summary_edited_in_place_and_the_family_told_without_its_text(station_world):
    w = station_world
    consultation = booked_consultation(w)
    first = services.note_write(
        user=w.psych.user, consultation_id=consultation.pk, level="summary", body=SUMMARY
    )
    again = services.note_write(
        user=w.chief.user,
        consultation_id=consultation.pk,
        level="summary",
        body=SUMMARY + "（补充）",
    )
    same = services.note_write(
        user=w.chief.user,
        consultation_id=consultation.pk,
        level="summary",
        body=SUMMARY + "（补充）",
    )
    assert first.pk == again.pk == same.pk
    assert Note.objects.filter(consultation=consultation, level="summary").count() == 1
    notices = Notice.objects.filter(key__startswith=f"guidance.summary:{first.pk}:")
    assert sorted(notices.values_list("key", flat=True)) == [
        f"guidance.summary:{first.pk}:1",
        f"guidance.summary:{first.pk}:2",
    ]
    for notice in notices:
        assert notice.lead == "导师已更新咨询摘要，请登录查看。"
        assert SUMMARY not in notice.subject + notice.lead + notice.sms


def test_who_writes_and_bad_input(station_world):
    w = station_world
    consultation = booked_consultation(w)
    cid = consultation.pk
    for user, code in (
        (w.mum.user, "not_allowed"),
        (w.family_mentor.user, "consultation_missing"),
        (w.coordinator, "consultation_missing"),
        (w.other_mentor.user, "consultation_missing"),
    ):
        with pytest.raises(GuidanceError) as refused:
            services.note_write(user=user, consultation_id=cid, level="private", body="x")
        assert refused.value.code == code
    for level, body, code, field in (
        ("secret", "x", "note_level_invalid", "level"),
        ("private", "   ", "note_required", "body"),
        ("private", "字" * 5001, "note_too_long", "body"),
    ):
        with pytest.raises(GuidanceError) as refused:
            services.note_write(user=w.psych.user, consultation_id=cid, level=level, body=body)
        assert (refused.value.code, refused.value.field) == (code, field)
    assert not Note.objects.exists()


def test_only_the_author_edits_a_sealed_note(station_world):
    w = station_world
    consultation = booked_consultation(w)
    _s, private, _r = three_notes(w, consultation)
    edited = services.note_write(
        user=w.psych.user,
        consultation_id=consultation.pk,
        level="private",
        body=PRIVATE + "。已电话确认",
        note_id=private.pk,
    )
    assert edited.pk == private.pk
    assert services.note_read(user=w.chief.user, note=edited) == PRIVATE + "。已电话确认"
    with pytest.raises(GuidanceError) as refused:
        services.note_write(
            user=w.chief.user,
            consultation_id=consultation.pk,
            level="private",
            body="改写",
            note_id=private.pk,
        )
    assert refused.value.code == "note_missing"


def test_the_note_form_posts_through_the_service(station_world, client):
    w = station_world
    consultation = booked_consultation(w)
    client.force_login(w.psych.user)
    url = reverse("guidance:note_write", args=[consultation.pk])
    answer = client.post(url, {"level": "restricted", "body": RESTRICTED})
    assert answer.status_code == 302
    note = Note.objects.get(consultation=consultation)
    assert note.level == "restricted" and note.body == ""
    # bad input: a message, nothing written, no 500
    answer = client.post(url, {"level": "restricted", "body": ""}, follow=True)
    assert answer.status_code == 200 and "请填写记录内容" in answer.content.decode()
    assert Note.objects.count() == 1
    # a family posting a note: refused
    client.force_login(w.mum.user)
    answer = client.post(url, {"level": "summary", "body": "我想写"}, follow=True)
    assert Note.objects.count() == 1
    # someone who cannot see the consultation: 404
    client.force_login(w.dad.user)
    assert client.post(url, {"level": "summary", "body": "x"}).status_code == 404
